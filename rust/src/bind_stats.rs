//! Bindings of the `stats` kernels: argument checks, GIL release and numpy conversion only.
//! Every kernel error is a problem with the caller's input and becomes a `ValueError`.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::stats::{self, StatsError};

fn value_error(e: StatsError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Borrows a C-contiguous array's data, or copies it when the layout is anything else.
fn contiguous2<'a>(a: &'a PyReadonlyArray2<'_, f64>) -> std::borrow::Cow<'a, [f64]> {
    match a.as_slice() {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

type OlsOut<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    usize,
    usize,
    usize,
);

/// OLS with intercept of every column of `y` (n, m) on `x` (n, p). Returns
/// (coef, se, t, p, r2, adj_r2, f, f_p, n, df_resid, df_model); per-term arrays are (m, p + 1).
#[pyfunction]
#[pyo3(signature = (x, y, names=None))]
fn ols<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    names: Option<Vec<String>>,
) -> PyResult<OlsOut<'py>> {
    let (n, p) = (x.shape()[0], x.shape()[1]);
    let (ny, m) = (y.shape()[0], y.shape()[1]);
    if ny != n {
        return Err(PyValueError::new_err(format!(
            "X has {n} rows but Y has {ny}: they must describe the same observations"
        )));
    }
    if let Some(ns) = &names {
        if ns.len() != p {
            return Err(PyValueError::new_err(format!(
                "names has {} entries but X has {p} columns",
                ns.len()
            )));
        }
    }
    let xs = contiguous2(&x);
    let ys = contiguous2(&y);
    let (xs, ys, names) = (&*xs, &*ys, names.as_deref());
    let fit = py
        .detach(|| stats::ols::ols(xs, ys, n, p, m, names))
        .map_err(value_error)?;
    let k = p + 1;
    let mat = |v: Vec<f64>| {
        Array2::from_shape_vec((m, k), v)
            .expect("shape")
            .into_pyarray(py)
    };
    Ok((
        mat(fit.coef),
        mat(fit.se),
        mat(fit.t),
        mat(fit.p_value),
        fit.r2.into_pyarray(py),
        fit.adj_r2.into_pyarray(py),
        fit.f.into_pyarray(py),
        fit.f_p.into_pyarray(py),
        fit.n,
        fit.df_resid,
        fit.df_model,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ols, m)?)?;
    Ok(())
}
