"""Results cross from the Rust extension as frozen classes with named fields; the public
functions of ``vhframe.stats`` and ``vhframe.scan`` turn them into their own types."""

from __future__ import annotations

import numpy as np
import pytest

from vhframe import _core, stats
from vhframe.scan import Lexicon, Pattern, scan

X = np.arange(12.0)
Y = X % 5


def _results() -> dict[str, object]:
    codes = (X % 3).astype(np.uint32)
    return {
        "Interval": _core.bootstrap_mean(X, 50, 0.95, "bca", 0),
        "Correlation": _core.pearson(X, Y),
        "OlsFit": _core.ols(X.reshape(-1, 1), Y.reshape(-1, 1)),
        "OlsBootstrap": _core.bootstrap_ols(
            X.reshape(-1, 1), Y.reshape(-1, 1), None, 50, 0.95, "bca", 0
        ),
        "GroupIntervals": _core.bootstrap_groups(X, codes, 3, 50, 0.95, "bca", 0),
        "Toxicity": _core.toxicity_matrix(X.reshape(4, 3) / 12, 0.5, 50, 0.95, "bca", 0),
        "PermutationTest": _core.permutation_corr(X, Y, "pearson", 50, 0),
        "ScanScores": _core.scan_texts(_core.ScanMatcher([["a b"]]), ["a b", "x"]),
        "PhrasePattern": _core.scan_pattern("f@ck off"),
    }


@pytest.mark.parametrize("name", sorted(_results()))
def test_results_are_frozen_named_classes(name: str) -> None:
    r = _results()[name]
    cls = getattr(_core, name)
    assert type(r) is cls and cls.__module__ == "vhframe._core"
    assert repr(r).startswith(f"{name}(")
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        type("Sub", (cls,), {})
    field = repr(r).split("(", 1)[1].split("=", 1)[0]
    with pytest.raises(AttributeError):
        setattr(r, field, 0)


def test_reprs_show_the_values_as_python_would() -> None:
    i = _core.bootstrap_mean(np.array([1.0, 2.0, 4.0]), 20, 0.9, "percentile", 1)
    assert repr(i) == (
        f"Interval(estimate={i.estimate!r}, low={i.low!r}, high={i.high!r}, se={i.se!r})"
    )
    assert repr(_core.scan_pattern("(@55)")) == (
        "PhrasePattern(tokens=['55'], gaps=['@', None], weak=False)"
    )
    assert repr(_core.scan_texts(_core.ScanMatcher([["a"], ["b"]]), ["a", "b", "c"])) == (
        "ScanScores(lexicons=2, texts=3)"
    )
    fit = _core.ols(X.reshape(-1, 1), Y.reshape(-1, 1))
    assert repr(fit) == "OlsFit(responses=1, terms=2, n=12, df_resid=10, df_model=1)"
    t = _core.permutation_diff_means(np.array([1.0, 2.0]), np.array([3.0, 5.0]), 10, 0)
    assert repr(t) == "PermutationTest(statistic=-2.5, pvalue=0.3333333333333333, " + (
        "n_resamples=6, exact=True)"
    )
    assert repr(_core._stats_engines()).startswith("StatsEngines(engine='")


def test_public_results_keep_python_types() -> None:
    ci = stats.bootstrap_mean(X, n_resamples=50)
    assert all(type(v) is float for v in (ci.estimate, ci.low, ci.high, ci.se))
    c = stats.pearson(X, Y)
    assert type(c.statistic) is float and type(c.pvalue) is float and type(c.n) is int
    p = stats.permutation_pearson(X, Y, n_resamples=50)
    assert type(p.n_resamples) is int and type(p.exact) is bool and type(p.pvalue) is float
    fit = stats.ols(X, Y)
    assert all(type(v) is int for v in (fit.n, fit.df_resid, fit.df_model))
    assert fit.coef.shape == (1, 2) and fit.r2.shape == (1,)
    boot = stats.bootstrap_ols(X, Y, n_resamples=50)
    assert type(boot.redrawn) is int and boot.low.shape == fit.coef.shape
    tox = stats.rtp_toxicity(X.reshape(4, 3) / 12, n_resamples=50)
    assert type(tox.n_prompts) is int and type(tox.expected_max.estimate) is float
    g = stats.bootstrap_groups(X, X % 3, n_resamples=50)
    assert g.n.dtype == np.uint64 and g.groups == (0.0, 1.0, 2.0)
    pat = Pattern.of("f@ck off")
    assert pat.tokens == ("f", "ck", "off") and pat.gaps == (None, "@", None, None)
    r = scan(["f@ck off", "off"], Lexicon.from_phrases("x", ["off"]))
    assert r.count.tolist() == [1, 1] and r.count.dtype == np.int64
