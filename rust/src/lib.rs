//! Python bindings of the vhframe core: argument checks, GIL release and conversion only.
//! The kernels live in `scan` and `stats`, which know nothing of Python.

use pyo3::prelude::*;

mod bind_scan;
mod bind_stats;
pub mod scan;
pub mod stats;

/// `Name(field=value, ...)` for a result class, each value shown by Python's own `repr`, so
/// that floats, strings and None read as they would in Python.
pub(crate) fn fields_repr(obj: &Bound<'_, PyAny>, name: &str, fields: &[&str]) -> PyResult<String> {
    let mut parts = Vec::with_capacity(fields.len());
    for f in fields {
        parts.push(format!("{f}={}", obj.getattr(*f)?.repr()?));
    }
    Ok(format!("{name}({})", parts.join(", ")))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    bind_stats::register(m)?;
    bind_scan::register(m)?;
    Ok(())
}
