"""Intervals and paired comparisons for accuracies of few, clustered samples (numpy only).

A heatmap cell holds a handful of samples, and the samples of one needle are not independent (the
same image at every depth and length). So:

- a fraction of samples gets the exact (Clopper–Pearson) interval (`exact_interval`);
- a mean over many samples gets the exact interval at its *effective* sample size, from the
  cluster-robust (sandwich) variance of the mean with needles (and model seeds) as clusters
  (`effective_sample`, `clustered_interval`): a handful of needles gives the wide interval it
  deserves;
- a difference of two variants, models or runs on the same samples is paired
  (`paired_difference`): a percentile bootstrap over clusters for the interval and a sign-flip
  randomisation test over clusters for the p-value; per heatmap cell, McNemar's exact test
  (`mcnemar`), Holm-corrected across a table (`holm`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LEVEL = 0.95
CLUSTER_METHOD = ("exact (Clopper-Pearson) at the needle-clustered effective sample size; over several model "
                  "seeds, the wider of that and Student's t over the seeds' means")
CELL_METHOD = "exact (Clopper-Pearson)"
BOOTSTRAP = 2000  # cluster resamples of a paired difference

def effective_sample(values: np.ndarray, clusters: list[str]) -> tuple[float, float]:
    """(mean p, effective sample size) of per-item accuracies `values` (in [0, 1]) whose items are
    correlated within clusters: n_eff = p(1 − p) / Var with the cluster-robust (sandwich) variance
    of the mean, at most the number of items; where that variance is 0 (all right or all wrong),
    n_eff = the number of clusters."""
    n = len(values)
    p = float(values.mean())
    groups: dict[str, list[float]] = defaultdict(list)
    for v, c in zip(values, clusters, strict=True):
        groups[c].append(float(v))
    g = len(groups)
    resid = np.array([sum(vs) - p * len(vs) for vs in groups.values()])
    var = (g / (g - 1) if g > 1 else 1.0) * float((resid**2).sum()) / n**2
    n_eff = min(n, p * (1 - p) / var) if var > 0 and 0 < p < 1 else float(g)
    return p, max(n_eff, 1.0)


@lru_cache(maxsize=256)
def _log_factorials(n: int) -> np.ndarray:
    """(n + 1,) log i! for i = 0 … n."""
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))])


def _binomial_tail(k: int, n: int, q: float, upper: bool) -> float:
    """P(X >= k) (upper) or P(X <= k) for X ~ Binomial(n, q)."""
    if q <= 0.0:
        return float(k <= 0) if upper else 1.0
    if q >= 1.0:
        return 1.0 if upper else float(k >= n)
    i = np.arange(k, n + 1) if upper else np.arange(0, k + 1)
    lf = _log_factorials(n)
    logs = lf[n] - lf[i] - lf[n - i] + i * math.log(q) + (n - i) * math.log1p(-q)
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


@lru_cache(maxsize=65536)
def exact_interval(k: int, n: int, alpha: float) -> tuple[float, float]:
    """The Clopper–Pearson (exact binomial) 1 − alpha interval for k successes in n trials, by
    bisection on the binomial tails."""

    def solve(f: Callable[[float], float]) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
        return (lo + hi) / 2

    low = 0.0 if k == 0 else solve(lambda q: _binomial_tail(k, n, q, True) - alpha / 2)
    high = 1.0 if k == n else solve(lambda q: alpha / 2 - _binomial_tail(k, n, q, False))
    return low, high


def clustered_interval(values: np.ndarray, clusters: list[str], alpha: float) -> tuple[float, float]:
    """A 1 − alpha interval for the mean accuracy: the exact binomial interval of
    round(p · n_eff) successes in round(n_eff) trials (`effective_sample`), so a handful of
    needles gives the wide interval it deserves."""
    p, n_eff = effective_sample(values, clusters)
    n = max(1, round(n_eff))
    return exact_interval(min(n, round(p * n)), n, alpha)


# ------------------------------------------------------------------------------------ the audit


@dataclass(frozen=True)
class Estimate:
    """A mean with its 1 − alpha interval: `value`, `low`, `high` (fractions), over `n` samples in
    `clusters` clusters, by `method`."""

    value: float
    low: float
    high: float
    n: int
    clusters: int
    method: str

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_interval(values: Sequence[float], clusters: Sequence[str], alpha: float = 1 - LEVEL) -> Estimate:
    """The mean of per-sample scores in [0, 1] with its interval: exact for independent samples (one
    per cluster), exact at the effective sample size where clusters hold several."""
    values = np.asarray(values, dtype=float)
    groups = len(set(clusters))
    if groups == len(values) and np.isin(values, (0.0, 1.0)).all():
        low, high = exact_interval(int(values.sum()), len(values), alpha)
        method = CELL_METHOD
    else:
        low, high = clustered_interval(values, list(clusters), alpha)
        method = CLUSTER_METHOD
    return Estimate(float(values.mean()), low, high, len(values), groups, method)


def clustered_bounds(values: Sequence[float], needles: Sequence[str], seeds: Sequence[str] = ()
                     ) -> tuple[float, float]:  # fmt: skip
    """The 95 % interval of a mean over samples clustered by needle (`mean_interval`) and, where
    several model seeds meet, the wider of that and Student's t over the seeds' means (seeds − 1
    df: how much models of one design differ; seeds that agree exactly add nothing), clipped to
    [0, 1]; NaN for no samples. The one rule for summaries, tables and plots."""
    if not len(values):
        return float("nan"), float("nan")
    by_needle = mean_interval(values, needles)
    half = student_half_width(cluster_means(values, seeds))
    if not 2 * half > by_needle.high - by_needle.low:  # one seed (NaN), or seeds that agree closely
        return by_needle.low, by_needle.high
    mean = float(np.mean(values))
    return max(0.0, mean - half), min(1.0, mean + half)


def _t_central(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t with integer `df` (Abramowitz & Stegun 26.7.3–4: a finite series
    in θ = atan(t/√df))."""
    theta = math.atan(t / math.sqrt(df))
    c, s = math.cos(theta), math.sin(theta)
    if df % 2:
        series, a = 0.0, 1.0
        for j in range((df - 1) // 2):  # Σ a_j c^(2j+1), a_j = Π 2i/(2i+1)
            a = a * (2 * j) / (2 * j + 1) if j else 1.0
            series += a * c ** (2 * j + 1)
        return 2 / math.pi * (theta + s * series)
    series, b = 0.0, 1.0
    for j in range(df // 2):  # Σ b_j c^(2j), b_j = Π (2i−1)/(2i)
        b = b * (2 * j - 1) / (2 * j) if j else 1.0
        series += b * c ** (2 * j)
    return s * series


def t_quantile(p: float, df: int) -> float:
    """The p-quantile (p > 0.5) of Student's t with integer `df` degrees of freedom, by bisection on
    its exact distribution function, P(T ≤ t) = (1 + P(|T| ≤ t)) / 2 for t ≥ 0 (`_t_central`)."""

    def below(t: float) -> bool:
        return 0.5 + _t_central(t, df) / 2 < p

    low, high = 0.0, 1.0
    while below(high):
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if below(mid) else (low, mid)
    return (low + high) / 2


def cluster_means(values: Sequence[float], clusters: Sequence[str]) -> np.ndarray:
    """The mean of `values` within each cluster (clusters as they first appear; `clusters` may be
    empty: no clusters)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for v, c in zip(values, clusters, strict=False):
        groups[c].append(float(v))
    return np.array([np.mean(g) for g in groups.values()])


def student_half_width(means: Sequence[float], alpha: float = 1 - LEVEL) -> float:
    """Half the width of the 1 − alpha Student's t interval of the mean of `means` (len − 1 degrees
    of freedom); NaN for fewer than two."""
    means = np.asarray(means, dtype=float)
    if len(means) < 2:
        return float("nan")
    return t_quantile(1 - alpha / 2, len(means) - 1) * float(means.std(ddof=1)) / math.sqrt(len(means))


def mean_bounds(values: Sequence[float], needles: Sequence[str], seeds: Sequence[str] = ()
                ) -> tuple[float, float]:  # fmt: skip
    """The 95 % interval of the mean of continuous values in [0, 1] (attention masses), samples
    clustered by needle and, where several meet, by model seed (the wider): Student's t over the
    clusters' means, clipped to [0, 1]. With a single cluster, `clustered_bounds`' binomial interval
    (the widest a [0, 1] mean can honestly get); NaN for no samples."""
    if not len(values):
        return float("nan"), float("nan")
    values = np.asarray(values, dtype=float)
    widest = None
    for clusters in (needles, seeds):
        half = student_half_width(cluster_means(values, clusters))
        if half != half:  # fewer than two clusters
            continue
        bounds = (max(0.0, values.mean() - half), min(1.0, values.mean() + half))
        widest = bounds if widest is None or bounds[1] - bounds[0] > widest[1] - widest[0] else widest
    return widest if widest is not None else clustered_bounds(values, needles)


@dataclass(frozen=True)
class Difference:
    """A − B on paired samples: `difference` with its bootstrap interval `low`..`high` and the
    two-sided p-value `p` of the sign-flip test, over `n` pairs in `clusters` clusters (and, from
    `seeded_difference`, the models of `seeds` training seeds)."""

    difference: float
    low: float
    high: float
    p: float
    n: int
    clusters: int
    seeds: int = 1

    @property
    def resolved(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0

    def as_json(self) -> dict:
        return {"difference": self.difference, "ci_low": self.low, "ci_high": self.high, "p": self.p, "n": self.n,
                "clusters": self.clusters, "seeds": self.seeds}  # fmt: skip


def paired_difference(a: Sequence[float], b: Sequence[float], clusters: Sequence[str], alpha: float = 1 - LEVEL,
                      seed: int = 0, resamples: int = BOOTSTRAP) -> Difference:  # fmt: skip
    """A − B over paired samples (a[i] and b[i] are the same sample under two conditions) whose
    pairs are correlated within `clusters`: the percentile interval of `resamples` bootstrap
    resamples of whole clusters, and the p-value of flipping the sign of each cluster's summed
    difference at random (exact over every flip for up to 12 clusters)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0:
        raise ValueError("no paired samples")
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for x, c in zip(d, clusters, strict=True):
        sums[c] += x
        counts[c] += 1
    s = np.array(list(sums.values()))
    m = np.array(list(counts.values()), dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(s), size=(resamples, len(s)))
    boot = s[picks].sum(1) / m[picks].sum(1)
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    observed = abs(s.sum())
    if len(s) <= 12:
        signs = np.array([[1 - 2 * ((k >> j) & 1) for j in range(len(s))] for k in range(2 ** len(s))])
    else:
        signs = rng.choice([-1.0, 1.0], size=(resamples, len(s)))
    flipped = np.abs(signs @ s)
    p = float(np.mean(flipped >= observed - 1e-12))
    return Difference(float(d.mean()), float(low), float(high), p, len(d), len(s))


def seeded_difference(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], clusters: Sequence[str],
                      alpha: float = 1 - LEVEL, seed: int = 0) -> Difference:  # fmt: skip
    """A − B where the models of each training seed (a[s], b[s]: one score per sample) answered the
    same paired samples, clustered by needle: the mean over seeds and samples; its interval the
    wider of Student's t over the seeds' mean differences (seeds − 1 df: how much the models of
    one design differ) and the needle bootstrap of the seed-averaged differences (how much the
    items do, `paired_difference`), and the larger of the two p-values. One seed: `paired_difference`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)  # (seeds, samples)
    items = paired_difference(a.mean(0), b.mean(0), clusters, alpha, seed)
    if len(a) < 2:
        return items
    per_seed = (a - b).mean(1)
    k, mean = len(per_seed), float(per_seed.mean())
    se = float(per_seed.std(ddof=1)) / math.sqrt(k)
    half = student_half_width(per_seed, alpha)
    p_seeds = 1 - _t_central(abs(mean) / se, k - 1) if se > 0 else float(mean == 0)
    low, high = (mean - half, mean + half) if 2 * half > items.high - items.low else (items.low, items.high)
    return Difference(mean, low, high, max(p_seeds, items.p), items.n, items.clusters, k)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> float:
    """McNemar's exact two-sided p-value for paired right/wrong outcomes: the binomial test of the
    discordant pairs (right under A only vs under B only) at one half."""
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = only_a + only_b
    if n == 0:
        return 1.0
    return min(1.0, 2 * _binomial_tail(min(only_a, only_b), n, 0.5, False))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


Z95 = 1.959963984540054


def resolvable_difference(needles: int, per_needle: int, icc: float = 0.0, p: float = 0.5, z: float = Z95) -> float:
    """The smallest difference of two conditions a paired comparison resolves at 95 %: the half-width
    of its interval at accuracy p, z·sqrt(2·p(1 − p)·deff / n) over n = needles × per_needle
    paired samples. Pairing cancels what a needle does to both conditions alike; `icc` is the
    correlation left between the *differences* of one needle's samples (a needle that favours one
    condition at every depth), deff = 1 + (per_needle − 1)·icc. With icc = 0 (the default) this is
    the independent-samples bound, which a simulation with shared needle effects matches within
    a quarter (tests/test_stats.py)."""
    n = needles * per_needle
    deff = 1 + (per_needle - 1) * icc
    return z * math.sqrt(2 * p * (1 - p) * deff / n)


MIN_CLUSTERS = 6
"""The fewest needles a sign-flip test over needles can resolve anything with: its smallest p-value
is 2 / 2^needles (0.031 for 6, 0.0625 for 5)."""


def needles_to_resolve(difference: float, per_needle: int, icc: float = 0.0, p: float = 0.5) -> int:
    """How many needles make `resolvable_difference` at most `difference` (at least MIN_CLUSTERS)."""
    deff = 1 + (per_needle - 1) * icc
    return max(MIN_CLUSTERS, math.ceil(2 * p * (1 - p) * deff * (Z95 / difference) ** 2 / per_needle))


def resolution_lines(needles: int, lengths: int, depths: int, resolve: float | None = None, icc: float = 0.0
                     ) -> list[str]:  # fmt: skip
    """The power planner's lines for a grid of `needles` × `lengths` × `depths` samples per task and
    variant: the smallest paired difference `niah compare` resolves at 95 % overall and per length
    column (`resolvable_difference`, at accuracy 0.5, the widest case), and with `resolve` how many
    needles resolve that difference overall and per length column."""
    overall = resolvable_difference(needles, lengths * depths, icc)
    column = resolvable_difference(needles, depths, icc)
    if needles < MIN_CLUSTERS:
        lines = [f"resolves   no difference: a paired test over {needles} needles has no p-value below "
                 f"{min(1.0, 2 / 2**needles):.2g}; use at least {MIN_CLUSTERS} needles (niah compare)"]  # fmt: skip
    else:
        lines = [f"resolves   paired differences of {overall:.3f} overall and {column:.3f} per length column "
                 f"(95 %, {needles} needles × {lengths * depths} samples each, at accuracy 0.5; niah compare)"]
    if resolve is not None:
        overall_needles = needles_to_resolve(resolve, lengths * depths, icc)
        lines.append(f"           {resolve:g} needs {overall_needles} needles overall, "
                     f"{needles_to_resolve(resolve, depths, icc)} per length column")  # fmt: skip
    return lines
