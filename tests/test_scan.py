"""Tokenised scoring: the Rust scanner against a plain-Python reference of the same rules."""

from __future__ import annotations

import pickle
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import shared
from vhframe.errors import UserError
from vhframe.scan import (
    UNICODE_VERSION,
    Lexicon,
    LexiconError,
    ScanResult,
    scan,
    scan_many,
    tokenize,
)

# ---------------------------------------------------------------- reference implementation

APOSTROPHES = {"'", "\u2018", "\u2019", "\u02bc", "\u00b4", "\uff07"}


def ref_is_word(c: str) -> bool:
    return c not in APOSTROPHES and unicodedata.category(c)[0] in "LMN"


def ref_tokens(text: str) -> list[str]:
    """Word characters case folded; an apostrophe between two word characters joins them."""
    out: list[str] = []
    cur: list[str] = []
    for i, c in enumerate(text):
        if ref_is_word(c):
            cur.append("".join("'" if f in APOSTROPHES else f for f in c.casefold()))
        elif c in APOSTROPHES and cur and i + 1 < len(text) and ref_is_word(text[i + 1]):
            cur.append("'")
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def ref_scan(text: str | None, phrases: list[str]) -> tuple[int, int]:
    """(count, first): leftmost-longest non-overlapping whole-token matches."""
    pats = {tuple(ref_tokens(p)) for p in phrases}
    toks = ref_tokens(text or "")
    lens = sorted({len(p) for p in pats}, reverse=True)
    count, first, i = 0, -1, 0
    while i < len(toks):
        hit = next((n for n in lens if tuple(toks[i : i + n]) in pats), 0)
        if hit:
            count += 1
            first = i if first < 0 else first
            i += hit
        else:
            i += 1
    return count, first


def check(texts: list[str | None], lexicons: list[list[str]]) -> None:
    lex = [Lexicon.from_phrases(f"l{j}", p) for j, p in enumerate(lexicons)]
    got = scan_many(texts, lex)
    for j, phrases in enumerate(lexicons):
        r = got[f"l{j}"]
        exp = [ref_scan(t, phrases) for t in texts]
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
    "\u0301", "\u00a0", "\u3000", "@", "*",
]  # fmt: skip

pieces = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SEPARATORS),
    st.characters(codec="utf-8"),
)
texts_st = st.lists(pieces, max_size=25).map("".join)
phrase_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).flatmap(
    lambda ws: st.lists(
        st.sampled_from([" ", "-", " , ", "  "]), min_size=len(ws) - 1, max_size=len(ws) - 1
    ).map(lambda seps: ws[0] + "".join(s + w for s, w in zip(seps, ws[1:], strict=True)))
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# long texts cross the scanner's 64-byte blocks: tokens running over a block edge, blocks
# that are pure ASCII and blocks that need the Unicode path
ascii_pieces = st.sampled_from([w for w in WORDS if w.isascii()] + [" ", ", ", "'", "-", "  "])
long_texts_st = st.one_of(
    st.lists(ascii_pieces, min_size=20, max_size=120).map("".join),
    st.lists(st.one_of(ascii_pieces, pieces), min_size=20, max_size=120).map("".join),
)


@SETTINGS
@given(st.one_of(texts_st, st.text()))
def test_tokenize_matches_reference(text: str) -> None:
    assert tokenize(text) == ref_tokens(text)


@pytest.mark.skipif(
    unicodedata.unidata_version != UNICODE_VERSION,
    reason=f"tables follow Unicode {UNICODE_VERSION}, this Python has "
    f"{unicodedata.unidata_version}: newly assigned characters would differ",
)
@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_tokenize_any_unicode(text: str) -> None:
    assert tokenize(text) == ref_tokens(text)


@SETTINGS
@given(
    st.lists(st.one_of(texts_st, st.none()), max_size=12),
    st.lists(st.lists(phrase_st, max_size=6), min_size=1, max_size=3),
)
def test_scan_matches_reference(texts: list[str | None], lexicons: list[list[str]]) -> None:
    check(texts, lexicons)


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
        (b"id,text\n1,ok\n2\n", {}, 3, "field 2"),
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
    texts = [
        "you son-of-a-bitch",
        "What a dumb@ss move",
        "The therapist helped.",
        "Please assess the class.",  # 'ass' inside words must not match
        "F@CK this",
        "",
    ]
    r = scan(texts, lex)
    assert r.matched.tolist() == [True, True, False, False, True, False]
    assert r.count.tolist()[0] == 1  # leftmost-longest: one phrase, not "son" + "bitch"
    exp = [ref_scan(t, list(lex.phrases)) for t in texts]
    assert r.count.tolist() == [c for c, _ in exp] and r.first.tolist() == [f for _, f in exp]
