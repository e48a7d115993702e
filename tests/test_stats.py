"""niah.stats against independent computations: scipy's exact binomial interval and test, closed
forms worked by hand, and simulations with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from niah.stats import (
    clustered_interval,
    exact_interval,
    holm,
    mcnemar,
    mean_interval,
    needles_to_resolve,
    paired_difference,
    resolvable_difference,
)

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is a test dependency: pip install -e .[test]")


@pytest.mark.parametrize("n", [1, 4, 5, 16, 40, 97])
def test_exact_interval_is_scipys_clopper_pearson(n):
    for k in range(n + 1):
        ref = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert exact_interval(k, n, 0.05) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_a_cell_of_5_samples_gets_the_wide_interval_the_issue_names():
    estimate = mean_interval([1, 1, 1, 1, 0], ["a", "b", "c", "d", "e"])
    assert (estimate.value, estimate.n, estimate.clusters) == (0.8, 5, 5)
    assert (estimate.low, estimate.high) == pytest.approx((0.284, 0.995), abs=1e-3)  # "about [0.38, 0.96]" is Wilson's
    wilson = scipy_stats.binomtest(4, 5).proportion_ci(0.95, method="wilson")
    assert (wilson.low, wilson.high) == pytest.approx((0.376, 0.964), abs=1e-3)


def test_a_clustered_mean_is_wider_than_the_naive_one_by_the_sandwich_closed_form():
    """4 needles × 5 samples, each needle all right or all wrong: p = 1/2, cluster residuals ±2.5,
    sandwich variance 4/3 · 4 · 2.5² / 20² = 1/12, effective n = (1/4)/(1/12) = 3: the exact interval
    of 2 in 3 (round half to even of 1.5), against 10 in 20 for 20 independent samples."""
    values = np.array([1.0] * 10 + [0.0] * 10)
    clusters = [c for c in "abcd" for _ in range(5)]
    clustered = clustered_interval(values, clusters, 0.05)
    assert clustered == pytest.approx(exact_interval(2, 3, 0.05))
    naive = exact_interval(10, 20, 0.05)
    assert clustered[1] - clustered[0] > 1.5 * (naive[1] - naive[0])
    estimate = mean_interval(values, clusters)
    assert (estimate.low, estimate.high) == pytest.approx(clustered) and "clustered" in estimate.method


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.random(30) < 0.6, rng.random(30) < 0.4
        only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
        ref = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        assert mcnemar(list(a), list(b)) == pytest.approx(ref)


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])  # 3·0.01; max(2·0.03, 1·0.04)
    assert holm([0.5]) == [0.5] and holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def simulate(rng, needles=40, per_needle=5, shift=0.0, icc_spread=0.35):
    """Paired outcomes with needle effects: needle g has accuracy q_g ~ 0.5 ± icc_spread under A and
    q_g − shift under B, its samples independent given q_g."""
    q = np.clip(0.5 + rng.uniform(-icc_spread, icc_spread, needles), 0, 1)
    a = rng.random((needles, per_needle)) < q[:, None]
    b = rng.random((needles, per_needle)) < np.clip(q - shift, 0, 1)[:, None]
    clusters = [str(g) for g in range(needles) for _ in range(per_needle)]
    return a.ravel().astype(float), b.ravel().astype(float), clusters


def test_paired_difference_keeps_its_level_and_finds_a_planted_difference():
    rng = np.random.default_rng(1)
    false = [paired_difference(*simulate(rng), resamples=500, seed=i).p < 0.05 for i in range(200)]
    assert np.mean(false) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)  # no more false positives than the level
    found = [paired_difference(*simulate(rng, shift=0.15), resamples=500, seed=i) for i in range(50)]
    assert np.mean([d.p < 0.05 and d.resolved for d in found]) >= 0.7  # the planner's 0.098 half-width: power ~0.8
    assert np.mean([d.difference for d in found]) == pytest.approx(0.15, abs=0.03)


def test_the_planner_predicts_the_observed_half_width_within_a_quarter():
    """Samples of one needle correlate (needle accuracies uniform on 0.5 ± 0.35: an intra-needle
    correlation of 0.35² / 3 / 0.25 = 0.16 under each condition), but the needle acts on both
    conditions alike, so the paired differences are independent: the planner's default."""
    rng = np.random.default_rng(2)
    observed = np.mean([(d.high - d.low) / 2 for d in (paired_difference(*simulate(rng), resamples=500, seed=i)
                                                       for i in range(100))])  # fmt: skip
    predicted = resolvable_difference(40, 5)
    assert abs(predicted - observed) <= 0.25 * observed, (predicted, observed)
    for icc in (0.0, 0.3):
        enough = needles_to_resolve(0.10, 5, icc)
        assert resolvable_difference(enough, 5, icc) <= 0.10 < resolvable_difference(enough - 1, 5, icc)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 20, 100])
def test_t_quantile_is_scipys(df):
    from scipy.stats import t

    from niah.stats import t_quantile

    for p in (0.9, 0.975, 0.995):
        assert t_quantile(p, df) == pytest.approx(t.ppf(p, df), rel=1e-9)


def test_a_mean_of_masses_gets_students_t_over_the_needles_means():
    from scipy.stats import t

    from niah.stats import mean_bounds

    rng = np.random.default_rng(3)
    needles = [f"n{i}" for i in range(6) for _ in range(5)]
    values = np.clip(rng.normal(0.3, 0.05, 30) + np.repeat(rng.normal(0, 0.05, 6), 5), 0, 1)
    means = values.reshape(6, 5).mean(1)
    low, high = t.interval(0.95, 5, loc=values.mean(), scale=means.std(ddof=1) / np.sqrt(6))
    assert mean_bounds(values, needles) == pytest.approx((low, high))
    seeds = ["a", "b"] * 15  # two seeds: the wider of the two clusterings
    assert np.subtract(*mean_bounds(values, needles, seeds)[::-1]) >= high - low - 1e-12


def test_a_difference_over_seeds_is_the_wider_of_students_t_over_seeds_and_the_needle_bootstrap():
    """Three seeds' models on the same items: the seeds' mean differences give Student's t with 2 df
    (scipy's one-sample t test); the needle bootstrap of the seed-averaged difference gives the
    other; the reported interval is the wider, the p-value the larger."""
    from scipy.stats import ttest_1samp

    from niah.stats import seeded_difference

    rng = np.random.default_rng(5)
    needles = [f"n{i}" for i in range(30) for _ in range(5)]
    b = [rng.random(150) < 0.5 for _ in range(3)]
    shifts = (0.3, -0.1, 0.2)  # the seeds disagree: seed spread dominates
    a = [np.where(rng.random(150) < s, 1.0, x.astype(float)) if s > 0 else np.where(rng.random(150) < -s, 0.0,
         x.astype(float)) for x, s in zip(b, shifts, strict=True)]  # fmt: skip
    per_seed = [float(np.mean(x - y)) for x, y in zip(a, b, strict=True)]
    d = seeded_difference(a, b, needles)
    test = ttest_1samp(per_seed, 0.0)
    low, high = test.confidence_interval(0.95)
    assert d.difference == pytest.approx(np.mean(per_seed))
    assert (d.low, d.high) == pytest.approx((low, high)) and d.p == pytest.approx(test.pvalue)
    assert d.clusters == 30 and d.n == 150 and d.seeds == 3
    same = seeded_difference([a[0]] * 3, [b[0]] * 3, needles)  # no seed spread: the needle bootstrap's
    alone = paired_difference(a[0], b[0], needles)
    assert (same.low, same.high, same.p) == pytest.approx((alone.low, alone.high, alone.p))


def test_over_model_seeds_the_interval_is_students_t_over_the_seeds_or_the_needles_whichever_is_wider():
    """Three seeds' models: a spread between them widens the interval to Student's t over the seeds'
    means (scipy); seeds that agree exactly leave the needle-clustered interval, not a binomial over
    three clusters (which gave a perfect score [0.29, 1.00] beside 0.99 [0.95, 1.00])."""
    from scipy.stats import t

    from niah.stats import clustered_bounds

    needles = [f"n{i}" for i in range(39) for _ in range(5)] * 3
    seeds = [s for s in "abc" for _ in range(195)]
    perfect = np.ones(585)
    assert clustered_bounds(perfect, needles, seeds) == pytest.approx(clustered_bounds(perfect, needles))
    rng = np.random.default_rng(2)
    spread = np.concatenate([rng.random(195) < q for q in (0.95, 0.85, 0.70)]).astype(float)
    means = spread.reshape(3, 195).mean(1)
    low, high = t.interval(0.95, 2, loc=spread.mean(), scale=means.std(ddof=1) / np.sqrt(3))
    assert clustered_bounds(spread, needles, seeds) == pytest.approx((max(low, 0.0), min(high, 1.0)))
