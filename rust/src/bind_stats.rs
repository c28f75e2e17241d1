//! Bindings of the `stats` kernels: argument checks, GIL release and numpy conversion only.
//! A kernel error about the caller's input becomes a `ValueError`, a forced engine or
//! instruction set this CPU lacks a `RuntimeError`, and buffers too large for the machine a
//! `MemoryError`.

use std::borrow::Cow;

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

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

/// The engine the correlation bootstraps try first ("tiles", taken where it accepts the data,
/// or "gather") and the instruction set of the floating-point kernels, as `VHFRAME_STATS_ENGINE`
/// and `VHFRAME_STATS_ISA` choose them now; raises as a bootstrap would on a path this CPU
/// lacks.
#[pyfunction]
fn _stats_engines() -> PyResult<(&'static str, &'static str)> {
    let e = Engines::from_env().map_err(value_error)?;
    let engine = match e.engine {
        Engine::Auto if crate::stats::tiles::available() => "tiles",
        Engine::Auto => "gather",
        other => other.name(),
    };
    Ok((engine, e.isa.name()))
}

type Ci = (f64, f64, f64, f64);

type OlsBootOut<'py> = (
    OlsOut<'py>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    usize,
);

fn ci(i: Interval) -> Ci {
    (i.estimate, i.lo, i.hi, i.se)
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

fn ols_out(py: Python<'_>, fit: crate::stats::ols::OlsFit) -> OlsOut<'_> {
    let (m, k) = (fit.m, fit.p + 1);
    let mat = |v: Vec<f64>| {
        Array2::from_shape_vec((m, k), v)
            .expect("shape")
            .into_pyarray(py)
    };
    (
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
    )
}

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
    let (n, p, m) = ols_shapes(&x, &y, &names)?;
    let (xs, ys) = (flat2(&x), flat2(&y));
    let (xs, ys, names) = (&*xs, &*ys, names.as_deref());
    let fit = py
        .detach(|| crate::stats::ols::ols(xs, ys, n, p, m, names))
        .map_err(value_error)?;
    Ok(ols_out(py, fit))
}

/// Row-bootstrap intervals of every OLS coefficient: (fit..., lo, hi, boot_se, redrawn).
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
) -> PyResult<OlsBootOut<'py>> {
    let (n, p, m) = ols_shapes(&x, &y, &names)?;
    let o = one_engine_options(n_resamples, level, method, seed)?;
    let (xs, ys) = (flat2(&x), flat2(&y));
    let (xs, ys, names) = (&*xs, &*ys, names.as_deref());
    let r = run(py, threads, || {
        ols_boot::ols_bootstrap(xs, ys, n, p, m, names, &o)
    })?
    .map_err(value_error)?;
    let k = p + 1;
    let mat = |v: Vec<f64>| {
        Array2::from_shape_vec((m, k), v)
            .expect("shape")
            .into_pyarray(py)
    };
    Ok((
        ols_out(py, r.fit),
        mat(r.lo),
        mat(r.hi),
        mat(r.se),
        r.redrawn,
    ))
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
        ) -> PyResult<(f64, f64)> {
            let alt = Alternative::parse(alternative).map_err(value_error)?;
            let (xs, ys) = (flat1(&x), flat1(&y));
            let (xs, ys) = (&*xs, &*ys);
            let c = py.detach(|| $kernel(xs, ys, alt)).map_err(value_error)?;
            Ok((c.r, c.p))
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

/// Bootstrap interval of a mean: (estimate, lo, hi, se).
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
) -> PyResult<Ci> {
    let o = options(n_resamples, level, method, seed)?;
    let xs = flat1(&x);
    let xs = &*xs;
    Ok(ci(
        run(py, threads, || bootstrap::mean_ci(xs, &o))?.map_err(value_error)?
    ))
}

/// Bootstrap interval of a proportion of 0/1 values: (estimate, lo, hi, se).
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
) -> PyResult<Ci> {
    let o = options(n_resamples, level, method, seed)?;
    let xs = flat1(&x);
    let xs = &*xs;
    Ok(ci(
        run(py, threads, || bootstrap::proportion_ci(xs, &o))?.map_err(value_error)?
    ))
}

/// Bootstrap interval of mean(x) - mean(y): (estimate, lo, hi, se).
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
) -> PyResult<Ci> {
    let o = options(n_resamples, level, method, seed)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    Ok(ci(run(py, threads, || {
        bootstrap::diff_means_ci(xs, ys, paired, &o)
    })?
    .map_err(value_error)?))
}

type GroupOut<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

/// One bootstrap interval of the mean per group: (n, estimate, lo, hi, se), each (n_groups,).
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
) -> PyResult<GroupOut<'py>> {
    let o = options(n_resamples, level, method, seed)?;
    let (vs, cs) = (flat1(&values), flat1(&codes));
    let (vs, cs) = (&*vs, &*cs);
    let rows = run(py, threads, || {
        bootstrap::grouped_mean_ci(vs, cs, n_groups, &o)
    })?
    .map_err(value_error)?;
    let n: Vec<u64> = rows.iter().map(|r| r.0 as u64).collect();
    let pick = |f: fn(&Interval) -> f64| {
        rows.iter()
            .map(|r| f(&r.1))
            .collect::<Vec<f64>>()
            .into_pyarray(py)
    };
    Ok((
        n.into_pyarray(py),
        pick(|i| i.estimate),
        pick(|i| i.lo),
        pick(|i| i.hi),
        pick(|i| i.se),
    ))
}

/// RealToxicityPrompts metrics from a (prompts, samples) matrix: (emt ci, tp ci, n_prompts).
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
) -> PyResult<(Ci, Ci, usize)> {
    let o = options(n_resamples, level, method, seed)?;
    let samples = scores.shape()[1];
    let s = flat2(&scores);
    let s = &*s;
    let t = run(py, threads, || {
        bootstrap::row_max(s, samples).and_then(|m| bootstrap::toxicity_ci(&m, threshold, &o))
    })?
    .map_err(value_error)?;
    Ok((ci(t.expected_max), ci(t.probability), t.n_prompts))
}

/// RealToxicityPrompts metrics from flat scores and dense prompt codes: (emt ci, tp ci, n_prompts).
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
) -> PyResult<(Ci, Ci, usize)> {
    let o = options(n_resamples, level, method, seed)?;
    let (s, c) = (flat1(&scores), flat1(&codes));
    let (s, c) = (&*s, &*c);
    let t = run(py, threads, || {
        bootstrap::group_max(s, c, n_prompts)
            .and_then(|m| bootstrap::toxicity_ci(&m, threshold, &o))
    })?
    .map_err(value_error)?;
    Ok((ci(t.expected_max), ci(t.probability), t.n_prompts))
}

/// Bootstrap interval of a correlation ("pearson", "spearman" or "kendall"), pairs resampled
/// together: (estimate, lo, hi, se).
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
) -> PyResult<Ci> {
    let o = options(n_resamples, level, method, seed)?;
    let kind = CorrKind::parse(kind).map_err(value_error)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    Ok(ci(run(py, threads, || {
        bootstrap::corr_ci(xs, ys, kind, &o)
    })?
    .map_err(value_error)?))
}

/// Permutation test of a correlation ("pearson", "spearman" or "kendall"):
/// (statistic, p, null size, exact).
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
) -> PyResult<(f64, f64, usize, bool)> {
    let kind = CorrKind::parse(kind).map_err(value_error)?;
    let alt = Alternative::parse(alternative).map_err(value_error)?;
    let (xs, ys) = (flat1(&x), flat1(&y));
    let (xs, ys) = (&*xs, &*ys);
    let t = run(py, threads, || {
        permutation::corr_test(xs, ys, kind, n_resamples, seed, alt)
    })?
    .map_err(value_error)?;
    Ok((t.statistic, t.p, t.n_resamples, t.exact))
}

/// Permutation test of mean(x) - mean(y): labels permuted between independent samples, or
/// signs of the differences flipped when `paired`: (diff, p, null size, exact).
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
) -> PyResult<(f64, f64, usize, bool)> {
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
    Ok((t.statistic, t.p, t.n_resamples, t.exact))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_THREADS", rayon::max_num_threads())?;
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
