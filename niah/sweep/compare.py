"""Paired comparisons of two variants, models or runs on the same samples (`niah compare`).

Samples pair by task and cell (and variant, when the two sides are two runs of the same
variants); each side's score is one metric (niah.sweep.outcomes). Overall per task: the mean
difference with a percentile bootstrap interval over needles and a sign-flip p-value over needles
(niah.stats.paired_difference). Per (length, depth) cell: the difference with its interval, and
McNemar's exact p-value, Holm-corrected across the cells of the table.

Over seeds (`compare_over_seeds`): several runs, one per training seed of the same designs on the
same dataset; the two variants pair within each run and the seeds combine by
niah.stats.seeded_difference (Student's t over the seeds, or the needle bootstrap, the wider),
overall and per cell (Holm-corrected across the cells).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from niah.errors import NiahError
from niah.stats import LEVEL, Difference, holm, mcnemar, paired_difference, seeded_difference
from niah.sweep import outcomes as oc


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its records and, optionally, the one variant taken from them."""

    label: str
    records: list[dict[str, Any]]
    variant: str | None = None

    def samples(self, metric: str) -> dict[tuple[str, str, str], dict[str, Any]]:
        """(task, variant or "", cell) → record, for the records that have `metric`."""
        out = {}
        for r in self.records:
            if r.get("imported"):
                raise NiahError(f"{self.label} holds published cells, not samples: niah compare pairs samples; "
                                "compare it by eye with niah plot")  # fmt: skip
            if self.variant is not None and r["variant"] != self.variant:
                continue
            if oc.value(r, metric) is not None:
                cell = r.get("cell") or f"L{r['length']}-d{r['depth']}-{r.get('needle')}"  # older records lack it
                out[(r["task"], "" if self.variant is not None else r["variant"], cell)] = r
        return out


@dataclass(frozen=True)
class Comparison:
    """A − B per task (and variant, for two runs of the same variants): `overall` and per cell
    `cells` [(length, depth, Difference, McNemar p, Holm-adjusted p)]."""

    task: str
    variant: str
    overall: Difference
    cells: list[tuple[int, int, Difference, float, float]]
    cell_test: str = "mcnemar"  # the per-cell p-value's test: "mcnemar", or "seeds" (its Difference's p)

    def as_json(self, a: str, b: str) -> list[dict[str, Any]]:
        head = {"task": self.task, "variant": self.variant or None, "a": a, "b": b}
        rows = [{**head, "scope": "overall", **self.overall.as_json()}]
        rows += [{**head, "scope": "cell", "length": length, "depth": depth, **d.as_json(), f"p_{self.cell_test}": p,
                  "p_holm": adjusted} for length, depth, d, p, adjusted in self.cells]  # fmt: skip
        return rows


def resolve_variant_name(records: list[dict[str, Any]], name: str | None, label: str) -> str | None:
    """The run's variant spec that `name` names (a spec, or a variant's name: 'videorope')."""
    if name is None:
        return None
    specs = sorted({r["variant"] for r in records})
    match = [s for s in specs if s == name or s.split(":")[0] == name]
    if not match:
        raise NiahError(f"{label} has no variant '{name}' (it has {', '.join(specs)})")
    return match[0]


def compare(a: Side, b: Side, metric: str, seed: int = 0) -> list[Comparison]:
    """Every paired comparison of `a` and `b`; NiahError when they share no sample."""
    left, right = a.samples(metric), b.samples(metric)
    keys = sorted(set(left) & set(right))
    if not keys:
        raise NiahError(f"{a.label} and {b.label} share no sample (same dataset, task and cell"
                        + ("" if a.variant or b.variant else ", variant") + f") scored by {metric}: "
                        "compare runs of one dataset, or name the variants with --a and --b")  # fmt: skip
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in keys:
        groups[(key[0], key[1])].append(key)
    out = []
    def values(side: dict, ks: list) -> list[float]:
        return [oc.value(side[k], metric) for k in ks]

    for (task, variant), members in sorted(groups.items()):
        needles = [str(left[k].get("needle")) for k in members]
        overall = paired_difference(values(left, members), values(right, members), needles, seed=seed)
        by_cell: dict[tuple[int, int], list[tuple[str, str, str]]] = defaultdict(list)
        for k in members:
            by_cell[(left[k]["length"], left[k]["depth"])].append(k)
        cells = []
        for (length, depth), ks in sorted(by_cell.items()):
            x, y = values(left, ks), values(right, ks)
            d = paired_difference(x, y, [str(left[k].get("needle")) for k in ks], seed=seed)
            cells.append((length, depth, d, mcnemar([v > 0.5 for v in x], [v > 0.5 for v in y])))
        adjusted = holm([p for *_, p in cells])
        out.append(Comparison(task, variant, overall, [(*c, q) for c, q in zip(cells, adjusted, strict=True)]))
    return out


def compare_over_seeds(runs: list[list[dict[str, Any]]], a: str, b: str, metric: str, seed: int = 0
                       ) -> list[Comparison]:  # fmt: skip
    """Variant `a` − variant `b` of every run in `runs` (one run per training seed, the same
    dataset), the seeds combined per task and per cell (`seeded_difference`); NiahError when the
    runs share no sample of both variants."""
    sides = [(Side(f"seed run {i}", r, a).samples(metric), Side(f"seed run {i}", r, b).samples(metric))
             for i, r in enumerate(runs)]  # fmt: skip
    keys = sorted(set.intersection(*(set(x) & set(y) for x, y in sides)))
    if not keys:
        raise NiahError(f"the runs share no sample scored by {metric} under both {a} and {b}: give runs of one "
                        "dataset, each holding both variants")  # fmt: skip
    first = sides[0][0]

    def difference(ks: list[tuple[str, str, str]]) -> Difference:
        scores = [[[oc.value(side[k], metric) for k in ks] for side in pair] for pair in sides]
        return seeded_difference([x for x, _ in scores], [y for _, y in scores],
                                 [str(first[k].get("needle")) for k in ks], seed=seed)  # fmt: skip

    out = []
    for task in sorted({k[0] for k in keys}):
        members = [k for k in keys if k[0] == task]
        by_cell: dict[tuple[int, int], list[tuple[str, str, str]]] = defaultdict(list)
        for k in members:
            by_cell[(first[k]["length"], first[k]["depth"])].append(k)
        cells = [(length, depth, difference(ks)) for (length, depth), ks in sorted(by_cell.items())]
        adjusted = holm([d.p for *_, d in cells])
        tested = [(length, depth, d, d.p, q) for (length, depth, d), q in zip(cells, adjusted, strict=True)]
        out.append(Comparison(task, "", difference(members), tested, cell_test="seeds"))
    return out


def report(comparisons: list[Comparison], a: str, b: str, metric: str) -> str:
    """The comparisons as text: overall lines, then the cells the Holm-corrected test resolves."""
    seeds = comparisons[0].overall.seeds if comparisons else 1
    method = ("paired bootstrap over needles], sign-flip p over needles" if seeds == 1 else
              f"the wider of Student's t over {seeds} seeds and the paired bootstrap over needles], the larger p")
    lines = [f"{a} − {b}, {metric}: mean difference [{LEVEL:.0%} interval, {method}"]  # fmt: skip
    for c in comparisons:
        d = c.overall
        verdict = "resolved" if d.resolved and d.p < 1 - LEVEL else "not resolved"
        name = f"{c.task}" + (f" · {c.variant}" if c.variant else "")
        lines.append(f"{name:28s} {d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]  p {d.p:.3g}  "
                     f"({d.n} pairs, {d.clusters} needles{f', {d.seeds} seeds' if d.seeds > 1 else ''})  "
                     f"{verdict}")  # fmt: skip
        resolved = [(length, depth, x, q) for length, depth, x, _, q in c.cells if q < 1 - LEVEL]
        test = "McNemar" if c.cell_test == "mcnemar" else "over seeds"
        lines.append(f"  cells resolved ({test}, Holm-corrected over {len(c.cells)}): {len(resolved)}"
                     + "".join(f"\n    {length} frames, depth {depth}: {x.difference:+.3f}, p_holm {q:.3g}"
                               for length, depth, x, q in resolved))  # fmt: skip
    return "\n".join(lines)
