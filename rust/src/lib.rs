//! Python bindings of the vhframe core: argument checks, GIL release and conversion only.
//! The kernels live in `scan` and `stats`, which know nothing of Python.

use pyo3::prelude::*;

mod bind_scan;
mod bind_stats;
pub mod scan;
pub mod stats;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    bind_stats::register(m)?;
    bind_scan::register(m)?;
    Ok(())
}
