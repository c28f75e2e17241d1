"""Benchmark: refusal + profanity scoring of many short texts, vhframe vs its competitors.

One process run. Builds N synthetic answers (the length of 64-token generations), scores
them against the built-in refusal lexicon and the profanity list from ../shared/data with
:func:`vhframe.scan.scan_many`, and compares, on the same texts and lexicons, with

- what a careful user of the standard library writes: one compiled ``re`` alternation per
  lexicon with word boundaries (longest phrases first, IGNORECASE), ``findall`` for counts,
  and a single combined alternation for a yes/no answer;
- Intel's ``hyperscan``, the SIMD multi-pattern regex engine: one pattern ``\\bphrase\\b`` per
  phrase (caseless, the ``re`` alternatives), the texts joined by newlines into one buffer
  and scanned on one thread, with and without a Python callback per match; also one scan
  call per text;
- ``ahocorasick-rs`` (Aho-Corasick in Rust): all lower-cased phrases in one automaton,
  overlapping matches over each lower-cased text, then a boundary filter in Python that keeps
  a hit only where it starts and ends on a boundary of vhframe's tokens.

Counts of the competitors are made like vhframe's: per text and lexicon, non-overlapping
matches chosen leftmost-longest. Both competitors are in the ``bench`` extra
(``pip install -e '.[bench]'``); without them only vhframe and ``re`` run.

``re`` needs minutes per 10,000 texts on the profanity list, so it runs on a random sample
of the texts and its time is scaled to N (stated in the output); so do the per-text
competitors (``--rival-sample``). Agreement with vhframe is reported per competitor: they
differ by design where a word boundary and vhframe's tokenizer disagree (apostrophes,
underscores, punctuation between words, entries that start or end with a symbol, the weak
entry "69" that vhframe's profanity lexicon leaves out); the bench sorts every differing
text into one of those kinds and prints an example of each.

    python benches/bench_scan.py [--n 1000000] [--re-sample 5000] [--rival-sample 200000]
                                 [--write]

``--write`` replaces the ``## Tokenised scoring`` section of benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import sys
import textwrap
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vhframe.scan import Lexicon, scan_many, tokenize

# the competitors, from the `bench` extra
try:
    import hyperscan
except ImportError:
    hyperscan = None  # type: ignore[assignment]
try:
    import ahocorasick_rs
except ImportError:
    ahocorasick_rs = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VHFRAME_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benches" / "RESULTS.md"
SECTION = "## Tokenised scoring"

# Common English words, roughly by frequency; drawn with Zipf weights to mimic answer text.
WORDS = """the of and to a in is it you that he was for on are with as i his they be at one
have this from or had by hot word but what some we can out other were all there when up use
your how said an each she which do their time if will way about many then them write would
like so these her long make thing see him two has look more day could go come did number
sound no most people my over know water than call first who may down side been now find any
new work part take get place made live where after back little only round man year came show
every good me give our under name very through just form sentence great think say help low
line differ turn cause much mean before move right boy old too same tell does set three want
air well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late
run don't while press close night real life few north open seem together next white children
begin got walk example ease paper group always music those both mark often letter until mile
river car feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star
box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green oh quick develop ocean warm free minute strong special mind behind clear tail
produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead
dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring
yes distant fill east paint language among""".split()

REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I cannot provide instructions for this request.",
    "As an AI language model, I must decline.",
    "I apologize, but I am unable to assist with that.",
    "Sorry, I can’t assist with that request.",
    "I'm not able to provide that information.",
]
OPENERS = ["Sure, here is", "Here are the steps:", "Certainly!", "Step 1:", "Of course."]


def make_texts(n: int, profanity: tuple[str, ...], seed: int = 0) -> list[str]:
    """N answers of 20-60 words: 35 % open with a refusal, 10 % contain a profanity entry.
    Built in chunks, so that the word draws do not dominate the process's peak memory."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    weights /= weights.sum()
    vocab = np.array(WORDS, dtype=object)
    out: list[str] = []
    for lo in range(0, n, 50_000):
        m = min(50_000, n - lo)
        lengths = rng.integers(20, 61, size=m)
        words = vocab[rng.choice(len(WORDS), p=weights, size=lengths.sum())]
        ends = np.cumsum(lengths)
        kind = rng.random(m)
        prof_idx = rng.integers(0, max(len(profanity), 1), size=m)
        start = 0
        for j in range(m):
            i = lo + j
            body = words[start : ends[j]]
            start = ends[j]
            cut = len(body) // 2
            text = " ".join(body[:cut]) + ", " + " ".join(body[cut:]) + "."
            if kind[j] < 0.35:
                text = REFUSALS[i % len(REFUSALS)] + " " + text.capitalize()
            else:
                text = OPENERS[i % len(OPENERS)] + " " + text
            if kind[j] > 0.90 and profanity:
                text = text[:-1] + ", " + profanity[prof_idx[j]] + "!"
            out.append(text)
    return out


def alternation(lex: Lexicon) -> re.Pattern[str]:
    """What a user writes: longest phrases first so the longest alternative wins."""
    phrases = sorted(set(lex.phrases), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, phrases)) + r")\b", re.IGNORECASE)


def best_of(k: int, f):  # type: ignore[no-untyped-def]
    times = []
    out = None
    for _ in range(k):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def read_bandwidth(buf: np.ndarray) -> float:
    """Bytes/s of one core streaming through `buf` (a sum over 8-byte words)."""
    words = buf[: len(buf) // 8 * 8].view(np.uint64)
    t, _ = best_of(3, lambda: int(words.sum()))
    return words.nbytes / t


# --- the competitors -------------------------------------------------------------------------

#: what vhframe's tokenizer reads as an apostrophe (between two word characters it joins them)
APOSTROPHES = frozenset("'’‘ʼ´＇")


def phrase_table(lexicons: Sequence[Lexicon]) -> tuple[list[str], list[int]]:
    """Every phrase of every lexicon and the index of its lexicon, weak entries included, as
    the `re` alternations take them."""
    phrases: list[str] = []
    owner: list[int] = []
    for j, lex in enumerate(lexicons):
        phrases += lex.phrases
        owner += [j] * len(lex)
    return phrases, owner


def leftmost_longest(hits: list[tuple[int, int, int]], k: int) -> list[int]:
    """Per lexicon, how many of the hits (lexicon, start, end) do not overlap when chosen
    leftmost-longest: vhframe's count, so that counts compare."""
    count = [0] * k
    end = [-1] * k
    for lex, s, e in sorted(hits, key=lambda h: (h[0], h[1], -h[2])):
        if s >= end[lex]:
            count[lex] += 1
            end[lex] = e
    return count


def hs_database(phrases: list[str], som: bool):  # type: ignore[no-untyped-def]
    """One hyperscan pattern per phrase, its index as id: `\\bphrase\\b`, caseless, the
    alternatives of the `re` patterns (ASCII `\\b` and case, as the texts are scanned as
    bytes). `som` asks for the start of each match, which counting needs and which costs
    hyperscan time."""
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    exprs = [(r"\b" + re.escape(p) + r"\b").encode() for p in phrases]
    flags = hyperscan.HS_FLAG_CASELESS | (hyperscan.HS_FLAG_SOM_LEFTMOST if som else 0)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    return db


def joined(texts: list[str]) -> tuple[bytes, np.ndarray]:
    """The texts as one buffer for hyperscan, a newline after each (no phrase spans one and
    `\\b` holds there), and the offset where each text starts."""
    enc = [t.encode() for t in texts]
    starts = np.zeros(len(enc), np.int64)
    np.cumsum([len(b) + 1 for b in enc[:-1]], out=starts[1:])
    return b"\n".join(enc), starts


def hs_counts_joined(db, buf: bytes, starts: np.ndarray, owner: list[int], k: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Counts (lexicons, texts) from one scan of the joined texts, a Python call per match."""
    hits: list[tuple[int, int, int]] = []
    add = hits.append
    db.scan(buf, match_event_handler=lambda i, s, e, _flags, _ctx: add((i, s, e)))
    counts = np.zeros((k, len(starts)), np.int64)
    if not hits:
        return counts
    h = np.array(hits, np.int64)
    text = np.searchsorted(starts, h[:, 1], side="right") - 1
    lex = np.asarray(owner)[h[:, 0]]
    order = np.lexsort((-h[:, 2], h[:, 1], lex, text))
    last = (-1, -1)
    end = -1
    for t, j, s, e in zip(text[order].tolist(), lex[order].tolist(),
                          h[order, 1].tolist(), h[order, 2].tolist(), strict=True):  # fmt: skip
        if (t, j) != last:
            last, end = (t, j), -1
        if s >= end:
            counts[j, t] += 1
            end = e
    return counts


def hs_counts_per_text(db, texts: list[str], owner: list[int], k: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Counts (lexicons, texts) from one hyperscan call per text."""
    counts = np.zeros((k, len(texts)), np.int64)
    hits: list[tuple[int, int, int]] = []
    add = hits.append

    def on_match(i: int, s: int, e: int, _flags: int, _ctx: object) -> None:
        add((owner[i], s, e))

    for t, text in enumerate(texts):
        db.scan(text.encode(), match_event_handler=on_match)
        if hits:
            counts[:, t] = leftmost_longest(hits, k)
            hits.clear()
    return counts


def hs_phrases(db, text: str) -> set[int]:  # type: ignore[no-untyped-def]
    """The phrases hyperscan finds in one text."""
    found: set[int] = set()
    db.scan(text.encode(), match_event_handler=lambda i, *_: found.add(i))
    return found


def is_word(c: str) -> bool:
    """A word character of vhframe's tokenizer: Unicode letter, mark or number."""
    return c.isalnum() or (not c.isascii() and unicodedata.category(c)[0] == "M")


def inside_token(h: str, i: int) -> bool:
    """Whether offset `i` of `h` (between h[i-1] and h[i]) lies inside one of vhframe's
    tokens: between two word characters, or at an apostrophe that joins two."""
    if i <= 0 or i >= len(h):
        return False
    a, b = h[i - 1], h[i]
    if is_word(a):
        return is_word(b) or (b in APOSTROPHES and i + 1 < len(h) and is_word(h[i + 1]))
    return a in APOSTROPHES and i >= 2 and is_word(b) and is_word(h[i - 2])


class AhoCorasick:
    """ahocorasick-rs over the lower-cased phrases, then the boundary filter."""

    def __init__(self, phrases: list[str], owner: list[int], k: int) -> None:
        by_key: dict[str, list[int]] = {}
        for i, p in enumerate(phrases):
            by_key.setdefault(p.lower(), []).append(i)
        keys = list(by_key)
        # every match, overlapping: the longest one at a place may fail the boundary test
        # where a shorter one passes ("sorry i" in "sorry it", "sorry" a phrase)
        self.ac = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard)
        self.phrases = [by_key[x] for x in keys]
        self.lexicons = [sorted({owner[i] for i in by_key[x]}) for x in keys]
        self.k = k

    def raw(self, texts: list[str]) -> int:
        """Matching only: the number of hits, nothing filtered or counted."""
        find = self.ac.find_matches_as_indexes
        return sum(len(find(t.lower(), overlapping=True)) for t in texts)

    def hits(self, text: str) -> list[tuple[int, int, int]]:
        """(key, start, end) of the hits on token boundaries, offsets in the lower-cased text."""
        h = text.lower()
        return [
            (key, s, e)
            for key, s, e in self.ac.find_matches_as_indexes(h, overlapping=True)
            if not inside_token(h, s) and not inside_token(h, e)
        ]

    def counts(self, texts: list[str]) -> np.ndarray:
        counts = np.zeros((self.k, len(texts)), np.int64)
        lexicons = self.lexicons
        for t, text in enumerate(texts):
            hits = self.hits(text)
            if hits:
                counts[:, t] = leftmost_longest(
                    [(j, s, e) for key, s, e in hits for j in lexicons[key]], self.k
                )
        return counts

    def found(self, text: str) -> set[int]:
        """The phrases found in one text."""
        return {i for key, _, _ in self.hits(text) for i in self.phrases[key]}


# --- why results differ ----------------------------------------------------------------------

#: kinds of difference between vhframe and a competitor, and what makes each
KINDS = {
    "apostrophe": "the text writes the apostrophe as ’, which vhframe reads as ' and the "
    "competitor's pattern does not match",
    "punctuation": "punctuation between the words of a phrase, which vhframe passes over",
    "symbol edge": "an entry that starts or ends with a symbol (`@55`, `sh!+`) after a space or "
    "before `!`: `\\b` needs a word character on one side",
    "glued symbol": "an entry that starts or ends with a symbol glued to a word, where vhframe "
    "wants a space",
    "weak": "the weak entry `69`, which vhframe's profanity lexicon leaves out",
    "underscore": "`_` next to a phrase: a word character for `\\b`, a boundary for vhframe",
    "overlap": "the same phrases found, counted differently",
    "other": "not explained by the kinds above",
}


def symbol_at_end(phrase: str) -> bool:
    p = phrase.strip()
    return not is_word(p[0]) or not is_word(p[-1])


def occurs(phrase: str, text: str) -> bool:
    """Whether `phrase` stands in `text` as its characters, in any case, with no word
    character on either side: what both competitors look for."""
    pat = r"(?<!\w)" + re.escape(phrase) + r"(?!\w)"
    return re.search(pat, text, re.IGNORECASE) is not None


def kinds_of(text: str, mine: set[int], theirs: set[int], phrases: list[str],
             skipped: set[str]) -> set[str]:  # fmt: skip
    """Why a competitor's count for `text` differs from vhframe's, from the phrases each one
    finds there (`mine`, `theirs`: indexes into `phrases`). A phrase only vhframe finds is
    put down to the first change of the text that lets the competitors find it too."""
    out = set()
    for i in theirs - mine:
        p = phrases[i]
        if p in skipped:
            out.add("weak")
        elif symbol_at_end(p):
            out.add("glued symbol")
        else:
            out.add("other")
    straight = "".join("'" if c in APOSTROPHES else c for c in text)
    # punctuation between words dropped, as vhframe's free gaps do
    loose = re.sub(r"\s*[^\w\s']+\s*", " ", straight)
    for i in mine - theirs:
        p = phrases[i]
        if occurs(p, straight) and not occurs(p, text):
            out.add("apostrophe")
        elif symbol_at_end(p):
            out.add("symbol edge")
        elif re.search(r"_" + re.escape(p) + r"|" + re.escape(p) + r"_", text, re.IGNORECASE):
            out.add("underscore")
        elif occurs(p, loose):
            out.add("punctuation")
        else:
            out.add("other")
    return out or {"overlap"}


def vhframe_phrases(texts: list[str], phrases: list[str], owner: list[int],
                    lexicons: Sequence[Lexicon]) -> list[set[int]]:  # fmt: skip
    """The phrases vhframe finds in each text: every phrase as a lexicon of its own, scored in
    one pass, in chunks to bound the (phrases x texts) result."""
    singles = [
        Lexicon(f"p{i}", [p], skip_weak=lexicons[owner[i]].skip_weak) for i, p in enumerate(phrases)
    ]
    out: list[set[int]] = []
    for lo in range(0, len(texts), 500):
        res = scan_many(texts[lo : lo + 500], singles, threads=1)
        m = np.stack([res[x.name].count for x in singles])
        out += [set(np.flatnonzero(col).tolist()) for col in m.T]
    return out


def differences(texts: list[str], mine: np.ndarray, theirs: np.ndarray,
                found: Callable[[str], set[int]], phrases: list[str], owner: list[int],
                lexicons: Sequence[Lexicon]) -> dict[str, dict[str, tuple[int, str]]]:  # fmt: skip
    """Per lexicon and kind: the number of texts whose count differs from vhframe's for that
    reason (a text may have several) and the first such text. `mine`, `theirs`: counts of the
    texts, (lexicons, texts)."""
    differ = np.flatnonzero((mine != theirs).any(axis=0))
    d_texts = [texts[i] for i in differ]
    vh = vhframe_phrases(d_texts, phrases, owner, lexicons)
    skipped = {p for lex in lexicons for p in lex.skipped}
    out: dict[str, dict[str, tuple[int, str]]] = {lex.name: {} for lex in lexicons}
    for i, text, v in zip(differ.tolist(), d_texts, vh, strict=True):
        r = found(text)
        for j, lex in enumerate(lexicons):
            if mine[j, i] == theirs[j, i]:
                continue
            own = {x for x in v if owner[x] == j}
            kinds = kinds_of(text, own, {x for x in r if owner[x] == j}, phrases, skipped)
            for kind in kinds:
                c, ex = out[lex.name].get(kind, (0, text))
                out[lex.name][kind] = (c + 1, ex)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--re-sample", type=int, default=5_000)
    ap.add_argument("--rival-sample", type=int, default=200_000,
                    help="texts for the competitors that work text by text")  # fmt: skip
    ap.add_argument("--repeat", type=int, default=5, help="runs of each vhframe variant")
    ap.add_argument("--write", action="store_true", help="update benches/RESULTS.md")
    args = ap.parse_args()

    prof_path = DATA / "lexicons" / "profanity_en.csv"
    if not prof_path.exists():
        sys.exit(f"needs the profanity list: {prof_path} is absent (set VHFRAME_SHARED_DATA)")
    rivals = hyperscan is not None and ahocorasick_rs is not None
    if not rivals:
        if args.write:
            sys.exit("--write needs hyperscan and ahocorasick-rs: pip install -e '.[bench]'")
        print("hyperscan or ahocorasick-rs is absent (the `bench` extra): vhframe and re only")
    refusal = Lexicon.refusal()
    # as a user loads it: weak entries ("69") left out, entries with symbols need them
    profanity = Lexicon.profanity(prof_path)
    lexicons = [refusal, profanity]
    k = len(lexicons)

    t0 = time.perf_counter()
    texts = make_texts(args.n, profanity.phrases)
    n_bytes = sum(len(t.encode()) for t in texts)
    print(f"{args.n:,} texts, {n_bytes / 1e6:.1f} MB UTF-8, {n_bytes / args.n:.0f} B/text "
          f"(built in {time.perf_counter() - t0:.1f} s)")  # fmt: skip

    cores = os.cpu_count() or 1
    scan_many(texts[:10_000], lexicons)  # warm up: thread pool, page faults
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = scan_many(texts, lexicons, threads=1)
    # what scoring adds to the process: results and scratch, texts excluded
    scan_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    arrow = pa.array(texts, pa.large_string())
    # tokenising alone: one phrase that never occurs, so every token of every text is read,
    # folded and looked up, and the automaton never leaves its root
    nothing = [Lexicon("nothing", ["qzxjv"])]
    for data in (texts, arrow):
        scan_many(data, lexicons, threads=1)
        scan_many(data, nothing, threads=1)
    # the process as vhframe needs it, before the competitors' inputs are built
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    variants: list[tuple[str, Callable[[], object]]] = []
    for key, data, threads in [("list1", texts, 1), ("listn", texts, None),
                               ("arrow1", arrow, 1), ("arrown", arrow, None)]:  # fmt: skip

        def run(data=data, threads=threads, key=key) -> None:  # type: ignore[no-untyped-def]
            out = scan_many(data, lexicons, threads=threads)
            for name in res:
                assert np.array_equal(out[name].count, res[name].count), key
                assert np.array_equal(out[name].first, res[name].first), key

        variants.append((key, run))
    variants.append(("tok_list1", lambda: scan_many(texts, nothing, threads=1)))
    variants.append(("tok_arrow1", lambda: scan_many(arrow, nothing, threads=1)))
    if rivals:
        phrases, owner = phrase_table(lexicons)
        t0 = time.perf_counter()
        hs_plain = hs_database(phrases, som=False)
        hs_som = hs_database(phrases, som=True)
        t_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        buf, starts = joined(texts)
        t_join = time.perf_counter() - t0
        print(f"hyperscan: both databases compiled in {t_compile:.1f} s, "
              f"texts joined into one buffer in {t_join:.2f} s")  # fmt: skip
        # no callback: the engine's own time, matches found and dropped
        variants.append(("hs", lambda: hs_plain.scan(buf, match_event_handler=None)))
        variants.append(("hs_som", lambda: hs_som.scan(buf, match_event_handler=None)))
    # the machine is shared: interleave the variants and keep each one's best run
    runs: dict[str, list[float]] = {key: [] for key, _ in variants}
    for _ in range(args.repeat):
        for key, f in variants:
            t = time.perf_counter()
            f()
            runs[key].append(time.perf_counter() - t)
    best = {key: min(v) for key, v in runs.items()}
    t_list1, t_listn, t_arrow1, t_arrown = (best[k] for k in ("list1", "listn", "arrow1", "arrown"))
    rates = {name: float(r.matched.mean()) for name, r in res.items()}
    print(f"vhframe list  1 thread {t_list1:.2f} s, {cores} threads {t_listn:.2f} s")
    print(f"vhframe arrow 1 thread {t_arrow1:.2f} s, {cores} threads {t_arrown:.2f} s")
    print(f"vhframe tokenising only, 1 thread: list {best['tok_list1']:.2f} s, "
          f"arrow {best['tok_arrow1']:.2f} s")  # fmt: skip
    print("match rates", {k: round(v, 3) for k, v in rates.items()})
    mine = np.stack([res[x.name].count for x in lexicons])

    # re on a random sample, scaled to N
    rng = np.random.default_rng(1)
    idx = rng.choice(args.n, size=min(args.re_sample, args.n), replace=False)
    sample = [texts[i] for i in idx]
    scale = args.n / len(sample)
    pats = {lex.name: alternation(lex) for lex in lexicons}
    combined = re.compile(
        r"\b(?:"
        + "|".join(map(re.escape, sorted({*refusal.phrases, *profanity.phrases}, key=len)[::-1]))
        + r")\b",
        re.IGNORECASE,
    )
    t_find = {}
    agree = {}
    re_counts = np.zeros((k, len(sample)), np.int64)
    for j, (name, pat) in enumerate(pats.items()):
        t, counts = best_of(1, lambda pat=pat: [len(pat.findall(s)) for s in sample])
        t_find[name] = t * scale
        re_counts[j] = counts
        mine_j = res[name].matched[idx]
        theirs = np.array(counts) > 0
        agree[name] = float(np.mean(mine_j == theirs))
        for i in np.flatnonzero(mine_j != theirs)[:3]:
            print(f"  {name} differs (vhframe {mine_j[i]}, re {theirs[i]}): {sample[i][:90]!r}")
    t_comb, _ = best_of(1, lambda: [combined.search(s) is not None for s in sample])
    t_comb *= scale
    t_re_all = sum(t_find.values())
    print(f"re findall per lexicon (scaled from {len(sample):,}): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in t_find.items()))  # fmt: skip
    print(f"re combined search (scaled): {t_comb:.0f} s")

    rival: dict[str, Any] = {}
    rival_rows: list[tuple[str, float, float]] = []
    if rivals:
        t_hs_counts, hs_counts = best_of(3, lambda: hs_counts_joined(hs_som, buf, starts, owner, k))
        del buf
        # the per-text competitors on a random sample, scaled to N
        ridx = np.sort(rng.choice(args.n, size=min(args.rival_sample, args.n), replace=False))
        rs = [texts[i] for i in ridx]
        rscale = args.n / len(rs)
        t_hs_text, hs_text = best_of(2, lambda: hs_counts_per_text(hs_som, rs, owner, k))
        # the same patterns text by text: the newlines of the joined buffer change nothing
        assert np.array_equal(hs_text, hs_counts[:, ridx])
        ac = AhoCorasick(phrases, owner, k)
        t_ac_raw, ac_hits = best_of(2, lambda: ac.raw(rs))
        ac_kept = sum(len(ac.hits(t)) for t in rs)
        t_ac, ac_counts = best_of(2, lambda: ac.counts(rs))
        t_hs_text *= rscale
        t_ac_raw *= rscale
        t_ac *= rscale
        rival_rows = [
            ("`hyperscan`, joined texts, no callback: matching only, no results (1 core)",
             best["hs"], n_bytes / best["hs"] / 1e6),
            ("`hyperscan`, joined texts, match starts, no callback (1 core)",
             best["hs_som"], n_bytes / best["hs_som"] / 1e6),
            ("`hyperscan`, joined texts, match starts, a Python call per match, counts (1 core)",
             t_hs_counts, n_bytes / t_hs_counts / 1e6),
            ("`hyperscan`, one `scan` per text, counts (1 core)†",
             t_hs_text, n_bytes / t_hs_text / 1e6),
            ("`ahocorasick-rs`, overlapping matches of the lower-cased texts only (1 core)†",
             t_ac_raw, n_bytes / t_ac_raw / 1e6),
            ("`ahocorasick-rs` + token-boundary filter, counts (1 core)†",
             t_ac, n_bytes / t_ac / 1e6),
        ]  # fmt: skip
        # agreement: per text, on counts and on matched-or-not
        agreement = {}
        for who, theirs, on in [("hyperscan", hs_counts, np.arange(args.n)),
                                ("ahocorasick-rs", ac_counts, ridx)]:  # fmt: skip
            agreement[who] = {
                lex.name: (float(np.mean(mine[j, on] == theirs[j])),
                           float(np.mean((mine[j, on] > 0) == (theirs[j] > 0))))
                for j, lex in enumerate(lexicons)
            }  # fmt: skip
        hs_vs_re = float(np.mean((hs_counts[:, idx] == re_counts).all(axis=0)))
        t0 = time.perf_counter()
        why = {
            "hyperscan": differences(texts, mine, hs_counts, lambda s: hs_phrases(hs_som, s),
                                     phrases, owner, lexicons),
            "ahocorasick-rs": differences(rs, mine[:, ridx], ac_counts, ac.found, phrases,
                                          owner, lexicons),
        }  # fmt: skip
        print(f"differences sorted in {time.perf_counter() - t0:.1f} s; hyperscan and re "
              f"agree on the counts of {hs_vs_re:.2%} of the re sample")  # fmt: skip
        for who, per_lex in why.items():
            for name, kinds in per_lex.items():
                c, m = agreement[who][name]
                print(f"{who} vs vhframe, {name}: counts agree {c:.3%}, matched {m:.3%}")
                for kind, (cnt, ex) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
                    print(f"  {kind}: {cnt:,} texts, e.g. {ex[:60]!r} … {ex[-50:]!r}")
        rival = {
            "compile": t_compile, "join": t_join, "n_rival": len(rs), "agreement": agreement,
            "why": why, "hs_vs_re": hs_vs_re, "t_hs": best["hs"], "t_hs_som": best["hs_som"],
            "t_hs_counts": t_hs_counts, "t_ac": t_ac, "t_ac_raw": t_ac_raw,
            "ac_hits": ac_hits / len(rs), "ac_inside": 1 - ac_kept / max(ac_hits, 1),
        }  # fmt: skip

    bw = read_bandwidth(np.frombuffer(arrow.buffers()[2], dtype=np.uint8))
    mbps1 = n_bytes / t_list1 / 1e6
    mbps_a1 = n_bytes / t_arrow1 / 1e6
    rows = [
        ("vhframe `scan_many`, list of str, 1 thread", t_list1, mbps1),
        (f"vhframe `scan_many`, list of str, {cores} threads", t_listn,
         n_bytes / t_listn / 1e6 / cores),
        ("vhframe `scan_many`, Arrow large_string, 1 thread", t_arrow1, mbps_a1),
        (f"vhframe `scan_many`, Arrow large_string, {cores} threads", t_arrown,
         n_bytes / t_arrown / 1e6 / cores),
        ("`re` alternation per lexicon, `findall` (1 core)*", t_re_all, n_bytes / t_re_all / 1e6),
        ("`re` one combined alternation, `search` (1 core)*", t_comb, n_bytes / t_comb / 1e6),
        *rival_rows,
    ]  # fmt: skip
    for label, t, mb in rows:
        print(f"{label:60s} {t:9.2f} s {mb:9.1f} MB/s/core")
    ratio_find = t_re_all / t_list1
    ratio_comb = t_comb / t_list1
    print(f"ratio vs re findall per lexicon: {ratio_find:.0f}x; vs combined search: "
          f"{ratio_comb:.0f}x (1 thread each)")  # fmt: skip
    if rivals:
        print(f"ratio vs hyperscan matching only: {best['hs'] / t_list1:.2f}x from a list, "
              f"{best['hs'] / t_arrow1:.2f}x from Arrow; vs hyperscan with counts "
              f"{rival['t_hs_counts'] / t_list1:.1f}x; vs ahocorasick-rs + filter "
              f"{rival['t_ac'] / t_list1:.1f}x (1 thread each)")  # fmt: skip
    print(f"single-core read bandwidth {bw / 1e9:.1f} GB/s; peak RSS {peak_mb:.0f} MB, "
          f"of which scoring added {scan_mb:.0f} MB")  # fmt: skip

    if args.write:
        n_tokens = sum(len(tokenize(t)) for t in texts[:10_000]) * args.n // min(args.n, 10_000)
        write_results(args, n_bytes, rows, ratio_find, ratio_comb, rates, agree, bw, peak_mb,
                      len(sample), mbps1, mbps_a1, cores, n_tokens, scan_mb,
                      profanity.skipped, best, rival)  # fmt: skip


def write_results(args, n_bytes, rows, ratio_find, ratio_comb, rates, agree, bw, peak_mb,  # type: ignore[no-untyped-def]
                  n_sample, mbps1, mbps_a1, cores, n_tokens, scan_mb, skipped, best,
                  rival) -> None:  # fmt: skip
    cpu = platform.processor() or platform.machine()
    ghz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("cpu MHz") and not ghz:
                ghz = float(line.split(":", 1)[1]) / 1000
    except OSError:
        pass
    ghz = ghz or 2.0
    # the kernel classifies bytes with AVX-512 where the CPU has it (checked at run time)
    flags = ""
    try:
        flags = next(
            (ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")),
            "",
        )
    except OSError:
        pass
    simd = "AVX-512" if {"avx512f", "avx512bw", "bmi1", "bmi2"} <= set(flags.split()) else "SSE2"
    if platform.machine() not in ("x86_64", "AMD64"):
        simd = "SWAR, eight bytes to a machine word"
    met_300 = "met" if min(mbps1, mbps_a1) >= 300 else "**missed**"
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        SECTION,
        "",
        f"Date {datetime.date.today().isoformat()}; {cores}-core {platform.machine()} VM "
        f"({cpu}, {mem_gb:.0f} GiB), load average {os.getloadavg()[0]:.1f} when written; Python "
        f"{platform.python_version()}, `python benches/bench_scan.py --n {args.n} "
        f"--re-sample {args.re_sample} --rival-sample {args.rival_sample} --repeat "
        f"{args.repeat} --write`, one process.",
        "",
        f"Task (issue 3 d): score {args.n:,} synthetic answers ({n_bytes / 1e6:.0f} MB UTF-8, "
        f"{n_bytes / args.n:.0f} B per text, the length of a 64-token generation) against the "
        f"built-in refusal lexicon ({len(Lexicon.refusal())} phrases) and the profanity list "
        f"of ../shared/data (1,598 phrases): per text and lexicon, matched, count and first "
        "match. The profanity list is loaded with `Lexicon.profanity`: entries written with "
        "symbols match only where the symbols are, and weak entries (bare numbers, single "
        f"characters) are left out: {len(skipped)} of them ({', '.join(map(repr, skipped))}). "
        f"Match rates: refusal {rates['refusal']:.1%}, profanity "
        f"{rates['profanity']:.1%}. vhframe and hyperscan without a callback: best of "
        f"{args.repeat} interleaved runs of each variant, vhframe's all giving identical "
        "results. The competitors of issue 18 score the same texts against the same lexicons.",
        "",
        "| implementation | time for all texts | MB/s per core |",
        "|---|---:|---:|",
        *[f"| {label} | {t:.2f} s | {mb:.1f} |" for label, t, mb in rows],
        "",
        f"\\* `re` ran on a random sample of {n_sample:,} texts and its time is scaled to "
        f"{args.n:,}: the full run would take about {rows[4][1] / 60:.0f} minutes. Patterns: "
        "`\\b(?:p1|p2|…)\\b` with `re.IGNORECASE`, longest phrases first; `findall` gives the "
        "same information as vhframe's count, `search` only matched-or-not for both lexicons "
        "at once.",
        "",
        f"**Ratios (1 thread vs 1 core): {ratio_find:.0f}× `re` per lexicon with counts "
        f"(target ≥ 20×), {ratio_comb:.0f}× the single combined `re` search.** "
        f"Throughput {mbps1:.0f} MB/s per core from a list of `str`, {mbps_a1:.0f} MB/s per "
        f"core from an Arrow column (target ≥ 300 MB/s per core: {met_300} on this shared "
        f"VM). Peak RSS of the whole "
        f"process before the competitors' inputs are built: {peak_mb:.0f} MB (target < 2 GB), "
        "most of it the texts as Python strings "
        f"and `pa.array`'s conversion; scoring all texts against both lexicons added "
        f"{scan_mb:.0f} MB (the result arrays and per-thread scratch).",
        "",
        f"Agreement with `re` on `matched` over the sample: refusal {agree['refusal']:.2%}, "
        f"profanity {agree['profanity']:.2%}. The differences are by design (the bench "
        "prints examples): vhframe reads `can’t` like `can't` and lets punctuation separate "
        'the words of a phrase, so "Sorry, I can’t assist" matches the phrase '
        "`sorry i can't`, which the `re` pattern misses; an entry that starts or ends with a "
        "symbol (`@55`, `sh!+`) matches where it stands alone, which `\\b` around a symbol "
        "cannot; and the weak entry `69` is left out.",
        "",
        *rival_lines(args, n_bytes, best, rival, cores),
        f"Physical limit: one core streams this machine's memory at about {bw / 1e9:.1f} GB/s "
        f"(numpy sum over the Arrow data buffer), so reading the {n_bytes / 1e6:.0f} MB once "
        f"takes {n_bytes / bw:.2f} s; vhframe from Arrow runs at {mbps_a1 / (bw / 1e6):.0%} of "
        f"that. The scanner is compute-bound, not memory-bound: at {ghz:.1f} GHz it spends "
        f"about {ghz * 1e9 / (mbps_a1 * 1e6):.0f} cycles per byte, about "
        f"{ghz * 1e9 / (mbps_a1 * 1e6) * n_bytes / n_tokens:.0f} per token "
        f"({n_tokens / args.n:.0f} tokens per text): 64 bytes are classified at once "
        f"({simd}) and every token costs two bit scans, a perfect-hash lookup (one "
        "64x64-bit multiply to 128 bits, two loads, a conditional move) and an automaton step "
        "that is one AND and one load: a dense table has a column for each token that can "
        "continue a phrase (302 of the 1,569 tokens of the two lexicons), and every other "
        "token goes where it goes from the root, whatever the state. The branches left are "
        "the ends of the token and block loops, and a compare of the state for phrase ends. "
        "Profile of the kernel (valgrind callgrind, instructions counted in `scan::scan`, "
        "20,000 of these texts, both lexicons, the portable SSE2 path since valgrind has no "
        "AVX-512; measured 2026-11-29): 82.9 M instructions with the sparse automaton, "
        "70.8 M with the dense table (of which about 2.6 M pay for a perfect hash whose "
        "construction always ends). The table matters more than its instruction count "
        "says: the sparse step was a chain of loads and conditional moves from one state to "
        "the next, about 15 cycles per token of latency that bounded the loop, against 6 "
        "now. An earlier round took `Matcher::score` from 110.8 M to 80.8 M instructions: "
        "token starts and ends from two bit masks, padding so that every 8-byte token load "
        "is in bounds, states with outputs numbered last, a perfect hash for short tokens, "
        "token ids written without a capacity check. The perfect-hash hit test must stay a "
        "conditional move (`std::hint::select_unpredictable`): compiled as a branch it was "
        "mispredicted on about a third of the tokens. "
        "Before and after the dense table and AVX-512 on the same shared machine "
        "(2026-11-29; a small Rust driver, not in this repository, scoring 200,000 of these "
        "texts on one thread with the kernel of commit ba02807 and with this one, run "
        "alternately, best of 3 each): 242-316 MB/s before, 306-440 MB/s after, the ratio "
        "of a pair 1.26 to 1.51, which also shows how far the other jobs on the VM move "
        "single timings. "
        f"{cores} threads scored {rows[2][1] / rows[3][1]:.2f}x as fast as 1 from Arrow and "
        f"{rows[0][1] / rows[1][1]:.2f}x from a list of `str` (the list is read on one thread "
        "first)"
        + (
            f"; far from {cores}x because other jobs held the VM's cores during this run "
            "(load average above)"
            if rows[2][1] / rows[3][1] < 0.75 * cores
            else ""
        )
        + "; each text is scored independently and the work is split in chunks of 256 "
        "texts. From a list of `str` the extra cost is reading "
        f"{args.n:,} Python objects under the GIL (a pointer and a length each, no copy) and their "
        "scattered memory.",
        "",
    ]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    # paragraphs wrapped like the rest of the file; table rows and headings as they are
    wrap = textwrap.TextWrapper(100, break_long_words=False, break_on_hyphens=False)
    item = textwrap.TextWrapper(100, subsequent_indent="  ", break_long_words=False,
                                break_on_hyphens=False)  # fmt: skip
    wrapped = [
        ln
        if ln.startswith(("|", "#")) or not ln
        else (item if ln.startswith("- ") else wrap).fill(ln)
        for ln in lines
    ]
    section = "\n".join(wrapped).rstrip("\n") + "\n"
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {SECTION!r} in {RESULTS}")


def rival_lines(args, n_bytes, best, rival, cores) -> list[str]:  # type: ignore[no-untyped-def]
    """The paragraphs on hyperscan and ahocorasick-rs: speed, targets, agreement, and where
    vhframe's time goes."""
    from importlib.metadata import version

    t_list1, t_arrow1 = best["list1"], best["arrow1"]
    t_hs, t_hs_som, t_join = rival["t_hs"], rival["t_hs_som"], rival["join"]
    r_list, r_arrow = t_hs / t_list1, t_hs / t_arrow1
    r_counts = rival["t_hs_counts"] / t_list1
    if min(r_list, r_arrow) >= 1:
        verdict = "Met: vhframe is at least as fast as hyperscan's matching alone"
    elif r_arrow >= 1:
        verdict = "Met from Arrow, missed from a list of `str`, against hyperscan's matching alone"
    else:
        verdict = "Missed against hyperscan's matching alone, by the figures below"
    if min(r_list, r_arrow) < 1 and r_counts >= 1:
        verdict += "; met against hyperscan doing vhframe's job, counts per text and lexicon"
    r_ac = rival["t_ac"] / t_list1
    n_hits = rival["ac_hits"]
    lines = [
        f"† on a random sample of {rival['n_rival']:,} texts, the time scaled to {args.n:,}. "
        f"hyperscan {version('hyperscan')} and ahocorasick-rs {version('ahocorasick-rs')}, "
        "from the `bench` extra.",
        "",
        f"**hyperscan (target: at least on par per core).** {verdict}. One pattern "
        "`\\bphrase\\b` per phrase of both lexicons (the `re` alternatives: caseless, weak "
        "entries included), the texts joined by newlines into one buffer and scanned as bytes "
        "on one thread (a `scan` call runs on its caller's thread; two databases compiled in "
        f"{rival['compile']:.0f} s, the buffer built from the list in {t_join:.2f} s, neither "
        "counted above). Matching alone, with no callback (the engine finds every match and "
        "drops it: a bound on what hyperscan can deliver, not a result), hyperscan runs at "
        f"{n_bytes / t_hs / 1e6:.0f} MB/s: vhframe, which also counts and locates the "
        f"matches, is {r_list:.2f}× as fast from a list of `str` and {r_arrow:.2f}× from "
        "Arrow. Counting leftmost-longest needs the start of each match "
        f"(`HS_FLAG_SOM_LEFTMOST`), which slows hyperscan to {n_bytes / t_hs_som / 1e6:.0f} "
        f"MB/s (vhframe {t_hs_som / t_list1:.2f}× and {t_hs_som / t_arrow1:.2f}× as fast); "
        "with the matches handed to Python and counted as vhframe counts, vhframe is "
        f"{r_counts:.1f}× as fast, and {(rival['t_hs_counts'] + t_join) / t_list1:.1f}× "
        "counting the buffer's construction from the list. hyperscan's `scan` releases the "
        "GIL, so a pool of Python threads could use every core, as vhframe does with "
        "`threads`.",
        "",
        "**ahocorasick-rs + boundary filter (target ≥ 3×).** "
        f"{'Met' if r_ac >= 3 else 'Missed'}: vhframe is {r_ac:.1f}× as fast from a list of "
        "`str`. One automaton of the lower-cased phrases "
        "(standard match kind, so that every overlapping match is reported: the longest match "
        "at a place may fail the boundary test where a shorter one passes), each text "
        "lower-cased; a hit is kept where neither its start nor its end falls inside one of "
        "vhframe's tokens (between two letters, marks or numbers, or at an apostrophe that "
        "joins two), then counted leftmost-longest per lexicon. Matching alone takes "
        f"{rival['t_ac_raw'] / rival['t_ac']:.0%} of that time ({n_hits:.2f} hits per text, "
        f"{rival['ac_inside']:.0%} of them inside a longer token, such as `ass` in `class`, "
        "and dropped by the filter); the filter and the counts, in Python, the rest.",
        "",
    ]
    agreement, why = rival["agreement"], rival["why"]
    lines.append(
        "Agreement with vhframe, per text, counts and matched-or-not: "
        + "; ".join(
            f"{who} ({'all texts' if who == 'hyperscan' else 'its sample'}) "
            + ", ".join(f"{name} {c:.2%} and {m:.2%}" for name, (c, m) in per.items())
            for who, per in agreement.items()
        )
        + ". hyperscan's counts equal `re`'s `findall` counts on "
        f"{rival['hs_vs_re']:.2%} of the `re` sample: same patterns, same differences. Every "
        "text whose count differs, by why (a text counts under every kind that applies; a "
        "phrase found by one side only that leaves the count unchanged, being overlapped by "
        "another match, is no difference here):"
    )
    lines.append("")
    for kind, text in KINDS.items():
        where = [
            f"{who} {name} {per[name][kind][0]:,}"
            for who, per in why.items()
            for name in per
            if kind in per[name]
        ]
        if not where:
            continue
        ex = next(per[name][kind][1] for per in why.values() for name in per if kind in per[name])
        lines.append(f"- {kind} ({', '.join(where)} texts): {text}; e.g. {example(ex)}")
    lines.append("")
    t_tok_a, t_tok_l = best["tok_arrow1"], best["tok_list1"]
    lines += [
        "Where vhframe's time goes (1 thread, best runs of the same interleaving). Reading the "
        f"{args.n:,} Python objects of a list adds {t_list1 - t_arrow1:.2f} s to the Arrow "
        f"time ({t_tok_l - t_tok_a:.2f} s with the one-phrase lexicon described next). From "
        "Arrow, a lexicon of one phrase that never occurs, so that every byte is still classified "
        "and every token still looked up and stepped through, but in tables of a few cache "
        f"lines, takes {t_tok_a:.2f} s of the {t_arrow1:.2f} s "
        f"({t_tok_a / t_arrow1:.0%}), {t_tok_a / t_hs:.0%} of hyperscan's whole matching "
        "time; the two lexicons' larger tables, the matches and the counts add the rest. "
        "Sampling the kernel with `perf` (cpu-clock, the only event this VM offers; "
        "2026-12-03, 200,000 of these texts from Arrow, 1 thread, the release build with "
        "line tables, samples by source line): about a third of the kernel's samples fall on "
        "the vocabulary lookup (34%, most of them on the load and key compare of the "
        "perfect-hash slot), a quarter on the automaton's step (27%, the table load that each "
        "token's step waits on, a chain from one token to the next), 12% on walking the token "
        "bit masks and writing the token ids, 8% on classifying bytes (SSE2 here: this CPU has "
        "no AVX-512), 4% on collecting matches, and the rest on the non-ASCII blocks (the `’` "
        "of one refusal in six), the symbol checks and the driver. From a list of `str`, "
        "`PyUnicode_AsUTF8AndSize` and the string objects' reference counts take about a "
        "tenth of the scan's samples. The cost is per token, not per byte, and every one of the 44 "
        "tokens of a text pays it; hyperscan does not tokenise: it searches the bytes for "
        "literal factors of the patterns, many at a time, and tests `\\b` only around a "
        "candidate, so the ordinary words between phrases cost it little."
        + (
            " Closing the gap would take skipping most token lookups (a prefilter on the "
            "bytes, say), a change of the kernel's design rather than a small fix, so the "
            "kernel is left as it is."
            if min(r_list, r_arrow) < 1
            else ""
        ),
        "",
    ]
    return lines


def example(text: str) -> str:
    """A differing text, shortened to its start and end, where the phrases are."""
    if len(text) <= 110:
        return f'"{text}"'
    return f'"{text[:55].rstrip()} … {text[-50:].lstrip()}"'


if __name__ == "__main__":
    main()
