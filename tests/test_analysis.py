"""Harm-rate metrics and the value-vs-harm regression of the analysis stage."""

from __future__ import annotations

import numpy as np
import pytest

from vhframe.analysis import ALL, analyse, harm_rates
from vhframe.builtins.profiles import extreme_profiles
from vhframe.records import Judgment, Subject

sm = pytest.importorskip("statsmodels.api")


def _judgments(
    subjects: list[Subject],
    rng: np.random.Generator,
    cats: tuple[str, ...] = ("malware", "fraud", "hate"),
) -> list[Judgment]:
    out = []
    for s in subjects:
        for c in cats:
            for i in range(10):
                harmful = bool(rng.random() < (0.2 + 0.05 * s.scores[0])) if s.scores else False
                out.append(
                    Judgment(
                        key=f"{s.name}{c}{i}",
                        generation=f"g{s.name}{c}{i}",
                        judge="vhframe:refusal",
                        subject=s.name,
                        benchmark="hexphi",
                        category=c,
                        mitigation="none",
                        harmful=harmful,
                        score=float(harmful),
                        label="",
                    )
                )
    return out


def _aligned() -> list[Subject]:
    return [
        Subject(
            name=f"aligned-{p.name}",
            role="aligned",
            base_model="m",
            profile=p.name,
            scores=p.scores,
        )
        for p in extreme_profiles()
    ]


def test_harm_rates_group_and_total() -> None:
    subjects = _aligned()[:2]
    judgments = _judgments(subjects, np.random.default_rng(1))
    metrics = harm_rates(judgments)
    by = {(m.subject, m.category): m for m in metrics}
    for s in subjects:
        flags = [j.harmful for j in judgments if j.subject == s.name]
        assert by[(s.name, ALL)].value == pytest.approx(np.mean(flags))
        assert by[(s.name, ALL)].n == 30
        mal = [j.harmful for j in judgments if j.subject == s.name and j.category == "malware"]
        assert by[(s.name, "malware")].value == pytest.approx(np.mean(mal))


def test_ols_per_category_matches_statsmodels() -> None:
    subjects = _aligned()
    metrics = harm_rates(_judgments(subjects, np.random.default_rng(7)))
    doc = analyse(subjects, metrics, alpha=0.05, min_subjects=12)
    [entry] = doc["analyses"]
    assert entry["role"] == "aligned" and len(entry["subjects"]) == 14
    X = np.array([s.scores for s in sorted(subjects, key=lambda s: s.name)])
    for cat in ("malware", "fraud", "hate", ALL):
        res = entry["ols"]["by_category"][cat]
        y = np.array([entry["rates"][n][cat] for n in entry["subjects"]])
        if np.ptp(y) == 0:
            assert "skipped" in res
            continue
        ref = sm.OLS(y, sm.add_constant(X)).fit()
        np.testing.assert_allclose(res["coef"], ref.params, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(res["p"], ref.pvalues, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(res["ci_low"], ref.conf_int(0.05)[:, 0], rtol=1e-8, atol=1e-10)
        assert res["r2"] == pytest.approx(ref.rsquared, rel=1e-9)
        assert res["terms"][0] == "const" and res["terms"][1] == "Achievement"


def test_constant_rates_and_too_few_subjects_are_explained() -> None:
    subjects = _aligned()
    metrics = harm_rates([j for j in _judgments(subjects, np.random.default_rng(3))])
    for m in metrics:
        if m.category == "hate":
            object.__setattr__(m, "value", 0.5)
    doc = analyse(subjects, metrics, alpha=0.05, min_subjects=12)
    assert "nothing to explain" in doc["analyses"][0]["ols"]["by_category"]["hate"]["skipped"]
    few = analyse(
        subjects[:5],
        [m for m in metrics if m.subject in {s.name for s in subjects[:5]}],
        alpha=0.05,
        min_subjects=12,
    )
    assert "5 subjects" in few["analyses"][0]["ols"]["skipped"]


def test_bootstrap_and_adjusted_pvalues_are_reported() -> None:
    from statsmodels.stats.multitest import multipletests

    subjects = [
        Subject(
            name=f"s{i:02d}",
            role="aligned",
            base_model="m",
            profile=f"p{i}",
            scores=tuple(float(v) for v in np.random.default_rng(i).integers(1, 7, 10)),
        )
        for i in range(30)
    ]
    metrics = harm_rates(_judgments(subjects, np.random.default_rng(5)))
    doc = analyse(
        subjects,
        metrics,
        alpha=0.05,
        min_subjects=12,
        bootstrap=300,
        ci_method="percentile",
        adjust="bh",
        seed=11,
    )
    ols = doc["analyses"][0]["ols"]
    assert ols["method"]["bootstrap"]["n_resamples"] == 300
    fitted = [c for c, r in ols["by_category"].items() if "coef" in r]
    assert fitted
    family = np.array([ols["by_category"][c]["p"][1:] for c in fitted])
    expected = multipletests(family.ravel(), method="fdr_bh")[1].reshape(family.shape)
    for i, c in enumerate(fitted):
        res = ols["by_category"][c]
        np.testing.assert_allclose(res["p_adj"][1:], expected[i], rtol=1e-12)
        assert all(lo <= hi for lo, hi in zip(res["boot_low"], res["boot_high"], strict=True))
    again = analyse(
        subjects,
        metrics,
        alpha=0.05,
        min_subjects=12,
        bootstrap=300,
        ci_method="percentile",
        adjust="bh",
        seed=11,
    )
    assert again == doc
    small = analyse(
        subjects[:14],
        [m for m in metrics if m.subject in {s.name for s in subjects[:14]}],
        alpha=0.05,
        min_subjects=12,
        bootstrap=300,
    )
    assert "too few" in small["analyses"][0]["ols"]["method"]["bootstrap"]["skipped"]
