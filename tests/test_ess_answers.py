"""ESS answers → value means → nearest respondents, on small files written here."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from vhframe.builtins.ess import PVQ21_ITEMS, EssNearest, js_distance, value_means
from vhframe.builtins.profiles import extreme_profiles
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import VALUES

COLUMNS = [c for v in VALUES for c in PVQ21_ITEMS[v]]


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)


def _write(path: Path, rows: list[list[object]], header: list[str] | None = None) -> Path:
    head = header if header is not None else ["idno", *COLUMNS]
    lines = [",".join(head)] + [",".join(str(c) for c in r) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _means(codes: list[int]) -> list[float]:
    out, start = [], 0
    for v in VALUES:
        width = len(PVQ21_ITEMS[v])
        out.append(sum(codes[start : start + width]) / width)
        start += width
    return out


def test_value_means_drop_missing_codes_and_repeated_vectors(tmp_path: Path) -> None:
    a = [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 6]
    b = [6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 2, 3, 4, 5, 6, 1, 1, 1, 1]
    rows: list[list[object]] = [
        ["r1", *a],
        ["r2", *([3] * 20 + [66])],  # any missing code drops the respondent
        ["r3", *b],
        ["r4", *a],  # the same means as r1: kept once, at its first appearance
        ["r5", *([77] + [3] * 20)],
    ]
    f = _write(tmp_path / "ess.csv", rows)
    ids, means = value_means(f)
    assert ids == ["r1", "r3"]
    np.testing.assert_array_equal(means, [_means(a), _means(b)])
    ids_c, rev = value_means(f, "corrected")
    assert ids_c == ["r1", "r3"]
    np.testing.assert_array_equal(rev, [_means([7 - c for c in a]), _means([7 - c for c in b])])


def test_value_means_errors_name_file_and_line(tmp_path: Path) -> None:
    gone = tmp_path / "gone.csv"
    with pytest.raises(DataError) as err:
        value_means(gone)
    assert str(err.value) == f"{gone}: file not found"

    header = [c for c in COLUMNS if c != "impenva"]
    f = _write(tmp_path / "ess.csv", [[3] * 20], header=header)
    with pytest.raises(DataError) as err:
        value_means(f)
    assert str(err.value) == f"{f}:1: missing column(s) ['idno', 'impenva']; found header {header}"

    for bad in ("x", "", "2.5"):
        f = _write(tmp_path / "ess.csv", [["r1", *[3] * 21], ["r2", *[3] * 20, bad]])
        with pytest.raises(DataError) as err:
            value_means(f)
        assert str(err.value) == f"{f}:3: expected integer answer codes"
    f.write_text(f.read_text().splitlines()[0] + "\nr1,3,3\n")  # a short row
    with pytest.raises(DataError) as err:
        value_means(f)
    assert str(err.value) == f"{f}:2: expected 22 comma-separated fields, found 3"

    for code in (0, 7):
        f = _write(tmp_path / "ess.csv", [["r1", *[3] * 21], ["r2", *[3] * 20, code]])
        with pytest.raises(DataError) as err:
            value_means(f)
        assert str(err.value) == (
            f"{f}:3: answer codes must be 1-6 or a missing code [66, 77, 88, 99], "
            f"found {{'impenva': {code}}}"
        )

    f = _write(tmp_path / "ess.csv", [["r1", *[88] * 21]])
    with pytest.raises(DataError) as err:
        value_means(f)
    assert str(err.value) == f"{f}: no respondent without missing answers"


def test_parameters_are_checked(tmp_path: Path) -> None:
    f = _write(tmp_path / "ess.csv", [["r1", *[3] * 21]])
    for k in (0, -1, True, 2.5, "3"):
        with pytest.raises(ParamError) as err:
            EssNearest(str(f), k=k)  # type: ignore[arg-type]
        assert (err.value.param, str(err.value)) == (
            "k",
            f"expected a positive integer, found {k!r}",
        )
    with pytest.raises(ParamError) as err:
        EssNearest(str(f), reading="reversed")
    assert (err.value.param, str(err.value)) == (
        "reading",
        "expected one of ('faithful', 'corrected'), found 'reversed'",
    )
    with pytest.raises(ParamError) as err:
        EssNearest(str(tmp_path / "none.csv"))
    assert (err.value.param, str(err.value)) == ("path", f"file not found: {tmp_path / 'none.csv'}")


def test_nearest_respondents_names_scores_and_sources(ctx: RunContext, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(1, 7, (8, 21)).tolist()
    f = _write(tmp_path / "ess.csv", [[f"p{i}", *c] for i, c in enumerate(codes)])
    means = np.array([_means(c) for c in codes])
    for reading, include in (("faithful", True), ("corrected", False)):
        got = EssNearest(str(f), k=2, reading=reading, include_extreme=include).load(ctx)
        rows = (
            means
            if reading == "faithful"
            else np.array([_means([7 - x for x in c]) for c in codes])
        )
        expected = list(extreme_profiles()) if include else []
        for target in extreme_profiles():
            d = [jensenshannon(np.array(target.scores), q) for q in rows]
            order = sorted(range(len(rows)), key=lambda i: d[i])[:2]
            for rank, i in enumerate(order, start=1):
                name = f"close_{target.name}" + (f"_{rank}" if rank > 1 else "")
                source = f"ESS idno p{i} ({reading}), JS distance {d[i]:.6f} to {target.name}"
                expected.append((name, tuple(rows[i]), source))
        assert [
            p if p.source == "extreme" else (p.name, p.scores, p.source) for p in got
        ] == expected


def test_js_distance_handles_zero_shares_and_identical_rows() -> None:
    p = np.array([0.0, 1.0, 2.0, 0.0])
    Q = np.array([[1.0, 1.0, 0.0, 2.0], [0.0, 2.0, 4.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) and 0 * log(0) stay silent
        got = js_distance(p, Q)
    np.testing.assert_allclose(got, [jensenshannon(p, q) for q in Q], rtol=1e-12, atol=0)
    assert got[1] == 0.0 and got[2] == pytest.approx(np.sqrt(np.log(2)), rel=1e-12)


def test_bom_single_respondent_and_k_equal_to_the_respondents(
    ctx: RunContext, tmp_path: Path
) -> None:
    f = tmp_path / "ess.csv"
    codes = [2] * 20 + [5]
    f.write_bytes(
        ("\ufeffidno," + ",".join(COLUMNS) + "\nr9," + ",".join(map(str, codes)) + "\n").encode()
    )
    got = EssNearest(str(f), k=1, include_extreme=False).load(ctx)
    assert [p.name for p in got] == [f"close_{t.name}" for t in extreme_profiles()]
    assert {p.scores for p in got} == {tuple(_means(codes))}
    with pytest.raises(DataError) as err:
        EssNearest(str(f), k=2).load(ctx)
    assert (err.value.file, str(err.value)) == (
        str(f),
        f"{f}: k = 2 but only 1 complete respondents",
    )


def test_equal_distances_keep_the_files_order(ctx: RunContext, tmp_path: Path) -> None:
    # pairs of respondents whose Conformity and Hedonism answers are swapped lie at exactly
    # the same distance from every profile that scores the two values alike
    con = [COLUMNS.index(c) for c in PVQ21_ITEMS["Conformity"]]
    hed = [COLUMNS.index(c) for c in PVQ21_ITEMS["Hedonism"]]
    rng = np.random.default_rng(3)
    rows: list[list[object]] = []
    for i in range(30):
        a = rng.integers(1, 7, 21).tolist()
        a[con[0]], a[con[1]], a[hed[0]], a[hed[1]] = 2, 3, 5, 6
        b = list(a)
        b[con[0]], b[con[1]], b[hed[0]], b[hed[1]] = 5, 6, 2, 3
        rows += [[f"a{i}", *a], [f"b{i}", *b]]
    f = _write(tmp_path / "ess.csv", rows)
    ids, means = value_means(f)
    n = len(ids)
    got = EssNearest(str(f), k=n, include_extreme=False).load(ctx)
    targets = {p.name: p for p in extreme_profiles()}
    for target in (targets["Ach"], targets["Self-Transcendence"]):
        d = js_distance(np.array(target.scores), means)
        assert len(set(d.tolist())) < n  # there are ties to break
        expected = [ids[i] for i in sorted(range(n), key=lambda i: (d[i], i))]
        mine = [p for p in got if p.source.endswith(f" to {target.name}")]
        assert [p.source.split()[2] for p in mine] == expected
