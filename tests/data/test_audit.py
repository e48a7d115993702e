"""`niah audit`: blind rules on the old construction beat chance; on the new one they do not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from niah.cli import main
from niah.data.audit import ALL, RULES, Context, Item, audit
from niah.data.dataset import Dataset, DistractorRecord, NeedleRecord
from niah.data.generate import generate, resolve_config
from niah.data.grid import make_cell
from niah.stats import clustered_interval, effective_sample, exact_interval

OLD = Path(__file__).parent.parent / "fixtures" / "audit" / "old_demo"  # the construction of a718a80: see its README


def _needle(shows: list[int], answer: int = 0, keys: list[str] | None = None) -> NeedleRecord:
    keys = keys or [None] * (len(shows) + 1)
    looks = [DistractorRecord(f"d{j}.png", v, "near", False, v == answer, keys[1 + j]) for j, v in enumerate(shows)]
    return NeedleRecord("n", "colour", "Find the frame with a red star.", "What colour is the square beside it?",
                        "Find the frame with a red star. What colour is the square beside it?",
                        ["green", "blue", "white", "black"], answer, "n.png", None, None, looks, keys[0])  # fmt: skip


def _score(rule: str, needle: NeedleRecord, length: int = 30, period: int = 5, depth: int = 50) -> tuple[float, float]:
    cell = make_cell(length, depth, "n", needle.answer, [d.lure for d in needle.distractors], period, "periodic",
                     np.random.default_rng(0))  # fmt: skip
    item = Item("v-niah-d", cell, needle, None, needle.question, needle.options, needle.answer)
    return RULES[rule].score(item, Context([item]))


def test_frequency_rules_find_the_answer_when_only_the_needle_shows_it():
    cycled = _needle([1, 2, 3])  # the old construction: three lures cycled, the answer shown once
    accuracy, chance = _score("freq:fewest", cycled)
    assert accuracy == 1.0 and chance < 0.25
    assert _score("freq:most", cycled)[0] == 0.0


def test_frequency_rules_are_at_their_chance_level_on_balanced_look_alikes():
    balanced = _needle([1, 2, 3, 0, 1, 2, 3], answer=0)  # round 0 and round 1: every option twice with the needle
    for rule in ("freq:fewest", "freq:most"):
        accuracy, chance = _score(rule, balanced, length=28, period=4, depth=0)  # slots 4, 8, ..., 28: both rounds
        assert accuracy == pytest.approx(chance) == pytest.approx(0.25)


def test_rarest_key_rule_uses_the_recorded_keys():
    keys = ["red star", "blue star", "green star", "yellow star"]  # the needle's colour shown once
    accuracy, _ = _score("freq:rarest-colour", _needle([1, 2, 3], keys=keys), length=12, period=4, depth=0)
    assert accuracy == pytest.approx(1 / 4)  # every colour once: a tie over all four
    keys = ["red star", "blue star", "blue star", "blue star"]
    accuracy, _ = _score("freq:rarest-colour", _needle([1, 2, 3], keys=keys), length=12, period=4, depth=0)
    assert accuracy == 1.0  # the needle's colour is the rarest: its value is the answer


def test_exact_interval_matches_published_clopper_pearson_values():
    # Clopper & Pearson (1934), 95 %: 8 of 10 -> [0.4439, 0.9748]; closed forms at the ends:
    # 0 of n -> [0, 1 - 0.025^(1/n)], n of n -> [0.025^(1/n), 1]
    assert exact_interval(8, 10, 0.05) == pytest.approx((0.4439, 0.9748), abs=1e-4)
    assert exact_interval(0, 10, 0.05) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    assert exact_interval(10, 10, 0.05) == pytest.approx((0.025 ** (1 / 10), 1.0))


def test_effective_sample_is_the_item_count_for_independent_items_and_less_for_clusters():
    values = np.array([1.0] * 12 + [0.0] * 12)
    p, n_eff = effective_sample(values, [str(i) for i in range(24)])
    assert p == 0.5 and n_eff == pytest.approx(24 * 23 / 24)  # sandwich variance: the g / (g - 1) factor
    _, clustered = effective_sample(values, ["a"] * 6 + ["b"] * 6 + ["c"] * 6 + ["d"] * 6)  # needles agree inside
    assert clustered == pytest.approx(3.0)  # 4 clusters: 4 * 3 / 4
    naive = clustered_interval(values, [str(i) for i in range(24)], 0.05)
    wide = clustered_interval(values, ["a"] * 6 + ["b"] * 6 + ["c"] * 6 + ["d"] * 6, 0.05)
    assert wide[1] - wide[0] > 1.5 * (naive[1] - naive[0])


def test_the_old_construction_fails_the_audit():
    rows = audit(Dataset(OLD))
    failed = {r.rule for r in rows if r.beats_chance}
    assert {"freq:fewest", "frame:sharpest"} <= failed
    fewest = next(r for r in rows if r.rule == "freq:fewest" and r.length == 64)
    assert fewest.accuracy == 1.0 and fewest.ci_low > fewest.chance
    result = CliRunner().invoke(main, ["audit", str(OLD), "--strict", "-q"])
    assert result.exit_code == 1 and "BEATS CHANCE" in result.output


def test_audit_json_has_one_object_per_task_length_and_rule(tmp_path):
    result = CliRunner().invoke(main, ["audit", str(OLD), "--json"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert result.exit_code == 0 and rows
    assert all({"task", "length", "rule", "accuracy", "chance", "ci_low", "ci_high"} <= set(r) for r in rows)
    assert {(r["task"], r["rule"]) for r in rows if r["length"] == ALL} == {
        (task, name) for name, rule in RULES.items() for task in rule.tasks
        if not name.startswith("freq:rarest") and task in ("v-niah", "v-niah-d")
    }  # the old fixture records no keys (the key rules do not apply) and has no multi-needle cells


def test_generate_prints_the_audit_verdict(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--preset", "demo", "--out", str(tmp_path / "d"), "-q"])
    assert result.exit_code == 0, result.output
    assert "audit: no blind rule beats chance" in result.output


@pytest.mark.parametrize("kind", ["near", "scene"])
def test_presets_and_a_240_needle_dataset_pass_the_strict_audit(tmp_path, kind):
    """The demo preset as shipped; longva and videorope at their own grids, lengths and seeds (frames
    shrunk to 112x56 to keep the suite short: the construction is the same); 240 needles of all six
    families (text and frequency rules: they read cells and needle records, not frame sizes); every
    multi-needle task on all but the demo."""
    every = "v-niah,v-niah-d,ordering,ordering-d,counting,multi-key,distance"  # the demo's 2 needles: too few
    configs = {
        "demo": resolve_config("demo", distractor_kind=kind),
        "longva": resolve_config("longva", distractor_kind=kind, width=112, height=56, tasks=every),
        "videorope": resolve_config("videorope", distractor_kind=kind, width=112, height=56, tasks=every),
        "240": resolve_config("demo", distractor_kind=kind, needles=240, width=56, height=28, lengths="16,64,256",
                              depths="0:100:25", families="colour,shape,count,position,number,word", tasks=every),
    }  # fmt: skip
    for name, config in configs.items():
        rows = audit(Dataset(generate(tmp_path / name, config)), frames=name != "240")
        bad = [(r.task, r.length, r.rule, round(r.accuracy, 2), round(r.ci_low, 2), r.chance) for r in rows
               if r.beats_chance]  # fmt: skip
        assert not bad, (name, kind, bad)
        assert {r.task for r in rows} == set(config.tasks)
        assert {r.rule for r in rows} >= {"freq:fewest", "freq:most", "freq:rarest-colour", "text:answer-letter"}


def test_a_users_needles_without_records_are_audited_with_what_they_say(tmp_path):
    """VideoRoPE's own format does not say which option a distractor shows, nor what it shows in
    the key's place: the rules that need those records are reported as not applicable."""
    config = resolve_config("demo", needle_file="videorope-example", width=112, height=56, lengths="16,32")
    result = CliRunner().invoke(main, ["audit", str(generate(tmp_path / "d", config)), "-q"])
    assert result.exit_code == 0, result.output
    assert "not applicable here: freq:fewest, freq:most, freq:rarest-colour, freq:rarest-shape" in result.output
    assert "text:answer-letter" in result.output and "frame:sharpest" in result.output
