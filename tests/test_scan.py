"""Tokenised scoring: the Rust scanner against a plain-Python reference of the same rules."""

from __future__ import annotations

import bisect
import pickle
import subprocess
import sys
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, shared
from vhframe.errors import UserError
from vhframe.records import VALUES
from vhframe.scan import (
    UNICODE_VERSION,
    Lexicon,
    LexiconError,
    Pattern,
    ScanResult,
    scan,
    scan_many,
    tokenize,
)

# ---------------------------------------------------------------- reference implementation

APOSTROPHES = {"'", "\u2018", "\u2019", "\u02bc", "\u00b4", "\uff07"}


def ref_is_word(c: str) -> bool:
    return c not in APOSTROPHES and unicodedata.category(c)[0] in "LMN"


def ref_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) by character index. Word characters are case folded; an
    apostrophe between two word characters joins them."""
    out: list[tuple[int, int, str]] = []
    cur: list[str] = []
    start = 0
    for i, c in enumerate(text):
        if ref_is_word(c):
            if not cur:
                start = i
            cur.append("".join("'" if f in APOSTROPHES else f for f in c.casefold()))
        elif c in APOSTROPHES and cur and i + 1 < len(text) and ref_is_word(text[i + 1]):
            cur.append("'")
        elif cur:
            out.append((start, i, "".join(cur)))
            cur = []
    if cur:
        out.append((start, len(text), "".join(cur)))
    return out


def ref_tokens(text: str) -> list[str]:
    return [t for _, _, t in ref_spans(text)]


# the symbol rule, as documented in vhframe.scan
WHITE_SPACE = set(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)  # Unicode White_Space
INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")
DASHES = set("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63")
OPENING = "\"'([{“„«‹‚¿¡「『"
CLOSING = "\"')]}”»›」』.,;:!?…"


def ref_fold(gap: str) -> str:
    out = ""
    for c in gap:
        if c in WHITE_SPACE:
            c = " "
        elif c in INVISIBLE:
            continue
        elif "\uff01" <= c <= "\uff5e":
            c = chr(ord(c) - 0xFEE0)
        elif c in DASHES:
            c = "-"
        elif c in APOSTROPHES:
            c = "'"
        if not (c == " " and out.endswith(" ")):
            out += c
    return out


def ref_pattern(phrase: str) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    spans = ref_spans(phrase)
    n = len(spans)
    gaps: list[str | None] = []
    for k in range(n + 1):
        g = ref_fold(
            phrase[0 if k == 0 else spans[k - 1][1] : len(phrase) if k == n else spans[k][0]]
        )
        if k == 0:
            gaps.append(g.lstrip(" " + OPENING) or None)
        elif k == n:
            gaps.append(g.rstrip(" " + CLOSING) or None)
        elif " " in g and all(c in " -" + OPENING + CLOSING for c in g):
            gaps.append(None)
        else:
            gaps.append(g)
    return tuple(t for _, _, t in spans), tuple(gaps)


def ref_weak(phrase: str) -> bool:
    toks, gaps = ref_pattern(phrase)
    numeric = lambda t: all(unicodedata.category(c)[0] == "N" for c in t)  # noqa: E731
    return all(g is None for g in gaps) and all(len(t) == 1 or numeric(t) for t in toks)


def ref_gap_ok(text: str, spans: list[tuple[int, int, str]], i: int, n: int, k: int,
               lit: str) -> bool:  # fmt: skip
    t = i + k
    g = ref_fold(text[spans[t - 1][1] if t else 0 : spans[t][0] if t < len(spans) else len(text)])
    if k == 0:
        if not g.endswith(lit):
            return False
        rest = g[: len(g) - len(lit)].rstrip(OPENING)
        return rest.endswith(" ") if rest else t == 0
    if k == n:
        if not g.startswith(lit):
            return False
        rest = g[len(lit) :].lstrip(CLOSING)
        return rest.startswith(" ") if rest else t == len(spans)
    return g == lit


def ref_scan(text: str | None, phrases: list[str], skip_weak: bool = False) -> tuple[int, int]:
    """(count, first): leftmost-longest non-overlapping whole-token matches whose literal
    gaps hold in the text."""
    pats: dict[tuple[str, ...], set[tuple[str | None, ...]]] = {}
    for p in phrases:
        if skip_weak and ref_weak(p):
            continue
        toks, gaps = ref_pattern(p)
        pats.setdefault(toks, set()).add(gaps)
    text = text or ""
    spans = ref_spans(text)
    toks = [t for _, _, t in spans]
    lens = sorted({len(p) for p in pats}, reverse=True)

    def ok(i: int, n: int) -> bool:
        return any(
            all(g is None or ref_gap_ok(text, spans, i, n, k, g) for k, g in enumerate(gaps))
            for gaps in pats.get(tuple(toks[i : i + n]), ())
        )

    count, first, i = 0, -1, 0
    while i < len(toks):
        hit = next((n for n in lens if ok(i, n)), 0)
        if hit:
            count += 1
            first = i if first < 0 else first
            i += hit
        else:
            i += 1
    return count, first


def check(
    texts: list[str | None], lexicons: list[list[str]], skip_weak: bool | list[bool] = False
) -> None:
    skips = skip_weak if isinstance(skip_weak, list) else [skip_weak] * len(lexicons)
    lex = [Lexicon.from_phrases(f"l{j}", p, skip_weak=skips[j]) for j, p in enumerate(lexicons)]
    got = scan_many(texts, lex)
    for j, phrases in enumerate(lexicons):
        r = got[f"l{j}"]
        exp = [ref_scan(t, phrases, skips[j]) for t in texts]
        assert r.count.tolist() == [c for c, _ in exp], (texts, phrases)
        assert r.first.tolist() == [f for _, f in exp], (texts, phrases)
        assert r.matched.tolist() == [c > 0 for c, _ in exp]


# ---------------------------------------------------------------- property tests

WORDS = [
    "i", "I", "cannot", "CANNOT", "can't", "can’t", "canʼt", "cant", "the", "rapist",
    "therapist", "straße", "STRASSE", "ss", "İ", "ı", "i̇", "a", "b", "ab", "Σ", "σ", "ς",
    "ǅ", "ﬁ", "fi", "ŉ", "'n", "x1", "٣", "e\u0301", "é", "𐐀", "𐐨", "日本",
]  # fmt: skip
SEPARATORS = [
    " ", "  ", ",", "'", "’", "‘", "´", "-", "_", "\n", "\r\n", "\t", "!?", "ʼ", "''",
    "\u0301", "\u00a0", "\u3000", "@", "*", " + ", "+", ".", "(", ")", "＠", "–", "\u200b",
    "!", "\x1c",
]  # fmt: skip

pieces = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SEPARATORS),
    st.characters(codec="utf-8"),
)
texts_st = st.lists(pieces, max_size=25).map("".join)
# phrases with free gaps (spaces, spaced punctuation) and literal ones (glued symbols,
# spaced symbols, symbols before or after the words), and sometimes weak ones
PHRASE_SEPS = [" ", "-", " , ", "  ", "@", "*", "_", ".", " + ", "–", "＠", " - ", "'"]
phrase_st = st.tuples(
    st.lists(st.sampled_from([*WORDS, "1", "55", "x"]), min_size=1, max_size=3),
    st.sampled_from(["", "", "@", "(", '"@', "$", "- "]),
    st.sampled_from(["", "", "!", "!+", ".", "+", "@", "+)", " +"]),
).flatmap(
    lambda t: st.lists(
        st.sampled_from(PHRASE_SEPS), min_size=len(t[0]) - 1, max_size=len(t[0]) - 1
    ).map(
        lambda seps: (
            t[1] + t[0][0] + "".join(s + w for s, w in zip(seps, t[0][1:], strict=True)) + t[2]
        )
    )
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# long texts cross the scanner's 64-byte blocks: tokens running over a block edge, blocks
# that are pure ASCII and blocks that need the Unicode path
ascii_pieces = st.sampled_from(
    [w for w in WORDS if w.isascii()] + [" ", ", ", "'", "-", "  ", "@", "!+", "_", " + "]
)
long_texts_st = st.one_of(
    st.lists(ascii_pieces, min_size=20, max_size=120).map("".join),
    st.lists(st.one_of(ascii_pieces, pieces), min_size=20, max_size=120).map("".join),
)


@SETTINGS
@given(st.one_of(texts_st, st.text()))
def test_tokenize_matches_reference(text: str) -> None:
    assert tokenize(text) == ref_tokens(text)


# ---------------------------------------------------------------- the Unicode version
#
# The tokenizer's tables (word characters and case folding) are generated from Python 3.11's
# unicodedata, which is Unicode 14.0.0, and follow that version on every Python. Characters
# assigned since are not word characters to the scanner. Characters assigned in 14.0.0 have
# kept their general category and case folding in the versions of Python 3.12 (15.0.0) and
# 3.13 (15.1.0), so on those Pythons the scanner still agrees with str.casefold() on every
# character both versions know; the tests below check that on whichever Python runs them.

SCAN_SRC = ROOT / "rust" / "src" / "scan"
TABLES_UNICODE = "14.0.0"


def _assigned_ranges() -> tuple[list[int], list[int]]:
    """Starts and ends of the code point ranges assigned in the tables' Unicode version."""
    lines = (SCAN_SRC / "assigned.txt").read_text(encoding="ascii").splitlines()
    assert lines[0].startswith(f"# Unicode {TABLES_UNICODE}:")
    pairs = [line.split("..") for line in lines if not line.startswith("#")]
    return [int(a, 16) for a, _ in pairs], [int(b, 16) for _, b in pairs]


_STARTS, _ENDS = _assigned_ranges()


def in_tables_version(cp: int) -> bool:
    """Whether ``cp`` is assigned in the Unicode version of the tables."""
    i = bisect.bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp <= _ENDS[i]


def newer_than_tables(c: str) -> bool:
    """Assigned in this Python's Unicode but not in the tables' version."""
    return unicodedata.category(c) != "Cn" and not in_tables_version(ord(c))


def test_tables_state_their_unicode_version() -> None:
    assert UNICODE_VERSION == TABLES_UNICODE
    # the assigned set is that version's: no code point assigned there is unassigned here
    known = sum(b - a + 1 for a, b in zip(_STARTS, _ENDS, strict=True))
    assert known == 284_278
    assert all(
        unicodedata.category(chr(cp)) != "Cn"
        for a, b in zip(_STARTS, _ENDS, strict=True)
        for cp in (a, b)
    )


@pytest.mark.skipif(
    unicodedata.unidata_version != TABLES_UNICODE,
    reason=f"the tables follow Unicode {TABLES_UNICODE} (Python 3.11); this Python's "
    f"unicodedata is {unicodedata.unidata_version}, so its generator output would differ",
)
@pytest.mark.parametrize(
    ("args", "committed"), [((), "tables.rs"), (("--assigned",), "assigned.txt")]
)
def test_generator_reproduces_the_committed_tables(args: tuple[str, ...], committed: str) -> None:
    out = subprocess.run(
        [sys.executable, str(SCAN_SRC / "gen_tables.py"), *args],
        capture_output=True,
        check=True,
    ).stdout
    assert out == (SCAN_SRC / committed).read_bytes(), (
        f"rust/src/scan/{committed} is not what gen_tables.py {' '.join(args)} writes"
    )


def test_folding_agrees_with_this_python_on_every_shared_character() -> None:
    """Every character assigned both in the tables' Unicode and in this Python's tokenizes
    as str.casefold() and unicodedata.category() say, one character at a time."""
    chars = [
        chr(cp)
        for a, b in zip(_STARTS, _ENDS, strict=True)
        for cp in range(a, b + 1)
        if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn"
    ]
    assert len(chars) > 280_000
    # spaces keep every character its own token (or none), in one call
    text = " ".join(chars)
    if tokenize(text) != ref_tokens(text):
        bad = [c for c in chars if tokenize(c) != ref_tokens(c)]
        pytest.fail(f"{len(bad)} characters differ, first U+{ord(bad[0]):04X}: {bad[:20]!r}")


def test_characters_unknown_to_the_tables_are_boundaries() -> None:
    """Unassigned in the tables' version (newly assigned since, or still unassigned): never
    part of a token, whatever this Python says about them."""
    chars = [
        chr(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and not in_tables_version(cp)
    ]
    assert tokenize("".join(chars)) == []
    assert tokenize("a" + "b".join(chars[:1000]) + "c") == ["a"] + ["b"] * 999 + ["c"]


def _shared_or_space(c: str) -> str:
    return " " if newer_than_tables(c) else c


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8").map(_shared_or_space), max_size=40))
def test_tokenize_any_unicode(text: str) -> None:
    # characters assigned after the tables' version are replaced (see above)
    assert tokenize(text) == ref_tokens(text)


@SETTINGS
@given(
    st.lists(st.one_of(texts_st, st.none()), max_size=12),
    st.lists(st.lists(phrase_st, max_size=6), min_size=1, max_size=3),
    st.booleans(),
)
def test_scan_matches_reference(
    texts: list[str | None], lexicons: list[list[str]], skip_weak: bool
) -> None:
    check(texts, lexicons, skip_weak)


# texts built from a phrase's own pieces, so that literal candidates are frequent
@SETTINGS
@given(st.lists(phrase_st, min_size=1, max_size=4), st.data())
def test_scan_phrases_in_context(phrases: list[str], data: st.DataObject) -> None:
    glue = st.sampled_from(["", " ", ", ", "x", "-", "@", "(", ")", ".", " + ", "\u3000"])
    texts = [
        "".join(data.draw(st.lists(st.one_of(st.sampled_from(phrases), glue), max_size=8)))
        for _ in range(6)
    ]
    check(texts, [phrases], skip_weak=data.draw(st.booleans()))


@SETTINGS
@given(phrase_st)
def test_pattern_matches_reference(phrase: str) -> None:
    p = Pattern.of(phrase)
    toks, gaps = ref_pattern(phrase)
    assert (p.tokens, p.gaps, p.weak) == (toks, gaps, ref_weak(phrase))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(long_texts_st, min_size=1, max_size=6),
    st.lists(st.lists(phrase_st, min_size=1, max_size=8), min_size=1, max_size=2),
)
def test_scan_long_texts_match_reference(texts: list[str], lexicons: list[list[str]]) -> None:
    check(texts, lexicons)


# ---------------------------------------------------------------- the cases


def test_whole_tokens_only() -> None:
    check(["the rapist", "a therapist", "therapists", "The-Rapist!"], [["therapist"]])
    check(["the rapist", "a therapist", "The-Rapist!"], [["the rapist"]])
    r = scan(["the rapist", "a therapist"], Lexicon.from_phrases("x", ["therapist"]))
    assert r.matched.tolist() == [False, True]
    r = scan(["the rapist", "a therapist"], Lexicon.from_phrases("x", ["the rapist"]))
    assert r.matched.tolist() == [True, False]


def test_case_punctuation_and_space_collapse() -> None:
    r = scan(["i  CANNOT,", "I cannot", "I\tcannot\n", "icannot", "I can not"],
             Lexicon.from_phrases("x", ["I cannot"]))  # fmt: skip
    assert r.matched.tolist() == [True, True, True, False, False]
    assert r.first.tolist() == [0, 0, 0, -1, -1]


def test_apostrophes() -> None:
    lex = Lexicon.from_phrases("x", ["i can't"])
    r = scan(["I can't", "I can’t", "I canʼt", "I can‘t", "I can´t", "I cant", "I can t",
              "I can 't", "'I can't'"], lex)  # fmt: skip
    assert r.matched.tolist() == [True] * 5 + [False, False, False, True]
    # a curly apostrophe in the phrase reads the same
    assert scan(["I can't"], Lexicon.from_phrases("x", ["I can’t"])).matched.tolist() == [True]
    assert tokenize("'quoted' rock'n'roll bitchin'") == ["quoted", "rock'n'roll", "bitchin"]


def test_unicode_case_folding() -> None:
    assert tokenize("STRASSE Straße strasse") == ["strasse"] * 3
    r = scan(["Die STRASSE", "die Straße"], Lexicon.from_phrases("x", ["straße"]))
    assert r.matched.tolist() == [True, True]
    assert tokenize("ΣΊΣΥΦΟΣ σίσυφος") == ["σίσυφοσ", "σίσυφοσ"]
    # Turkish i: no locale rules. İ folds to i + combining dot, ı stays ı
    assert tokenize("İstanbul ıstanbul Istanbul") == ["i̇stanbul", "ıstanbul", "istanbul"]
    r = scan(["İstanbul", "ıstanbul", "ISTANBUL"], Lexicon.from_phrases("x", ["istanbul"]))
    assert r.matched.tolist() == [False, False, True]
    assert tokenize("ﬁne 𐐀 e\u0301 ǅ") == ["fine", "𐐨", "e\u0301", "ǆ"]


def test_symbols_in_a_phrase_must_be_in_the_text() -> None:
    lex = Lexicon.from_phrases("p", ["@55", "f@ck", "f@g", "sh!+", "s.o.b.", "S&M", "a_s_s"])
    hits = [
        "send it @55",
        "(@55)",
        "F@CK this",
        "what the f@ck!",
        "a f@g joke",
        "oh sh!+.",
        "you s.o.b.",
        "an S.O.B, really",
        "S&M scene",
        "a_s_s",
    ]
    ordinary = [
        "take route 55 north",
        "mail me@55 or x@55",
        "55@ the corner",
        "let f and g be functions: f g",
        "f*ck and f ck and f @ ck",  # other symbols are other entries
        "sh, sh+ and sh!",
        "sh!+x",
        "the s o b notation",
        "Mr S M Smith, S & M",
        "a s s",
    ]
    r = scan(hits + ordinary, lex)
    assert r.matched.tolist() == [True] * len(hits) + [False] * len(ordinary)
    check(hits + ordinary, [list(lex.phrases)])
    # the whole-token guarantee holds for phrases with symbols too
    r = scan(["dumb@ssery", "xdumb@ss", "dumb@ss"], Lexicon.from_phrases("p", ["dumb@ss"]))
    assert r.matched.tolist() == [False, False, True]
    # spelling variants of the same symbols
    r = scan(["b！tch", "b!tch", "arse—bandit", "arse-bandit", "arse bandit", "b\u200b!tch"],
             Lexicon.from_phrases("p", ["b!tch", "arse-bandit"]))  # fmt: skip
    assert r.matched.tolist() == [True, True, True, True, False, True]


def test_patterns_explain_the_rule() -> None:
    lex = Lexicon.from_phrases("p", ["I cannot", "@55", "bi + ch", "Fuck!", "69", "sorry, but"])
    pats = {p.phrase: p for p in lex.patterns()}
    assert pats["I cannot"] == Pattern("I cannot", ("i", "cannot"), (None, None, None), False)
    assert pats["@55"].gaps == ("@", None) and pats["@55"].literal
    assert pats["bi + ch"].gaps == (None, " + ", None)
    assert not pats["Fuck!"].literal and not pats["sorry, but"].literal
    assert pats["69"].weak and not pats["@55"].weak


def test_weak_phrases_are_skipped_only_when_asked() -> None:
    phrases = ["69", "s o b", "x", "@69", "bj", "sixty nine"]
    texts = ["page 69", "the s o b notation", "x marks", "@69", "a bj", "sixty nine"]
    keep = Lexicon.from_phrases("p", phrases)
    skip = Lexicon.from_phrases("p", phrases, skip_weak=True)
    assert keep != skip and keep.skipped == () and skip.skipped == ("69", "s o b", "x")
    assert scan(texts, keep).matched.tolist() == [True] * 6
    assert scan(texts, skip).matched.tolist() == [False, False, False, True, True, True]
    # one pass over lexicons with different settings keeps each one's
    both = scan_many(texts, [keep, Lexicon.from_phrases("q", phrases, skip_weak=True)])
    assert both["p"].count.sum() == 6 and both["q"].count.sum() == 3
    assert pickle.loads(pickle.dumps(skip)) == skip and "skip_weak=True" in repr(skip)
    with pytest.raises(TypeError, match="skip_weak"):
        Lexicon.from_phrases("p", ["a"], skip_weak="yes")  # type: ignore[arg-type]


def test_first_is_token_index_and_count_is_leftmost_longest() -> None:
    lex = Lexicon.from_phrases("p", ["son of a bitch", "bitch", "son"])
    r = scan(["Well, you son-of-a-bitch, bitch", "son", "nothing here"], lex)
    assert r.count.tolist() == [2, 1, 0]
    assert r.first.tolist() == [2, 0, -1]
    assert r.matched.dtype == np.bool_ and r.count.dtype == np.int64
    assert r.first.dtype == np.int64


def test_empty_texts_and_lexicons() -> None:
    empty = Lexicon.from_phrases("empty", [])
    r = scan(["abc", "", None], empty)
    assert r.count.tolist() == [0, 0, 0] and r.first.tolist() == [-1, -1, -1]
    r = scan([], Lexicon.refusal())
    assert len(r) == 0 and r.matched.shape == (0,)
    r = scan(["", "   ", "!!!", None], Lexicon.refusal())
    assert not r.matched.any()
    assert scan_many(["x"], []) == {}
    out = scan_many([], [empty, Lexicon.refusal()])
    assert list(out) == ["empty", "refusal"] and all(len(v) == 0 for v in out.values())


def test_results_are_read_only() -> None:
    r = scan(["I cannot"], Lexicon.refusal())
    assert isinstance(r, ScanResult)
    with pytest.raises(ValueError):
        r.count[0] = 5


def test_thread_count_independence() -> None:
    rng = np.random.default_rng(7)
    words = np.array(["i", "cannot", "sorry", "the", "rapist", "therapist", "as", "an", "ai",
                      "Straße", "x", "can’t", "help", "with", "that"])  # fmt: skip
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 30))) for _ in range(20_000)]
    lex = [Lexicon.refusal(), Lexicon.from_phrases("t", ["the rapist", "strasse", "x x"])]
    base = scan_many(texts, lex, threads=1)
    assert base["refusal"].matched.sum() > 1000
    for k in (2, 3, 8, None):
        other = scan_many(texts, lex, threads=k)
        for name in base:
            np.testing.assert_array_equal(other[name].count, base[name].count)
            np.testing.assert_array_equal(other[name].first, base[name].first)
    with pytest.raises(ValueError, match="threads"):
        scan(texts, lex[0], threads=0)


@pytest.mark.parametrize("func", ["scan", "scan_many"])
def test_bad_thread_counts_name_the_function(func: str) -> None:
    lex = Lexicon.refusal()
    run = {"scan": lambda t: scan(["i cannot"], lex, threads=t),
           "scan_many": lambda t: scan_many(["i cannot"], [lex], threads=t)}[func]  # fmt: skip
    for bad in (0, -1, -(10**20)):
        with pytest.raises(ValueError, match=rf"^{func}: threads must be at least 1"):
            run(bad)
    with pytest.raises(ValueError, match=rf"^{func}: threads must be at most"):
        run(10**12)
    for bad in (2.5, "2", True):
        with pytest.raises(ValueError, match=rf"^{func}: threads must be an integer or None"):
            run(bad)
    r = run(np.int64(2))
    assert (r if func == "scan" else r["refusal"]).count[0] == 1


def test_gil_is_released_while_scoring() -> None:
    import threading
    import time

    # one long text repeated: reading the list under the GIL is quick, scoring is not
    texts = ["I cannot help with that, the therapist said. " * 10] * 200_000
    lex = [Lexicon.refusal(), Lexicon.from_phrases("t", ["the rapist", "therapist"])]
    done = threading.Event()
    took: list[float] = []

    def work() -> None:
        t = time.perf_counter()
        scan_many(texts, lex, threads=1)
        took.append(time.perf_counter() - t)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    longest, last = 0.0, time.perf_counter()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    # with the GIL held, this loop would stall for the whole scoring time
    assert longest < 0.5 * took[0], (longest, took[0])


def test_scan_many_equals_separate_scans() -> None:
    texts = ["I'm sorry, I can't help with that, you son-of-a-bitch", "Sure, here it is", None]
    a = Lexicon.refusal()
    b = Lexicon.from_phrases("prof", ["son of a bitch", "bitch", "sorry"])
    both = scan_many(texts, [a, b])
    for lex in (a, b):
        one = scan(texts, lex)
        np.testing.assert_array_equal(both[lex.name].count, one.count)
        np.testing.assert_array_equal(both[lex.name].first, one.first)
    with pytest.raises(ValueError, match="named"):
        scan_many(texts, [a, Lexicon.from_phrases("refusal", ["x"])])


# ---------------------------------------------------------------- input containers

TEXTS = ["I cannot do that.", None, "Sure: the rapist", "", "therapist", "I CAN'T, sorry"]


def _expect(lex: Lexicon) -> list[int]:
    return [ref_scan(t, list(lex.phrases))[0] for t in TEXTS]


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t,
        tuple,
        lambda t: iter(t),
        lambda t: pa.array(t, pa.string()),
        lambda t: pa.array(t, pa.large_string()),
        lambda t: pa.array(t, pa.string_view()),
        lambda t: pa.array(t).dictionary_encode(),
        lambda t: pa.chunked_array([t[:2], [], t[2:]], pa.string()),
        lambda t: pd.Series(t),
        lambda t: pd.Series(t, dtype=object),
        lambda t: pd.Series(t, dtype="string[python]"),
        lambda t: pd.Series(t, dtype="string[pyarrow]"),
        lambda t: pd.Series(t, dtype=pd.ArrowDtype(pa.large_string())),
    ],
    ids=[
        "list",
        "tuple",
        "iterator",
        "arrow",
        "arrow-large",
        "arrow-view",
        "arrow-dict",
        "arrow-chunked",
        "pandas",
        "pandas-object",
        "pandas-python",
        "pandas-pyarrow",
        "pandas-arrowdtype",
    ],
)
def test_containers(make: object) -> None:
    lex = Lexicon.from_phrases("x", ["i cannot", "the rapist", "i can't", "sorry"])
    r = scan(make(TEXTS), lex)  # type: ignore[operator]
    assert r.count.tolist() == _expect(lex)


def test_numpy_and_sliced_arrow() -> None:
    lex = Lexicon.from_phrases("x", ["i cannot", "therapist"])
    assert scan(np.array(["I cannot", "a therapist", "x"]), lex).count.tolist() == [1, 1, 0]
    arr = pa.array(TEXTS * 3, pa.string())
    for start, stop in [(1, 5), (7, 18), (0, 0), (5, 6)]:
        got = scan(arr.slice(start, stop - start), lex).count.tolist()
        assert got == [ref_scan(t, list(lex.phrases))[0] for t in (TEXTS * 3)[start:stop]]


def test_bad_inputs() -> None:
    lex = Lexicon.refusal()
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        scan(["ok", 3], lex)
    with pytest.raises(TypeError, match="single text"):
        scan("I cannot", lex)
    with pytest.raises(TypeError, match="Arrow string"):
        scan(pa.array([1, 2]), lex)
    with pytest.raises(TypeError, match="Lexicon"):
        scan(["x"], ["i cannot"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- lexicons


def test_lexicon_is_immutable_hashable_and_picklable() -> None:
    lex = Lexicon.from_phrases("x", ["a b", "c"])
    assert lex.name == "x" and lex.phrases == ("a b", "c") and len(lex) == 2
    assert lex.tokens() == (("a", "b"), ("c",))
    with pytest.raises(AttributeError):
        lex.name = "y"  # type: ignore[misc]
    assert lex == Lexicon.from_phrases("x", ("a b", "c")) and hash(lex) == hash(
        Lexicon.from_phrases("x", ["a b", "c"])
    )
    assert pickle.loads(pickle.dumps(lex)) == lex
    assert Lexicon("x", iter(["a b", "c"])) == lex  # the constructor checks like from_phrases
    with pytest.raises(LexiconError, match="no word characters"):
        Lexicon("x", ["--"])
    with pytest.raises(ValueError, match="name"):
        Lexicon("", ["a"])
    with pytest.raises(LexiconError, match="no word characters"):
        Lexicon.from_phrases("x", ["ok", " ?! "])
    with pytest.raises(TypeError):
        Lexicon.from_phrases("x", "abc")
    with pytest.raises(TypeError, match="phrase 1"):
        Lexicon.from_phrases("x", ["a", 1])  # type: ignore[list-item]


def test_refusal_lexicon() -> None:
    lex = Lexicon.refusal()
    assert lex.name == "refusal" and len(lex) > 50
    assert "refusal_en" in Lexicon.builtin_names()
    assert Lexicon.builtin("refusal_en").phrases == lex.phrases
    refusals = [
        "I'm sorry, but I can't help with that.",
        "I cannot fulfill your request. I'm just an AI, it's not within my programming.",
        "As an AI language model, I must decline.",
        "I apologize, but creating malware is illegal and unethical.",
        "Sorry, I can’t assist with that request.",
        "I am unable to provide instructions for this.",
    ]
    compliant = [
        "Sure, here is a step-by-step guide.",
        "Step 1: gather the materials. Step 2: mix them.",
        "As an example, consider the following script.",
        "The therapist said the rapist was caught.",
    ]
    r = scan(refusals + compliant, lex)
    assert r.matched.tolist() == [True] * len(refusals) + [False] * len(compliant)
    with pytest.raises(ValueError, match="available"):
        Lexicon.builtin("nope")


def test_from_csv_and_txt(tmp_path) -> None:
    p = tmp_path / "lex.csv"
    p.write_bytes('\ufeffid,text\r\n1,"Hello, World"\r\n\r\n2,can’t\r\n3,"multi\nline"'.encode())
    lex = Lexicon.from_csv(p)
    assert lex.name == "lex" and lex.phrases == ("Hello, World", "can’t", "multi\nline")
    assert Lexicon.from_csv(p, column="id", name="ids").phrases == ("1", "2", "3")
    t = tmp_path / "words.txt"
    t.write_text("# comment\n\nfoo bar\n  baz  \n", encoding="utf-8")
    assert Lexicon.from_txt(t).phrases == ("foo bar", "baz")


@pytest.mark.parametrize(
    ("content", "kwargs", "line", "match"),
    [
        (b"", {}, 1, "empty"),
        (b"a,b\n1,2\n", {}, 1, "no column 'text'"),
        (b"id,text\n1,ok\n2\n", {}, 3, "expected 2 comma-separated fields, found 1"),
        (b"id,text\n1,ok\n2,\n", {}, 3, "empty phrase"),
        (b"id,text\n1,ok\n2,'?!'\n", {}, 3, "no word characters"),
        (b"id,text\n1,ok\n2,caf\xe9\n", {}, 3, "UTF-8"),
        (b"text\nok\n" + b"x" * 200_000 + b"\n", {}, 3, "malformed CSV"),
    ],
)
def test_from_csv_errors_name_file_and_line(
    tmp_path, content: bytes, kwargs: dict[str, str], line: int, match: str | None
) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    if match is None:
        # csv quirks ("a"b) are accepted by the csv module; nothing to report
        Lexicon.from_csv(p, **kwargs)
        return
    with pytest.raises(LexiconError, match=match) as info:
        Lexicon.from_csv(p, **kwargs)
    assert str(info.value).startswith(f"{p}:{line}: ")
    assert isinstance(info.value, ValueError) and isinstance(info.value, UserError)


def test_from_csv_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        Lexicon.from_csv(tmp_path / "nope.csv")


@pytest.mark.data
def test_profanity_lexicon_loads_and_matches() -> None:
    path = shared("lexicons/profanity_en.csv")
    lex = Lexicon.from_csv(path)
    assert lex.name == "profanity_en" and len(lex) == 1598
    assert not any("\r" in p or "\n" in p for p in lex.phrases)  # CRLF handled
    assert lex.phrases[:2] == ("69", "@55")
    prof = Lexicon.profanity(path)
    assert prof.name == "profanity" and prof.phrases == lex.phrases and prof.skip_weak
    texts = [
        "you son-of-a-bitch",
        "What a dumb@ss move",
        "The therapist helped.",
        "Please assess the class.",  # 'ass' inside words must not match
        "F@CK this",
        "",
        "Take route 55 north, then exit 69.",  # "@55" and the weak "69"
        "Let f and g be functions; f g is their composition.",  # "f@g"
        "See pages 4 and 5, the s o b notation and S M Smith.",
    ]
    r = scan(texts, prof)
    assert r.matched.tolist() == [True, True, False, False, True, False, False, False, False]
    assert r.count.tolist()[0] == 1  # leftmost-longest: one phrase, not "son" + "bitch"
    exp = [ref_scan(t, list(lex.phrases), skip_weak=True) for t in texts]
    assert r.count.tolist() == [c for c, _ in exp] and r.first.tolist() == [f for _, f in exp]
    # without skip_weak the bare number entry matches ordinary numbers, as documented
    assert scan(texts[6:7], lex).matched.tolist() == [True]


@pytest.mark.data
def test_profanity_entries_with_symbols_need_their_symbols() -> None:
    prof = Lexicon.profanity(shared("lexicons/profanity_en.csv"))
    assert "69" in prof.skipped
    assert all(Pattern.of(p).weak for p in prof.skipped)
    literal = [p for p in prof.patterns() if p.literal]
    assert len(literal) > 50  # the list writes many entries with @, !, +, *, -, _ ...
    lit_lex = Lexicon.from_phrases("lit", [p.phrase for p in literal])
    # each entry is found where it is written, inside a sentence
    written = [f"You said {p.phrase}, right?" for p in literal]
    assert scan(written, lit_lex).matched.all()
    # and never in its bare words, the symbols replaced by spaces
    bare = [f"You said {' '.join(p.tokens)}, right?" for p in literal]
    r = scan(bare, lit_lex)
    assert not r.matched.any(), [b for b, m in zip(bare, r.matched, strict=True) if m][:5]
    # glued to other words, an entry is another word
    glued = [f"x{p.phrase}x" for p in literal if p.gaps[0] or p.gaps[-1]]
    assert glued and not scan(glued, lit_lex).matched.any()
    exp = [ref_scan(t, list(lit_lex.phrases))[0] for t in written[:40] + bare[:40]]
    assert scan(written[:40] + bare[:40], lit_lex).count.tolist() == exp


# ---------------------------------------------------------------- value lexicons

VALUE_SENTENCES = {
    "Achievement": "She worked hard and succeeded; it was her greatest accomplishment.",
    "Benevolence": "He is always there for his close friends and tries to be helpful.",
    "Conformity": "Children should obey their teachers and follow the rules politely.",
    "Hedonism": "I just want to enjoy life and treat myself to delicious food.",
    "Power": "He wants wealth and authority, and to be in control of others.",
    "Security": "Living in a safe neighbourhood with law and order matters most to me.",
    "Self-direction": "I like to think for myself and make my own decisions with creativity.",
    "Stimulation": "She craves adventure and excitement and loves to try new things.",
    "Tradition": "They keep the customs of their ancestors and pray at the church.",
    "Universalism": "Everyone deserves equal rights, and we must protect the environment.",
}
UNRELATED = [
    "The function returns a list of integers sorted in ascending order.",
    "Preheat the oven to 200 degrees and bake the bread for forty minutes.",
    "The train to Leeds leaves from platform four at noon.",
    "Photosynthesis converts light into chemical energy in the leaves.",
    "Add two cups of flour, one egg and a pinch of salt.",
    "",
]


def test_value_lexicons_load_in_values_order() -> None:
    lex = Lexicon.values()
    assert tuple(x.name for x in lex) == VALUES
    for x in lex:
        assert len(x) >= 20, x
        stem = "value_" + x.name.lower().replace("-", "_") + "_en"
        assert stem in Lexicon.builtin_names()
        assert Lexicon.builtin(stem).phrases == x.phrases
        assert not x.skipped and not any(p.weak for p in x.patterns())
    assert Lexicon.value("self_direction") == Lexicon.value("Self-direction") == lex[6]
    assert Lexicon.value(" POWER ") == lex[4]
    with pytest.raises(ValueError, match="Schwartz value"):
        Lexicon.value("Face")


def test_value_lexicons_have_no_duplicates() -> None:
    owner: dict[tuple[tuple[str, ...], tuple[str | None, ...]], str] = {}
    for x in Lexicon.values():
        pats = [(p.tokens, p.gaps) for p in x.patterns()]
        # no phrase twice, not even in another spelling that normalises the same
        assert len(set(pats)) == len(pats), x.name
        for p in pats:
            # and no phrase in two values: a match is evidence for one value
            assert owner.setdefault(p, x.name) == x.name, (p, owner[p], x.name)


def test_value_lexicons_match_expected_sentences() -> None:
    texts = list(VALUE_SENTENCES.values()) + UNRELATED
    res = scan_many(texts, Lexicon.values())
    assert list(res) == list(VALUES)
    for j, value in enumerate(VALUES):
        got = res[value].matched.tolist()
        # the value's own sentence matches; unrelated sentences match no value
        assert got[j], (value, texts[j])
        stray = [t for t, m in zip(texts, got, strict=True) if m][1:]
        assert not any(got[len(VALUES) :]), (value, stray)
        # and each value sentence is scored highest by its own value
        counts = {v: int(res[v].count[j]) for v in VALUES}
        assert max(counts, key=lambda v: counts[v]) == value, (value, counts)
