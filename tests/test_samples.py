"""vhframe's own sample files: their exact content, their layout in the cache, how they are
written (atomically, once, as UTF-8 whatever the locale)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ascii_locale_env
from vhframe import files
from vhframe.builtins.samples import (
    ALPACA_TASKS,
    ARGUMENTS,
    BENIGN_SAMPLE_FILES,
    DOLLY_TASKS,
    GRAMMAR_PAIRS,
    HARMFUL_PROMPTS,
    SAMSUM_DIALOGUES,
    sample_dir,
    write_benign_samples,
    write_hexphi_sample,
    write_touche_sample,
)
from vhframe.builtins.touche import LEVEL2_TO_VALUE, load_split


def test_touche_sample_holds_every_argument_with_its_labels(tmp_path: Path) -> None:
    write_touche_sample(tmp_path)
    examples = load_split(tmp_path / "arguments-training.tsv", tmp_path / "labels-training.tsv")
    assert len(examples) == len(ARGUMENTS)
    for i, (ex, (conclusion, stance, premise, labels)) in enumerate(
        zip(examples, ARGUMENTS, strict=True), start=1
    ):
        assert (ex.id, ex.conclusion, ex.stance, ex.premise) == (
            f"S{i:05d}",
            conclusion,
            stance,
            premise,
        )
        assert set(ex.values) == {LEVEL2_TO_VALUE[label] for label in labels}
    raw = (tmp_path / "arguments-training.tsv").read_bytes()
    # LF line endings, as the real Touché23 files have
    assert raw.startswith(b"Argument ID\tConclusion\tStance\tPremise\nS00001\t")
    assert b"\r" not in raw + (tmp_path / "labels-training.tsv").read_bytes()


def test_hexphi_sample_is_written_into_a_new_nested_folder(tmp_path: Path) -> None:
    path = write_hexphi_sample(tmp_path / "a" / "b")
    assert path == tmp_path / "a" / "b" / "hexphi-sample.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"category,prompt\nillegal_activity,") and b"\r" not in raw
    with path.open(encoding="utf-8", newline="") as fh:
        assert [tuple(r) for r in csv.reader(fh)] == [("category", "prompt"), *HARMFUL_PROMPTS]


def test_benign_samples_hold_the_tasks_in_each_data_sets_format(tmp_path: Path) -> None:
    d = write_benign_samples(tmp_path / "x" / "benign")
    assert d == tmp_path / "x" / "benign"
    alpaca = json.loads((d / "alpaca-sample.json").read_text(encoding="utf-8"))
    assert [(t["instruction"], t["input"], t["output"]) for t in alpaca] == list(ALPACA_TASKS)
    dolly = [json.loads(line) for line in (d / "dolly-sample.jsonl").read_text().splitlines()]
    assert [tuple(r.values()) for r in dolly] == list(DOLLY_TASKS)
    assert list(dolly[0]) == ["instruction", "context", "response", "category"]
    raw = (d / "grammar-sample.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfinput,target\nShe go to school every days.,")
    with (d / "grammar-sample.csv").open(encoding="utf-8-sig", newline="") as fh:
        assert [tuple(r) for r in csv.reader(fh)] == [("input", "target"), *GRAMMAR_PAIRS]
    samsum = json.loads((d / "samsum-sample.json").read_text(encoding="utf-8"))
    # the corpus breaks dialogue lines with CRLF
    assert samsum[0] == {
        "id": "vh-0001",
        "summary": "Anna and Ben will meet at 6 at the cafe by the station.",
        "dialogue": "Anna: Are we still meeting at 6?\r\n"
        "Ben: Yes, at the cafe by the station.\r\nAnna: Great, see you there!",
    }
    assert [(r["id"], r["dialogue"].split("\r\n"), r["summary"]) for r in samsum] == [
        (i, list(lines), s) for i, lines, s in SAMSUM_DIALOGUES
    ]


def _files(d: Path) -> dict[str, int]:
    return {str(p.relative_to(d)): p.stat().st_ino for p in sorted(d.rglob("*")) if p.is_file()}


def test_sample_dir_layout_written_once_and_repaired(tmp_path: Path) -> None:
    d = sample_dir(tmp_path)
    assert d == tmp_path / "samples" / "v1"
    first = _files(d)
    assert sorted(first) == sorted(
        [
            "touche23/arguments-training.tsv",
            "touche23/labels-training.tsv",
            "hexphi-sample.csv",
            *[f"benign/{f}" for f in BENIGN_SAMPLE_FILES],
        ]
    )
    # a second use rewrites nothing: each file is still the same inode
    assert sample_dir(tmp_path) == d
    assert _files(d) == first
    # a deleted file is written again, into the existing folder, and only the missing family is
    (d / "benign" / "dolly-sample.jsonl").unlink()
    sample_dir(tmp_path)
    again = _files(d)
    assert sorted(again) == sorted(first)
    changed = {f for f in first if again[f] != first[f]}
    assert changed >= {"benign/dolly-sample.jsonl"}
    assert all(f.startswith("benign/") for f in changed)


def test_samples_are_replaced_atomically_from_beside_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str, dst: Path) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    sample_dir(tmp_path)
    assert len(moves) == 3 + len(BENIGN_SAMPLE_FILES)
    for src, dst in moves:
        # same folder, so the rename is atomic; hidden and named for its target if left over
        assert src.parent == dst.parent
        assert src.name.startswith(f".{dst.name}.")


def test_samples_are_utf8_whatever_the_locale(tmp_path: Path) -> None:
    env = ascii_locale_env()
    code = (
        "import sys, locale; from pathlib import Path;"
        "from vhframe.builtins.samples import sample_dir;"
        "assert locale.getpreferredencoding(False) != 'UTF-8';"
        "sample_dir(Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], env=env, check=True)
    ours, theirs = sample_dir(tmp_path / "u"), tmp_path / "c" / "samples" / "v1"
    names = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    for name in names:
        assert (theirs / name).read_bytes() == (ours / name).read_bytes(), name
