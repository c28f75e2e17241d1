//! Bindings of the `scan` kernels: argument checks, GIL release and conversion. Results
//! cross as frozen classes with named fields.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::fields_repr;
use crate::scan::{self, ArrowTexts, Matcher, Offset, Pattern, Scores, Texts};

/// Compiled lexicons: built once, then shared by every scan call.
#[pyclass(frozen, module = "vhframe._core", name = "ScanMatcher")]
pub struct PyScanMatcher {
    inner: Matcher,
}

#[pymethods]
impl PyScanMatcher {
    /// `skip_weak[l]`: leave out lexicon `l`'s weak phrases (bare numbers and single
    /// characters, see `scan_pattern`); default false for every lexicon.
    #[new]
    #[pyo3(signature = (lexicons, skip_weak = None))]
    fn new(lexicons: Vec<Vec<String>>, skip_weak: Option<Vec<bool>>) -> PyResult<Self> {
        let skip = skip_weak.unwrap_or_default();
        if skip.len() > lexicons.len() {
            return Err(PyValueError::new_err(format!(
                "skip_weak has {} entries for {} lexicons",
                skip.len(),
                lexicons.len()
            )));
        }
        Matcher::with_options(&lexicons, &skip)
            .map(|inner| PyScanMatcher { inner })
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[getter]
    fn n_lexicons(&self) -> usize {
        self.inner.n_lexicons()
    }

    #[getter]
    fn vocabulary_size(&self) -> usize {
        self.inner.vocabulary_size()
    }
}

/// Runs `f` on a pool of `threads` workers, or on the global pool when `threads` is None.
fn in_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    match threads {
        None => Ok(f()),
        Some(0) => Err(PyValueError::new_err("threads must be at least 1")),
        Some(k) if k > rayon::max_num_threads() => Err(PyValueError::new_err(format!(
            "threads must be at most {}, got {k}",
            rayon::max_num_threads()
        ))),
        Some(k) => rayon::ThreadPoolBuilder::new()
            .num_threads(k)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| PyValueError::new_err(format!("cannot start {k} threads: {e}"))),
    }
}

/// Scores of texts against lexicons: int64 arrays of shape (lexicons, texts).
#[pyclass(frozen, get_all, module = "vhframe._core", name = "ScanScores")]
pub struct PyScanScores {
    /// non-overlapping occurrences, leftmost-longest
    count: Py<PyArray2<i64>>,
    /// token index where the earliest match starts, -1 when none
    first: Py<PyArray2<i64>>,
}

#[pymethods]
impl PyScanScores {
    /// The shape; the arrays are too long to show.
    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self.count.bind(py).shape();
        format!("ScanScores(lexicons={}, texts={})", shape[0], shape[1])
    }
}

/// How a phrase matches: its tokens; its gaps (before the first token, between tokens,
/// after the last), each None for any boundary or the folded symbols the text must have
/// there; and whether it is weak (no literal gap, only numbers or single characters).
#[pyclass(frozen, get_all, module = "vhframe._core", name = "PhrasePattern")]
pub struct PyPhrasePattern {
    tokens: Vec<String>,
    gaps: Vec<Option<String>>,
    weak: bool,
}

#[pymethods]
impl PyPhrasePattern {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        fields_repr(slf, "PhrasePattern", &["tokens", "gaps", "weak"])
    }
}

/// Hands the score vectors to numpy without copying, shaped (lexicons, texts).
fn to_arrays(py: Python<'_>, s: Scores) -> PyResult<PyScanScores> {
    let shape = [s.n_lexicons, s.n_texts];
    let count = PyArray1::from_vec(py, s.count).reshape(shape)?;
    let first = PyArray1::from_vec(py, s.first).reshape(shape)?;
    Ok(PyScanScores {
        count: count.unbind(),
        first: first.unbind(),
    })
}

fn score<'py, T: Texts + ?Sized>(
    py: Python<'py>,
    matcher: &Bound<'py, PyScanMatcher>,
    texts: &T,
    threads: Option<usize>,
) -> PyResult<PyScanScores> {
    let m = &matcher.get().inner;
    let scores = py.detach(|| in_pool(threads, || scan::scan(m, texts)))?;
    to_arrays(py, scores)
}

type ItemFn = unsafe extern "C" fn(*mut pyo3::ffi::PyObject, isize) -> *mut pyo3::ffi::PyObject;

/// How many items ahead `scan_texts` prefetches string headers.
const AHEAD: usize = 8;

/// Hints the header of a Python object into the cache; a no-op off x86_64.
#[inline(always)]
fn prefetch_object(p: *mut pyo3::ffi::PyObject) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // a prefetch never faults, whatever the address
        unsafe { _mm_prefetch(p as *const i8, _MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Scores a list or tuple of `str` (None counts as an empty text). The strings' UTF-8 is read
/// in place.
#[pyfunction]
#[pyo3(signature = (matcher, texts, threads = None))]
fn scan_texts<'py>(
    py: Python<'py>,
    matcher: &Bound<'py, PyScanMatcher>,
    texts: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<PyScanScores> {
    // owned references keep every string alive (and its UTF-8 in place) while the GIL is
    // released, even if another thread mutates the list meanwhile
    let (n, get): (usize, ItemFn) = if let Ok(list) = texts.cast::<PyList>() {
        (list.len(), pyo3::ffi::PyList_GetItem)
    } else if let Ok(tuple) = texts.cast::<PyTuple>() {
        (tuple.len(), pyo3::ffi::PyTuple_GetItem)
    } else {
        return Err(PyTypeError::new_err(format!(
            "texts must be a list or tuple of str, not {}",
            texts.get_type().name()?
        )));
    };
    let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(n);
    let mut bytes: Vec<&[u8]> = Vec::with_capacity(n);
    // one pass over the strings, asking for each object's header a few items ahead: the
    // strings of a large list lie scattered in memory, and reading their headers one by
    // one, each a cache miss, would otherwise cost about as much as scoring them
    for i in 0..n {
        if i + AHEAD < n {
            // SAFETY: a borrowed reference from the list or tuple, which `texts` keeps
            // alive; it is only prefetched, never dereferenced here
            prefetch_object(unsafe { get(texts.as_ptr(), (i + AHEAD) as isize) });
        }
        // SAFETY: `i` is below the length read above and the GIL is held; a null (the
        // container shrank meanwhile through another thread's code) is an error, not UB
        let item = unsafe { Bound::from_borrowed_ptr_or_err(py, get(texts.as_ptr(), i as isize)) }?;
        if item.is_none() {
            bytes.push(&[]);
        } else {
            let s = item.cast::<PyString>().map_err(|_| {
                let ty = item
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "?".into());
                PyTypeError::new_err(format!("texts[{i}] is {ty}, expected str or None"))
            })?;
            let utf8 = s.to_str()?.as_bytes();
            // SAFETY: the UTF-8 of a str lives as long as the str, which `items` holds until
            // this function returns, after scoring; detaching the slice's lifetime from the
            // borrow of `item` lets the conversion happen in the same pass as the prefetch
            bytes.push(unsafe { std::slice::from_raw_parts(utf8.as_ptr(), utf8.len()) });
        }
        items.push(item);
    }
    score(py, matcher, bytes.as_slice(), threads)
}

fn arrow<'py, O: Offset + numpy::Element>(
    py: Python<'py>,
    matcher: &Bound<'py, PyScanMatcher>,
    offsets: PyReadonlyArray1<'py, O>,
    data: &PyReadonlyArray1<'py, u8>,
    validity: &Option<PyReadonlyArray1<'py, u8>>,
    validity_offset: usize,
    threads: Option<usize>,
) -> PyResult<PyScanScores> {
    let offsets = offsets.as_slice()?;
    let data = data.as_slice()?;
    let validity = match validity {
        Some(v) => Some((v.as_slice()?, validity_offset)),
        None => None,
    };
    let texts = ArrowTexts::new(offsets, data, validity)
        .map_err(|e| PyValueError::new_err(format!("malformed Arrow string array: {e}")))?;
    score(py, matcher, &texts, threads)
}

/// Scores an Arrow string array given by its buffers, read in place: `offsets` (int32 for
/// `string`, int64 for `large_string`, already sliced to the array's offset and length + 1),
/// `data` (uint8) and the optional validity bitmap with the bit index of the first element.
/// Null entries count as empty texts.
#[pyfunction]
#[pyo3(signature = (matcher, offsets, data, validity = None, validity_offset = 0, threads = None))]
fn scan_arrow<'py>(
    py: Python<'py>,
    matcher: &Bound<'py, PyScanMatcher>,
    offsets: &Bound<'py, PyAny>,
    data: PyReadonlyArray1<'py, u8>,
    validity: Option<PyReadonlyArray1<'py, u8>>,
    validity_offset: usize,
    threads: Option<usize>,
) -> PyResult<PyScanScores> {
    if let Ok(o) = offsets.extract::<PyReadonlyArray1<'py, i32>>() {
        arrow(py, matcher, o, &data, &validity, validity_offset, threads)
    } else if let Ok(o) = offsets.extract::<PyReadonlyArray1<'py, i64>>() {
        arrow(py, matcher, o, &data, &validity, validity_offset, threads)
    } else {
        Err(PyTypeError::new_err(
            "offsets must be a one-dimensional int32 or int64 numpy array",
        ))
    }
}

/// The normalised tokens of `text`, as the scanner sees them.
#[pyfunction]
fn scan_tokenize(text: &str) -> Vec<String> {
    scan::tokenize(text)
}

/// How a phrase matches.
#[pyfunction]
fn scan_pattern(phrase: &str) -> PyPhrasePattern {
    let p = Pattern::new(phrase.as_bytes());
    let weak = p.is_weak();
    let tokens = p
        .tokens
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    PyPhrasePattern {
        tokens,
        gaps: p.gaps,
        weak,
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScanMatcher>()?;
    m.add_class::<PyScanScores>()?;
    m.add_class::<PyPhrasePattern>()?;
    m.add_function(wrap_pyfunction!(scan_texts, m)?)?;
    m.add_function(wrap_pyfunction!(scan_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(scan_tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(scan_pattern, m)?)?;
    m.add("SCAN_UNICODE_VERSION", scan::UNICODE_VERSION)?;
    Ok(())
}
