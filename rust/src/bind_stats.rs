//! Bindings of the `stats` kernels: argument checks, GIL release and numpy conversion only.
//! A kernel error about the caller's input becomes a `ValueError`, a forced engine or
//! instruction set this CPU lacks a `RuntimeError`, and buffers too large for the machine a
//! `MemoryError`. Results cross as small frozen classes with named fields, never as
//! positional tuples, so that the Python side reads them by name.

use std::borrow::Cow;

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::fields_repr;
use crate::stats::alternative::Alternative;
use crate::stats::bootstrap::{self, Interval, Method, Options};
use crate::stats::corr::CorrKind;
use crate::stats::engine::{Engine, Engines};
use crate::stats::multitest::{self, Adjust};
use crate::stats::{corr, ols_boot, permutation, StatsError};

fn value_error(e: StatsError) -> PyErr {
    match e {
        StatsError::Unavailable(_) => PyRuntimeError::new_err(e.to_string()),
        StatsError::TooLarge { .. } => PyMemoryError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Borrows a C-contiguous array's data, or copies it when the layout is anything else.
fn flat2<'a>(a: &'a PyReadonlyArray2<'_, f64>) -> Cow<'a, [f64]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

fn flat1<'a, T: numpy::Element + Copy>(a: &'a PyReadonlyArray1<'_, T>) -> Cow<'a, [T]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

/// Runs `f` without the GIL, on a dedicated pool of `threads` threads when given.
fn run<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    match threads {
        None => Ok(py.detach(f)),
        Some(0) => Err(PyValueError::new_err("threads must be at least 1")),
        Some(t) if t > rayon::max_num_threads() => Err(PyValueError::new_err(format!(
            "threads must be at most {}, got {t}",
            rayon::max_num_threads()
        ))),
        Some(t) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| PyValueError::new_err(format!("cannot start {t} threads: {e}")))?;
            Ok(py.detach(|| pool.install(f)))
        }
    }
}

/// Bootstrap options on the engines `VHFRAME_STATS_ENGINE` and `VHFRAME_STATS_ISA` choose
/// (read at each call).
fn options(n_resamples: usize, level: f64, method: &str, seed: u64) -> PyResult<Options> {
    Ok(Options {
        engines: Engines::from_env().map_err(value_error)?,
        ..one_engine_options(n_resamples, level, method, seed)?
    })
}

/// Bootstrap options for kernels with a single engine, which ignore the variables.
fn one_engine_options(
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
) -> PyResult<Options> {
    let method = match method {
        "percentile" => Method::Percentile,
        "bca" | "BCa" => Method::Bca,
        other => {
            return Err(PyValueError::new_err(format!(
                "method must be 'percentile' or 'bca', got {other:?}"
            )))
        }
    };
    Ok(Options {
        n_resamples,
        level,
        method,
        seed,
        engines: Engines::default(),
    })
}

// --- result classes

/// Which statistics engines a call would use now.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "StatsEngines")]
pub struct PyStatsEngines {
    /// the engine the correlation bootstraps try first: "tiles" or "gather"
    engine: &'static str,
    /// the instruction set of the floating-point kernels
    isa: &'static str,
}

#[pymethods]
impl PyStatsEngines {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(slf, "StatsEngines", &["engine", "isa"])
    }
}

/// A bootstrap interval: the statistic on the data, the interval's bounds and the standard
/// deviation of the bootstrap distribution.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "Interval")]
pub struct PyInterval {
    estimate: f64,
    low: f64,
    high: f64,
    se: f64,
}

#[pymethods]
impl PyInterval {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(slf, "Interval", &["estimate", "low", "high", "se"])
    }
}

impl From<Interval> for PyInterval {
    fn from(i: Interval) -> Self {
        PyInterval {
            estimate: i.estimate,
            low: i.lo,
            high: i.hi,
            se: i.se,
        }
    }
}

/// Least-squares fits of `m` responses: per-term arrays (m, p + 1), intercept first, and
/// per-response arrays (m,).
#[pyclass(frozen, get_all, module = "vhframe._core", name = "OlsFit")]
pub struct PyOlsFit {
    coef: Py<PyArray2<f64>>,
    se: Py<PyArray2<f64>>,
    t: Py<PyArray2<f64>>,
    p: Py<PyArray2<f64>>,
    r2: Py<PyArray1<f64>>,
    adj_r2: Py<PyArray1<f64>>,
    f: Py<PyArray1<f64>>,
    f_p: Py<PyArray1<f64>>,
    n: usize,
    df_resid: usize,
    df_model: usize,
}

#[pymethods]
impl PyOlsFit {
    /// The shapes and counts; the arrays are too long to show.
    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self.coef.bind(py).shape();
        format!(
            "OlsFit(responses={}, terms={}, n={}, df_resid={}, df_model={})",
            shape[0], shape[1], self.n, self.df_resid, self.df_model
        )
    }
}

/// An OLS fit with row-bootstrap intervals of every coefficient (arrays shaped like
/// `fit.coef`); `redrawn` counts resamples drawn again because their X was singular.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "OlsBootstrap")]
pub struct PyOlsBootstrap {
    fit: Py<PyOlsFit>,
    low: Py<PyArray2<f64>>,
    high: Py<PyArray2<f64>>,
    se: Py<PyArray2<f64>>,
    redrawn: usize,
}

#[pymethods]
impl PyOlsBootstrap {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(slf, "OlsBootstrap", &["fit", "redrawn"])
    }
}

/// A correlation coefficient and its p-value.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "Correlation")]
pub struct PyCorrelation {
    statistic: f64,
    pvalue: f64,
}

#[pymethods]
impl PyCorrelation {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(slf, "Correlation", &["statistic", "pvalue"])
    }
}

/// One bootstrap interval of the mean per group, each field an array (n_groups,).
#[pyclass(frozen, get_all, module = "vhframe._core", name = "GroupIntervals")]
pub struct PyGroupIntervals {
    n: Py<PyArray1<u64>>,
    estimate: Py<PyArray1<f64>>,
    low: Py<PyArray1<f64>>,
    high: Py<PyArray1<f64>>,
    se: Py<PyArray1<f64>>,
}

#[pymethods]
impl PyGroupIntervals {
    /// The number of groups; the arrays are too long to show.
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("GroupIntervals(groups={})", self.n.bind(py).len())
    }
}

/// RealToxicityPrompts metrics: intervals of the expected maximum toxicity and of the
/// toxicity probability, and the number of prompts resampled.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "Toxicity")]
pub struct PyToxicity {
    expected_max: Py<PyInterval>,
    probability: Py<PyInterval>,
    n_prompts: usize,
}

#[pymethods]
impl PyToxicity {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(
            slf,
            "Toxicity",
            &["expected_max", "probability", "n_prompts"],
        )
    }
}

fn toxicity(py: Python<'_>, t: bootstrap::Toxicity) -> PyResult<PyToxicity> {
    Ok(PyToxicity {
        expected_max: Py::new(py, PyInterval::from(t.expected_max))?,
        probability: Py::new(py, PyInterval::from(t.probability))?,
        n_prompts: t.n_prompts,
    })
}

/// A permutation test: the statistic, its p-value, the size of the null distribution and
/// whether every rearrangement was enumerated.
#[pyclass(frozen, get_all, module = "vhframe._core", name = "PermutationTest")]
pub struct PyPermutationTest {
    statistic: f64,
    pvalue: f64,
    n_resamples: usize,
    exact: bool,
}

#[pymethods]
impl PyPermutationTest {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let fields = ["statistic", "pvalue", "n_resamples", "exact"];
        fields_repr(slf, "PermutationTest", &fields)
    }
}

impl From<permutation::PermTest> for PyPermutationTest {
    fn from(t: permutation::PermTest) -> Self {
        PyPermutationTest {
            statistic: t.statistic,
            pvalue: t.p,
            n_resamples: t.n_resamples,
            exact: t.exact,
        }
    }
}

// --- functions

/// The engine the correlation bootstraps try first ("tiles", taken where it accepts the data,
/// or "gather") and the instruction set of the floating-point kernels, as `VHFRAME_STATS_ENGINE`
/// and `VHFRAME_STATS_ISA` choose them now; raises as a bootstrap would on a path this CPU
/// lacks.
#[pyfunction]
fn _stats_engines() -> PyResult<PyStatsEngines> {
    let e = Engines::from_env().map_err(value_error)?;
    let engine = match e.engine {
        Engine::Auto if crate::stats::tiles::available() => "tiles",
        Engine::Auto => "gather",
        other => other.name(),
    };
    Ok(PyStatsEngines {
        engine,
        isa: e.isa.name(),
    })
}

fn ols_shapes(
    x: &PyReadonlyArray2<'_, f64>,
    y: &PyReadonlyArray2<'_, f64>,
    names: &Option<Vec<String>>,
) -> PyResult<(usize, usize, usize)> {
    let (n, p) = (x.shape()[0], x.shape()[1]);
    let (ny, m) = (y.shape()[0], y.shape()[1]);
    if ny != n {
        return Err(PyValueError::new_err(format!(
            "X has {n} rows but Y has {ny}: they must describe the same observations"
        )));
    }
    if let Some(ns) = names {
        if ns.len() != p {
            return Err(PyValueError::new_err(format!(
                "names has {} entries but X has {p} columns",
                ns.len()
            )));
        }
    }
    Ok((n, p, m))
}

/// A (rows, cols) matrix of `v`, handed to numpy without copying.
fn matrix(py: Python<'_>, rows: usize, cols: usize, v: Vec<f64>) -> Py<PyArray2<f64>> {
    Array2::from_shape_vec((rows, cols), v)
        .expect("the kernels return rows * cols values")
        .into_pyarray(py)
        .unbind()
}

fn vector<T: numpy::Element>(py: Python<'_>, v: Vec<T>) -> Py<PyArray1<T>> {
    v.into_pyarray(py).unbind()
}

fn ols_out(py: Python<'_>, fit: crate::stats::ols::OlsFit) -> PyOlsFit {
    let (m, k) = (fit.m, fit.p + 1);
    PyOlsFit {
        coef: matrix(py, m, k, fit.coef),
        se: matrix(py, m, k, fit.se),
        t: matrix(py, m, k, fit.t),
        p: matrix(py, m, k, fit.p_value),
        r2: vector(py, fit.r2),
        adj_r2: vector(py, fit.adj_r2),
        f: vector(py, fit.f),
        f_p: vector(py, fit.f_p),
        n: fit.n,
        df_resid: fit.df_resid,
        df_model: fit.df_model,
    }
}

/// OLS with intercept of every column of `y` (n, m) on `x` (n, p); per-term arrays of the
/// result are (m, p + 1).
#[pyfunction]
#[pyo3(signature = (x, y, names=None))]
fn ols<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    names: Option<Vec<String>>,
) -> PyResult<PyOlsFit> {
    let (n, p, m) = ols_shapes(&x, &y, &names)?;
    let (xs, ys) = (flat2(&x), flat2(&y));
    let (xs, ys, names) = (&*xs, &*ys, names.as_deref());
    let fit = py
        .detach(|| crate::stats::ols::ols(xs, ys, n, p, m, names))
        .map_err(value_error)?;
    Ok(ols_out(py, fit))
}

/// Row-bootstrap intervals of every OLS coefficient, with the fit.
#[pyfunction]
#[pyo3(signature = (x, y, names, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_ols<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    names: Option<Vec<String>>,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyOlsBootstrap> {
    let (n, p, m) = ols_shapes(&x, &y, &names)?;
    let o = one_engine_options(n_resamples, level, method, seed)?;
    let (xs, ys) = (flat2(&x), flat2(&y));
    let (xs, ys, names) = (&*xs, &*ys, names.as_deref());
    let r = run(py, threads, || {
        ols_boot::ols_bootstrap(xs, ys, n, p, m, names, &o)
    })?
    .map_err(value_error)?;
    let k = p + 1;
    Ok(PyOlsBootstrap {
        fit: Py::new(py, ols_out(py, r.fit))?,
        low: matrix(py, m, k, r.lo),
        high: matrix(py, m, k, r.hi),
        se: matrix(py, m, k, r.se),
        redrawn: r.redrawn,
    })
}

macro_rules! corr_fn {
    ($name:ident, $kernel:path, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (x, y, alternative="two-sided"))]
        fn $name(
            py: Python<'_>,
            x: PyReadonlyArray1<'_, f64>,
            y: PyReadonlyArray1<'_, f64>,
            alternative: &str,
        ) -> PyResult<PyCorrelation> {
            let alt = Alternative::parse(alternative).map_err(value_error)?;
            let (xs, ys) = (flat1(&x), flat1(&y));
            let (xs, ys) = (&*xs, &*ys);
            let c = py.detach(|| $kernel(xs, ys, alt)).map_err(value_error)?;
            Ok(PyCorrelation {
                statistic: c.r,
                pvalue: c.p,
            })
        }
    };
}

corr_fn!(
    pearson,
    corr::pearson,
    "Pearson r and its p-value for `alternative`."
);
corr_fn!(
    spearman,
    corr::spearman,
    "Spearman rho (average ranks for ties) and its p-value for `alternative`."
);
corr_fn!(
    kendall,
    corr::kendall_tau_b,
    "Kendall tau-b and its p-value for `alternative`."
);

/// Adjusted p-values: method "bh" (Benjamini–Hochberg), "holm" or "bonferroni".
#[pyfunction]
fn adjust_pvalues<'py>(
    py: Python<'py>,
    p: PyReadonlyArray1<'py, f64>,
    method: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = match method {
        "bh" | "fdr_bh" => Adjust::BenjaminiHochberg,
        "holm" => Adjust::Holm,
        "bonferroni" => Adjust::Bonferroni,
        other => {
            return Err(PyValueError::new_err(format!(
                "method must be 'bh', 'holm' or 'bonferroni', got {other:?}"
            )))
        }
    };
    let ps = flat1(&p);
    Ok(multitest::adjust(&ps, m)
        .map_err(value_error)?
        .into_pyarray(py))
}

/// Bootstrap interval of a mean.
#[pyfunction]
#[pyo3(signature = (x, n_resamples, level, method, seed, threads=None))]
fn bootstrap_mean(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyInterval> {
    let o = options(n_resamples, level, method, seed)?;
    let xs = flat1(&x);
    let xs = &*xs;
    Ok(run(py, threads, || bootstrap::mean_ci(xs, &o))?
        .map_err(value_error)?
        .into())
}

/// Bootstrap interval of a proportion of 0/1 values.
#[pyfunction]
#[pyo3(signature = (x, n_resamples, level, method, seed, threads=None))]
fn bootstrap_proportion(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyInterval> {
    let o = options(n_resamples, level, method, seed)?;
    let xs = flat1(&x);
    let xs = &*xs;
    Ok(run(py, threads, || bootstrap::proportion_ci(xs, &o))?
        .map_err(value_error)?
        .into())
}

/// Bootstrap interval of mean(x) - mean(y).
#[pyfunction]
#[pyo3(signature = (x, y, paired, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_diff_means(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    paired: bool,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyInterval> {
    let o = options(n_resamples, level, method, seed)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    Ok(
        run(py, threads, || bootstrap::diff_means_ci(xs, ys, paired, &o))?
            .map_err(value_error)?
            .into(),
    )
}

/// One bootstrap interval of the mean per group.
#[pyfunction]
#[pyo3(signature = (values, codes, n_groups, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_groups<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    codes: PyReadonlyArray1<'py, u32>,
    n_groups: usize,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyGroupIntervals> {
    let o = options(n_resamples, level, method, seed)?;
    let (vs, cs) = (flat1(&values), flat1(&codes));
    let (vs, cs) = (&*vs, &*cs);
    let rows = run(py, threads, || {
        bootstrap::grouped_mean_ci(vs, cs, n_groups, &o)
    })?
    .map_err(value_error)?;
    let n: Vec<u64> = rows.iter().map(|r| r.0 as u64).collect();
    let pick = |f: fn(&Interval) -> f64| vector(py, rows.iter().map(|r| f(&r.1)).collect());
    Ok(PyGroupIntervals {
        n: vector(py, n),
        estimate: pick(|i| i.estimate),
        low: pick(|i| i.lo),
        high: pick(|i| i.hi),
        se: pick(|i| i.se),
    })
}

/// RealToxicityPrompts metrics from a (prompts, samples) matrix.
#[pyfunction]
#[pyo3(signature = (scores, threshold, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn toxicity_matrix(
    py: Python<'_>,
    scores: PyReadonlyArray2<'_, f64>,
    threshold: f64,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyToxicity> {
    let o = options(n_resamples, level, method, seed)?;
    let samples = scores.shape()[1];
    let s = flat2(&scores);
    let s = &*s;
    let t = run(py, threads, || {
        bootstrap::row_max(s, samples).and_then(|m| bootstrap::toxicity_ci(&m, threshold, &o))
    })?
    .map_err(value_error)?;
    toxicity(py, t)
}

/// RealToxicityPrompts metrics from flat scores and dense prompt codes.
#[pyfunction]
#[pyo3(signature = (scores, codes, n_prompts, threshold, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn toxicity_groups(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    codes: PyReadonlyArray1<'_, u32>,
    n_prompts: usize,
    threshold: f64,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyToxicity> {
    let o = options(n_resamples, level, method, seed)?;
    let (s, c) = (flat1(&scores), flat1(&codes));
    let (s, c) = (&*s, &*c);
    let t = run(py, threads, || {
        bootstrap::group_max(s, c, n_prompts)
            .and_then(|m| bootstrap::toxicity_ci(&m, threshold, &o))
    })?
    .map_err(value_error)?;
    toxicity(py, t)
}

/// Bootstrap interval of a correlation ("pearson", "spearman" or "kendall"), pairs resampled
/// together.
#[pyfunction]
#[pyo3(signature = (x, y, kind, n_resamples, level, method, seed, threads=None))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_corr(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    kind: &str,
    n_resamples: usize,
    level: f64,
    method: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<PyInterval> {
    let o = options(n_resamples, level, method, seed)?;
    let kind = CorrKind::parse(kind).map_err(value_error)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    Ok(run(py, threads, || bootstrap::corr_ci(xs, ys, kind, &o))?
        .map_err(value_error)?
        .into())
}

/// Permutation test of a correlation ("pearson", "spearman" or "kendall").
#[pyfunction]
#[pyo3(signature = (x, y, kind, n_resamples, seed, alternative="two-sided", threads=None))]
#[allow(clippy::too_many_arguments)]
fn permutation_corr(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    kind: &str,
    n_resamples: usize,
    seed: u64,
    alternative: &str,
    threads: Option<usize>,
) -> PyResult<PyPermutationTest> {
    let kind = CorrKind::parse(kind).map_err(value_error)?;
    let alt = Alternative::parse(alternative).map_err(value_error)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    let t = run(py, threads, || {
        permutation::corr_test(xs, ys, kind, n_resamples, seed, alt)
    })?
    .map_err(value_error)?;
    Ok(t.into())
}

/// Permutation test of mean(x) - mean(y): labels permuted between independent samples, or
/// signs of the differences flipped when `paired`.
#[pyfunction]
#[pyo3(signature = (x, y, n_resamples, seed, paired=false, alternative="two-sided", threads=None))]
#[allow(clippy::too_many_arguments)]
fn permutation_diff_means(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    n_resamples: usize,
    seed: u64,
    paired: bool,
    alternative: &str,
    threads: Option<usize>,
) -> PyResult<PyPermutationTest> {
    let alt = Alternative::parse(alternative).map_err(value_error)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    let t = run(py, threads, || {
        if paired {
            permutation::paired_test(xs, ys, n_resamples, seed, alt)
        } else {
            permutation::diff_means_test(xs, ys, n_resamples, seed, alt)
        }
    })?
    .map_err(value_error)?;
    Ok(t.into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_THREADS", rayon::max_num_threads())?;
    m.add_class::<PyStatsEngines>()?;
    m.add_class::<PyInterval>()?;
    m.add_class::<PyOlsFit>()?;
    m.add_class::<PyOlsBootstrap>()?;
    m.add_class::<PyCorrelation>()?;
    m.add_class::<PyGroupIntervals>()?;
    m.add_class::<PyToxicity>()?;
    m.add_class::<PyPermutationTest>()?;
    m.add_function(wrap_pyfunction!(_stats_engines, m)?)?;
    m.add_function(wrap_pyfunction!(ols, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_ols, m)?)?;
    m.add_function(wrap_pyfunction!(pearson, m)?)?;
    m.add_function(wrap_pyfunction!(spearman, m)?)?;
    m.add_function(wrap_pyfunction!(kendall, m)?)?;
    m.add_function(wrap_pyfunction!(adjust_pvalues, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_mean, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_proportion, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_diff_means, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_groups, m)?)?;
    m.add_function(wrap_pyfunction!(toxicity_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(toxicity_groups, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_corr, m)?)?;
    m.add_function(wrap_pyfunction!(permutation_corr, m)?)?;
    m.add_function(wrap_pyfunction!(permutation_diff_means, m)?)?;
    Ok(())
}
