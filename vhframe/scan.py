"""Tokenised phrase scoring: refusal phrases, profanity and other lexicons over many texts.

A text is cut into tokens and each lexicon phrase matches whole tokens only, so "therapist"
never matches "the rapist" (nor the other way round) and "I cannot" matches "i  CANNOT,".

Normalisation, the same for texts and phrases:

- word characters are Unicode letters, marks and numbers (general categories L, M, N);
  everything else (punctuation, symbols, spaces, ``_``) is a token boundary;
- word characters are case folded as by ``str.casefold()``: "STRASSE", "Straße" and
  "strasse" are the same token. There are no locale rules: Turkish "İ" folds to "i̇" (i plus
  a combining dot) and dotless "ı" stays "ı", so neither matches a plain "i". No NFC/NFKC
  normalisation is applied; normalise texts first if they mix composed and decomposed forms;
- an apostrophe (``'``, ``’``, ``‘``, ``ʼ``, ``´``, ``＇``) between two word characters keeps
  them in one token and is read as ``'``: "I can’t" and "I can't" both match "i can't", but
  "cant" does not. Elsewhere an apostrophe is a boundary, so quotes around words drop out;
- the character data is Unicode 14.0.0 (:data:`UNICODE_VERSION`) on every Python: the
  scanner agrees with ``str.casefold()`` on every character assigned both in 14.0.0 and in
  the running Python's Unicode, and treats characters assigned since as boundaries.

Symbols in a phrase. Text tokens are cut at every symbol, so a profanity entry "@55" has
the single token "55" and "f@g" the tokens "f g". So that such entries match only where their
symbols are, each phrase also keeps the *gaps* before, between and after its tokens, and a
gap is either free (any token boundary) or literal (the text must have those characters
there); :meth:`Lexicon.patterns` shows which. Per phrase:

- whitespace is a free boundary: "i cannot" matches "i  CANNOT,";
- symbols or punctuation glued to a word (no whitespace between) are literal: "f@ck",
  "c*nt", "a_s_s", "s.o.b", "arse-bandit", "S&M", and at the ends "@55" or "sh!+". So "@55"
  matches "call @55" and "(@55)" but neither "route 55" nor "me@55" (a literal at the start
  must follow whitespace or the start of the text, one at the end must precede whitespace or
  the end, soft punctuation allowed in between); "f@ck" matches "F@CK" but not "f ck",
  "f*ck" or "f @ ck" (list those forms as entries if they should count);
- between two words, a run holding whitespace is free when the rest of it is soft
  punctuation (quotes, brackets, ``. , ; : ! ? …``, dashes): "sorry, but" matches "sorry
  but"; otherwise it is literal: "bi + ch" needs the ``+``;
- soft punctuation at the ends of a phrase is dropped first: opening quotes and brackets
  before it, closing ones and sentence marks after it, so "Fuck!" matches "fuck" and
  "s.o.b." needs only its inner dots.

Gaps compare after folding: a run of whitespace (Unicode White_Space) is one space,
fullwidth forms are ASCII ("b！tch" is "b!tch"), dashes are ``-``, apostrophes ``'``, and
zero-width characters and soft hyphens are dropped. A phrase with no literal gap whose tokens
are all numbers or single characters ("69", "s o b") is *weak*: it cannot be told from an
ordinary number or letter. Lexicons built with ``skip_weak=True`` (as
:meth:`Lexicon.profanity` is) leave weak phrases out (:attr:`Lexicon.skipped` lists them);
other lexicons match them like any phrase, so a word list may still count "i".

Per text and lexicon, :func:`scan` reports whether a phrase matched, how many non-overlapping
occurrences there are (chosen leftmost-longest: "son of a bitch" counts once even when
"bitch" is a phrase too) and the token index where the earliest match starts. The work runs
in Rust, in parallel, with the GIL released; each text is scored on its own, so results do
not depend on the number of threads.
"""

from __future__ import annotations

import errno
import functools
import importlib.resources
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from vhframe import _core
from vhframe.errors import DataError
from vhframe.files import read_table, read_text
from vhframe.records import VALUES

__all__ = [
    "UNICODE_VERSION",
    "Lexicon",
    "LexiconError",
    "Pattern",
    "ScanResult",
    "scan",
    "scan_many",
    "tokenize",
]

#: Unicode version of the tokenizer's character tables, the same on every Python.
UNICODE_VERSION: str = _core.SCAN_UNICODE_VERSION

_I64 = npt.NDArray[np.int64]
_T = TypeVar("_T")


class LexiconError(DataError, ValueError):
    """A lexicon file or phrase list is unusable; the message names the file and line."""


def tokenize(text: str) -> list[str]:
    """The normalised tokens of ``text``, as :func:`scan` sees them."""
    return _core.scan_tokenize(text)


@dataclass(frozen=True)
class Pattern:
    """How one phrase matches (see the module notes on symbols)."""

    phrase: str
    #: the normalised tokens
    tokens: tuple[str, ...]
    #: ``len(tokens) + 1`` gaps: before the first token, between tokens, after the last;
    #: None where any token boundary will do, else the (folded) characters the text must
    #: have there
    gaps: tuple[str | None, ...]
    #: no literal gap, and only numbers or single characters as tokens
    weak: bool

    @property
    def literal(self) -> bool:
        """Whether some gap is literal, i.e. the phrase needs symbols in the text."""
        return any(g is not None for g in self.gaps)

    @classmethod
    def of(cls, phrase: str) -> Pattern:
        """The pattern of ``phrase``."""
        raw = _core.scan_pattern(phrase)
        return cls(phrase, tuple(raw.tokens), tuple(raw.gaps), raw.weak)


class Lexicon:
    """An immutable, named set of phrases: ``Lexicon(name, phrases)`` is
    :meth:`from_phrases`; see also :meth:`from_csv`, :meth:`from_txt`, :meth:`builtin`,
    :meth:`refusal`, :meth:`profanity` and :meth:`values`.

    ``skip_weak``: leave out weak phrases (bare numbers and single characters, see
    :attr:`skipped`), as a profanity list wants and a word list that counts "i" does not."""

    __slots__ = ("_hash", "_matcher", "_name", "_phrases", "_skip_weak")

    _name: str
    _phrases: tuple[str, ...]
    _skip_weak: bool
    _hash: int
    _matcher: _core.ScanMatcher | None

    def __init__(self, name: str, phrases: Iterable[str], *, skip_weak: bool = False) -> None:
        self._set(name, _checked(name, phrases), _flag(skip_weak))

    @classmethod
    def _trusted(cls, name: str, phrases: tuple[str, ...], skip_weak: bool = False) -> Lexicon:
        # for loaders that checked every phrase already, naming the file and line
        obj = cls.__new__(cls)
        obj._set(name, phrases, _flag(skip_weak))
        return obj

    def _set(self, name: str, phrases: tuple[str, ...], skip_weak: bool) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_phrases", phrases)
        object.__setattr__(self, "_skip_weak", skip_weak)
        object.__setattr__(self, "_hash", hash((name, phrases, skip_weak)))
        object.__setattr__(self, "_matcher", None)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Lexicon is immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError("Lexicon is immutable")

    @property
    def name(self) -> str:
        """The name results are reported under."""
        return self._name

    @property
    def phrases(self) -> tuple[str, ...]:
        """The phrases as given (before normalisation)."""
        return self._phrases

    @property
    def skip_weak(self) -> bool:
        """Whether weak phrases are left out."""
        return self._skip_weak

    @property
    def skipped(self) -> tuple[str, ...]:
        """The phrases that never match because they are weak and ``skip_weak`` is set:
        no symbol required of the text, and only numbers or single characters as tokens
        ("69", "s o b"). Empty when ``skip_weak`` is false."""
        if not self._skip_weak:
            return ()
        return tuple(p.phrase for p in self.patterns() if p.weak)

    def tokens(self) -> tuple[tuple[str, ...], ...]:
        """Each phrase as the token sequence it matches."""
        return tuple(tuple(_core.scan_tokenize(p)) for p in self._phrases)

    def patterns(self) -> tuple[Pattern, ...]:
        """Each phrase's tokens and gaps: which symbols it needs in a text."""
        return tuple(Pattern.of(p) for p in self._phrases)

    def __len__(self) -> int:
        return len(self._phrases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._phrases)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Lexicon):
            return NotImplemented
        return (
            self._name == other._name
            and self._phrases == other._phrases
            and self._skip_weak == other._skip_weak
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        weak = ", skip_weak=True" if self._skip_weak else ""
        return f"Lexicon({self._name!r}, {len(self._phrases)} phrases{weak})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._name, self._phrases, self._skip_weak))

    def _compiled(self) -> _core.ScanMatcher:
        if self._matcher is None:
            m = _core.ScanMatcher([list(self._phrases)], [self._skip_weak])
            object.__setattr__(self, "_matcher", m)
        assert self._matcher is not None
        return self._matcher

    @classmethod
    def from_phrases(cls, name: str, phrases: Iterable[str], *, skip_weak: bool = False) -> Lexicon:
        """A lexicon of the given phrases. Every phrase must contain a word character
        (a phrase of punctuation only could never match); duplicates are harmless."""
        return cls(name, phrases, skip_weak=skip_weak)

    @classmethod
    def from_csv(
        cls,
        path: str | PathLike[str],
        column: str = "text",
        name: str | None = None,
        *,
        skip_weak: bool = False,
    ) -> Lexicon:
        """The phrases in ``column`` of a CSV file with a header row (UTF-8, optional BOM,
        any line endings), e.g. the profanity list's ``text`` column. ``name`` defaults to
        the file's stem. Errors name the file and line."""
        p = Path(path)
        where = str(p)
        table = _lexicon_file(p, read_table)
        if column not in table.header:
            raise LexiconError(
                f"no column {column!r} in the header (columns: {', '.join(table.header)})",
                file=where,
                line=1,
            )
        col = table.column(column)
        phrases: list[str] = []
        for line, cells in table.rows:
            phrase = cells[col]
            if not _core.scan_tokenize(phrase):
                what = "an empty phrase" if not phrase.strip() else f"phrase {phrase!r}"
                raise LexiconError(
                    f"{what} in column {column!r}: it has no word characters, "
                    "so it could never match",
                    file=where,
                    line=line,
                )
            phrases.append(phrase)
        return cls._trusted(name or p.stem, tuple(phrases), skip_weak)

    @classmethod
    def from_txt(
        cls, path: str | PathLike[str], name: str | None = None, *, skip_weak: bool = False
    ) -> Lexicon:
        """One phrase per line (UTF-8); blank lines and lines starting with ``#`` are
        skipped. ``name`` defaults to the file's stem."""
        p = Path(path)
        lex = cls._parse_lines(_lexicon_file(p, read_text), name or p.stem, str(p))
        return cls._trusted(lex.name, lex.phrases, skip_weak)

    @classmethod
    def profanity(
        cls, path: str | PathLike[str], column: str = "text", name: str = "profanity"
    ) -> Lexicon:
        """A profanity list in CSV (such as the study's ``profanity_en.csv``, whose
        ``text`` column holds the entries), with weak entries left out: "69" would
        otherwise match every "page 69". Entries written with symbols match only where
        the symbols are (module notes)."""
        return cls.from_csv(path, column=column, name=name, skip_weak=True)

    @classmethod
    def builtin(cls, name: str) -> Lexicon:
        """A lexicon shipped with vhframe, by file stem (see :meth:`builtin_names`)."""
        names = cls.builtin_names()
        if name not in names:
            raise ValueError(f"no built-in lexicon {name!r}; available: {', '.join(names)}")
        return _builtin(name)

    @staticmethod
    def builtin_names() -> list[str]:
        """Stems of the lexicon files shipped with vhframe."""
        folder = importlib.resources.files("vhframe") / "lexicons"
        return sorted(f.name[:-4] for f in folder.iterdir() if f.name.endswith(".txt"))

    @classmethod
    def refusal(cls) -> Lexicon:
        """The built-in English refusal phrases of jailbreak studies, named ``refusal``
        (sources and choices: ``vhframe/lexicons/README.md``)."""
        base = _builtin("refusal_en")
        return cls._trusted("refusal", base.phrases)

    @classmethod
    def value(cls, value: str) -> Lexicon:
        """The built-in English words and phrases that express one Schwartz value, named
        after it (``"Self-direction"``; any case, ``_`` or space for the hyphen). Written
        from the published definitions of the values; sources, choices and limits:
        ``vhframe/lexicons/README.md``."""
        key = value.strip().lower().replace("_", "-").replace(" ", "-")
        names = {v.lower(): v for v in VALUES}
        if key not in names:
            raise ValueError(f"no Schwartz value {value!r}; values: {', '.join(VALUES)}")
        canonical = names[key]
        base = _builtin(_value_stem(canonical))
        return cls._trusted(canonical, base.phrases)

    @classmethod
    def values(cls) -> tuple[Lexicon, ...]:
        """The ten value lexicons of :meth:`value`, in ``vhframe.records.VALUES`` order,
        ready for :func:`scan_many` (results keyed by value name)."""
        return tuple(cls.value(v) for v in VALUES)

    @classmethod
    def _parse_lines(cls, text: str, name: str, where: str) -> Lexicon:
        phrases: list[str] = []
        for i, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not _core.scan_tokenize(line):
                raise LexiconError(
                    f"phrase {line!r} has no word characters, so it could never match",
                    file=where,
                    line=i,
                )
            phrases.append(line)
        return cls._trusted(name, tuple(phrases))


def _value_stem(value: str) -> str:
    return "value_" + value.lower().replace("-", "_") + "_en"


def _flag(skip_weak: object) -> bool:
    if not isinstance(skip_weak, bool):
        raise TypeError(f"skip_weak must be a bool, not {type(skip_weak).__name__}")
    return skip_weak


def _restore(name: str, phrases: tuple[str, ...], skip_weak: bool) -> Lexicon:
    return Lexicon(name, phrases, skip_weak=skip_weak)


def _checked(name: str, phrases: Iterable[str]) -> tuple[str, ...]:
    if not isinstance(name, str) or not name:
        raise ValueError("a lexicon needs a non-empty str name")
    if isinstance(phrases, str):
        raise TypeError("phrases must be an iterable of str, not a single str")
    out = tuple(phrases)
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise TypeError(f"lexicon {name!r}: phrase {i} is {type(p).__name__}, not str")
        if not _core.scan_tokenize(p):
            raise LexiconError(
                f"lexicon {name!r}: phrase {i} ({p!r}) has no word characters, "
                "so it could never match"
            )
    return out


@functools.cache
def _builtin(stem: str) -> Lexicon:
    res = importlib.resources.files("vhframe") / "lexicons" / f"{stem}.txt"
    return Lexicon._parse_lines(
        res.read_text(encoding="utf-8"), stem, f"vhframe/lexicons/{stem}.txt"
    )


def _lexicon_file(p: Path, read: Callable[[Path], _T]) -> _T:
    """``read(p)``, its data errors raised as :class:`LexiconError` (a ``ValueError`` to
    library callers); a missing file stays a ``FileNotFoundError``, as ``open()`` reports it."""
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(p))
    try:
        return read(p)
    except DataError as exc:
        raise LexiconError(exc.detail, file=exc.file, line=exc.line) from None


@dataclass(frozen=True)
class ScanResult:
    """Scores of one lexicon over n texts (read-only arrays of length n)."""

    lexicon: str
    #: whether any phrase occurs in the text
    matched: npt.NDArray[np.bool_]
    #: non-overlapping phrase occurrences, chosen leftmost-longest
    count: _I64
    #: token index (see :func:`tokenize`) where the earliest match starts; -1 when none
    first: _I64

    def __len__(self) -> int:
        return len(self.count)


if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    #: What :func:`scan` reads: a list/tuple (or any iterable) of str or None, a pyarrow
    #: string column, a pandas Series of strings, or a numpy array of str.
    Texts: TypeAlias = (
        Sequence[str | None]
        | Iterable[str | None]
        | pa.Array
        | pa.ChunkedArray
        | pd.Series
        | npt.NDArray[Any]
    )


def scan(texts: Texts, lexicon: Lexicon, *, threads: int | None = None) -> ScanResult:
    """Scores each text against ``lexicon``.

    ``texts``: a list/tuple (or other sequence) of ``str``, a pyarrow ``string`` /
    ``large_string`` array or chunked array (read in place, without copying), a pandas
    Series of strings, or a numpy array of ``str``. Missing values (None, Arrow nulls,
    pandas NA) score as empty texts. ``threads``: worker threads, default all cores."""
    if not isinstance(lexicon, Lexicon):
        raise TypeError(f"lexicon must be a Lexicon, not {type(lexicon).__name__}")
    count, first = _run(texts, lexicon._compiled(), 1, _check_threads(threads, "scan"))
    return _result(lexicon.name, count[0], first[0])


def scan_many(
    texts: Texts, lexicons: Iterable[Lexicon], *, threads: int | None = None
) -> dict[str, ScanResult]:
    """Scores each text against every lexicon in one pass over the texts; results by
    lexicon name, in the order given. Names must be distinct."""
    threads = _check_threads(threads, "scan_many")
    lex = tuple(lexicons)
    seen: set[str] = set()
    for x in lex:
        if not isinstance(x, Lexicon):
            raise TypeError(f"lexicons must be Lexicon objects, not {type(x).__name__}")
        if x.name in seen:
            raise ValueError(f"two lexicons are named {x.name!r}; results are keyed by name")
        seen.add(x.name)
    if not lex:
        return {}
    matcher = lex[0]._compiled() if len(lex) == 1 else _compile_many(lex)
    count, first = _run(texts, matcher, len(lex), threads)
    return {x.name: _result(x.name, count[j], first[j]) for j, x in enumerate(lex)}


@functools.lru_cache(maxsize=16)
def _compile_many(lexicons: tuple[Lexicon, ...]) -> _core.ScanMatcher:
    return _core.ScanMatcher([list(x.phrases) for x in lexicons], [x.skip_weak for x in lexicons])


def _result(name: str, count: _I64, first: _I64) -> ScanResult:
    matched = count > 0
    for a in (matched, count, first):
        a.flags.writeable = False
    return ScanResult(lexicon=name, matched=matched, count=count, first=first)


def _check_threads(threads: object, func: str) -> int | None:
    """``threads`` checked for ``func``: None (all cores) or a count of worker threads."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
        raise ValueError(f"{func}: threads must be an integer or None, got {threads!r}")
    t = int(threads)
    if t < 1:
        raise ValueError(f"{func}: threads must be at least 1 (or None for all cores), got {t}")
    if t > _core.MAX_THREADS:
        raise ValueError(f"{func}: threads must be at most {_core.MAX_THREADS}, got {t}")
    return t


def _run(
    texts: Texts, matcher: _core.ScanMatcher, k: int, threads: int | None
) -> tuple[_I64, _I64]:
    """``(count, first)``, each shaped (lexicons, texts)."""
    if isinstance(texts, list | tuple):
        return _arrays(_core.scan_texts(matcher, texts, threads))
    if isinstance(texts, str | bytes):
        raise TypeError("texts must be a collection of str; wrap a single text as [text]")
    arrow = _as_arrow(texts)
    if arrow is not None:
        return _scan_chunks(arrow, matcher, k, threads)
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"texts must be one-dimensional, not of shape {texts.shape}")
        return _arrays(_core.scan_texts(matcher, texts.tolist(), threads))
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(texts, pd.Series):
        # object or python-backed strings: missing values become None, others must be str
        values = texts.to_numpy(dtype=object, na_value=None).tolist()
        return _arrays(_core.scan_texts(matcher, values, threads))
    if isinstance(texts, Sequence | Iterable):
        return _arrays(_core.scan_texts(matcher, list(texts), threads))
    raise TypeError(f"cannot read texts from {type(texts).__name__}")


def _arrays(scores: _core.ScanScores) -> tuple[_I64, _I64]:
    return scores.count, scores.first


def _as_arrow(texts: Any) -> Any:
    """The texts as a list of pyarrow string arrays, or None when they are not Arrow data.
    Only pyarrow-backed data takes this path, so pyarrow is imported only when present."""
    mod = type(texts).__module__
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(texts, pd.Series):
        arr = texts.array
        if not hasattr(arr, "__arrow_array__") or type(arr).__name__ == "StringArray":
            return None  # python-backed strings: no Arrow buffers to read
        texts = arr.__arrow_array__()
        mod = "pyarrow"
    elif not mod.startswith("pyarrow") and not hasattr(texts, "__arrow_c_stream__"):
        return None
    import pyarrow as pa

    if isinstance(texts, pa.ChunkedArray):
        chunks = list(texts.chunks)
    elif isinstance(texts, pa.Array):
        chunks = [texts]
    elif hasattr(texts, "__arrow_c_stream__"):
        chunks = list(pa.chunked_array(texts).chunks)
    else:
        return None
    out = []
    for c in chunks:
        t = c.type
        if pa.types.is_dictionary(t):
            c = c.dictionary_decode()
            t = c.type
        if pa.types.is_string_view(t):
            c = c.cast(pa.large_string())  # a view array has no single data buffer
        elif pa.types.is_null(t):
            c = c.cast(pa.string())
        elif not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            raise TypeError(f"texts must be an Arrow string column, not {t}")
        out.append(c)
    return out


def _scan_chunks(
    chunks: list[Any], matcher: _core.ScanMatcher, k: int, threads: int | None
) -> tuple[_I64, _I64]:
    import pyarrow as pa

    counts: list[_I64] = []
    firsts: list[_I64] = []
    for c in chunks:
        n = len(c)
        validity, offsets_buf, data_buf = c.buffers()[:3]
        dtype = np.int64 if pa.types.is_large_string(c.type) else np.int32
        # a sliced array shares its parent's buffers: offsets start at c.offset
        offsets = np.frombuffer(offsets_buf, dtype=dtype, count=c.offset + n + 1)[c.offset :]
        data = (
            np.frombuffer(data_buf, dtype=np.uint8)
            if data_buf is not None
            else np.empty(0, np.uint8)
        )
        bits = None
        if validity is not None and c.null_count > 0:
            bits = np.frombuffer(validity, dtype=np.uint8)
        scores = _core.scan_arrow(matcher, offsets, data, bits, c.offset, threads)
        counts.append(scores.count)
        firsts.append(scores.first)
    if len(counts) == 1:
        return counts[0], firsts[0]
    if not counts:
        empty = np.zeros((k, 0), np.int64)
        return empty, empty.copy()
    return np.concatenate(counts, axis=1), np.concatenate(firsts, axis=1)
