"""Benchmark: refusal + profanity scoring of many short texts, vhframe vs Python's ``re``.

One process run. Builds N synthetic answers (the length of 64-token generations), scores
them against the built-in refusal lexicon and the profanity list from ../shared/data with
:func:`vhframe.scan.scan_many`, and compares with what a careful user would otherwise write:
one compiled ``re`` alternation per lexicon with word boundaries (longest phrases first,
IGNORECASE), ``findall`` for counts, and a single combined alternation for a yes/no answer.

``re`` needs minutes per 10,000 texts on the profanity list, so it runs on a random sample
of the texts and its time is scaled to N (stated in the output). Agreement of the two on the
sample is reported too: they differ by design where ``\\b`` and vhframe's tokenizer disagree
(apostrophes, underscores, punctuation between words, entries that start or end with a symbol,
the weak entry "69" that vhframe's profanity lexicon leaves out).

    python benches/bench_scan.py [--n 1000000] [--re-sample 5000] [--write]

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
from pathlib import Path

import numpy as np
import pyarrow as pa

from vhframe.scan import Lexicon, scan_many, tokenize

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--re-sample", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each vhframe variant")
    ap.add_argument("--write", action="store_true", help="update benches/RESULTS.md")
    args = ap.parse_args()

    prof_path = DATA / "lexicons" / "profanity_en.csv"
    if not prof_path.exists():
        sys.exit(f"needs the profanity list: {prof_path} is absent (set VHFRAME_SHARED_DATA)")
    refusal = Lexicon.refusal()
    # as a user loads it: weak entries ("69") left out, entries with symbols need them
    profanity = Lexicon.profanity(prof_path)
    lexicons = [refusal, profanity]

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
    # the machine is shared: interleave the variants and keep each one's best run
    runs: dict[str, list[float]] = {"list1": [], "listn": [], "arrow1": [], "arrown": []}
    for _ in range(args.repeat):
        for key, data, threads in [("list1", texts, 1), ("listn", texts, None),
                                   ("arrow1", arrow, 1), ("arrown", arrow, None)]:  # fmt: skip
            t = time.perf_counter()
            out = scan_many(data, lexicons, threads=threads)
            runs[key].append(time.perf_counter() - t)
            for name in res:
                assert np.array_equal(out[name].count, res[name].count)
                assert np.array_equal(out[name].first, res[name].first)
    t_list1, t_listn, t_arrow1, t_arrown = (min(runs[k]) for k in runs)
    rates = {name: float(r.matched.mean()) for name, r in res.items()}
    print(f"vhframe list  1 thread {t_list1:.2f} s, {cores} threads {t_listn:.2f} s")
    print(f"vhframe arrow 1 thread {t_arrow1:.2f} s, {cores} threads {t_arrown:.2f} s")
    print("match rates", {k: round(v, 3) for k, v in rates.items()})

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
    for name, pat in pats.items():
        t, counts = best_of(1, lambda pat=pat: [len(pat.findall(s)) for s in sample])
        t_find[name] = t * scale
        mine = res[name].matched[idx]
        theirs = np.array(counts) > 0
        agree[name] = float(np.mean(mine == theirs))
        for k in np.flatnonzero(mine != theirs)[:3]:
            print(f"  {name} differs (vhframe {mine[k]}, re {theirs[k]}): {sample[k][:90]!r}")
    t_comb, _ = best_of(1, lambda: [combined.search(s) is not None for s in sample])
    t_comb *= scale
    t_re_all = sum(t_find.values())
    print(f"re findall per lexicon (scaled from {len(sample):,}): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in t_find.items()))  # fmt: skip
    print(f"re combined search (scaled): {t_comb:.0f} s")

    bw = read_bandwidth(np.frombuffer(arrow.buffers()[2], dtype=np.uint8))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    ]  # fmt: skip
    for label, t, mb in rows:
        print(f"{label:60s} {t:9.2f} s {mb:9.1f} MB/s/core")
    ratio_find = t_re_all / t_list1
    ratio_comb = t_comb / t_list1
    print(f"ratio vs re findall per lexicon: {ratio_find:.0f}x; vs combined search: "
          f"{ratio_comb:.0f}x (1 thread each)")  # fmt: skip
    print(f"single-core read bandwidth {bw / 1e9:.1f} GB/s; peak RSS {peak_mb:.0f} MB, "
          f"of which scoring added {scan_mb:.0f} MB")  # fmt: skip

    if args.write:
        n_tokens = sum(len(tokenize(t)) for t in texts[:10_000]) * args.n // min(args.n, 10_000)
        write_results(args, n_bytes, rows, ratio_find, ratio_comb, rates, agree, bw, peak_mb,
                      len(sample), mbps1, mbps_a1, cores, n_tokens, scan_mb,
                      profanity.skipped)  # fmt: skip


def write_results(args, n_bytes, rows, ratio_find, ratio_comb, rates, agree, bw, peak_mb,  # type: ignore[no-untyped-def]
                  n_sample, mbps1, mbps_a1, cores, n_tokens, scan_mb, skipped) -> None:  # fmt: skip
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
        f"--re-sample {args.re_sample} --repeat {args.repeat} --write`, one process.",
        "",
        f"Task (issue 3 d): score {args.n:,} synthetic answers ({n_bytes / 1e6:.0f} MB UTF-8, "
        f"{n_bytes / args.n:.0f} B per text, the length of a 64-token generation) against the "
        f"built-in refusal lexicon ({len(Lexicon.refusal())} phrases) and the profanity list "
        f"of ../shared/data (1,598 phrases): per text and lexicon, matched, count and first "
        "match. The profanity list is loaded with `Lexicon.profanity`: entries written with "
        "symbols match only where the symbols are, and weak entries (bare numbers, single "
        f"characters) are left out: {len(skipped)} of them ({', '.join(map(repr, skipped))}). "
        f"Match rates: refusal {rates['refusal']:.1%}, profanity "
        f"{rates['profanity']:.1%}. vhframe: best of {args.repeat} interleaved runs of each "
        "variant, all giving identical results.",
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
        f"process: {peak_mb:.0f} MB (target < 2 GB), most of it the texts as Python strings "
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
        "first); each text is scored independently and the work is split in chunks of 256 "
        "texts. From a list of `str` the extra cost is reading "
        f"{args.n:,} Python objects under the GIL (a pointer and a length each, no copy) and their "
        "scattered memory.",
        "",
    ]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    # paragraphs wrapped like the rest of the file; table rows and headings as they are
    wrap = textwrap.TextWrapper(100, break_long_words=False, break_on_hyphens=False)
    wrapped = [ln if ln.startswith(("|", "#")) or not ln else wrap.fill(ln) for ln in lines]
    section = "\n".join(wrapped).rstrip("\n") + "\n"
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {SECTION!r} in {RESULTS}")


if __name__ == "__main__":
    main()
