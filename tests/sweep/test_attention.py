"""Attention at the answer (issue 31): grouping a sample's per-frame attention into needle,
look-alikes, haystack and text; the tiny model's recorded rows against its own attention computed
eagerly over the whole prompt; `niah run --attention` (answers unchanged, resume, refusals)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from niah.cli import main
from niah.data.dataset import FrameRef
from niah.errors import NiahWarning
from niah.sweep.attention import GROUPS, attention_record, read_attention, verdict

H, N, D = FrameRef("haystack"), FrameRef("needle", needle="n"), FrameRef("distractor", 1, "n")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_groups_sum_a_frames_mass_by_what_it_shows():
    frames = [H, D, H, N, H, H, D]  # look-alikes at 1 (two frames from the needle) and 6 (three)
    rng = np.random.default_rng(0)
    mass = rng.random((2, 3, len(frames) + 1))
    mass /= mass.sum(-1, keepdims=True)  # (layers, heads, frames + text)
    record = attention_record("k", [0, 5], mass, frames, per_head=True)
    per_layer = mass.mean(1)
    assert record["layers"] == [0, 5] and record["heads"] == 3
    np.testing.assert_allclose(record["mass"]["needle"], per_layer[:, 3], atol=1e-6)
    np.testing.assert_allclose(record["mass"]["lookalike"], per_layer[:, 1] + per_layer[:, 6], atol=1e-6)
    np.testing.assert_allclose(record["mass"]["haystack"], per_layer[:, [0, 2, 4, 5]].sum(1), atol=1e-6)
    np.testing.assert_allclose(record["mass"]["text"], per_layer[:, 7], atol=1e-6)
    np.testing.assert_allclose(sum(np.array(record["mass"][g]) for g in GROUPS), 1, atol=1e-5)
    np.testing.assert_allclose(record["nearest_lookalike"], per_layer[:, 1], atol=1e-6)
    np.testing.assert_allclose(record["head_mass"]["needle"], mass[:, :, 3], atol=1e-6)
    np.testing.assert_allclose(record["frame_mass"], mass[..., :7].mean((0, 1)), atol=1e-6)


@pytest.mark.parametrize(("heaviest", "top", "rank", "why"), [(3, "needle", 1, "found"), (6, "lookalike", 2, "lured"),
                                                              (0, "haystack", 2, "missed")])  # fmt: skip
def test_the_heaviest_frame_says_where_attention_went(heaviest, top, rank, why):
    frames = [H, D, H, N, H, H, D]
    mass = np.full((1, 1, 8), 0.05)
    mass[0, 0, 3] = 0.2  # the needle second heaviest unless it is the heaviest
    mass[0, 0, heaviest] = 0.4
    record = attention_record("k", [0], mass, frames)
    assert (record["top"], record["needle_rank"], verdict(record)) == (top, rank, why)
    assert "head_mass" not in record


def test_a_cell_without_lookalikes_has_no_nearest_one():
    record = attention_record("k", [0], np.full((1, 1, 4), 0.25), [H, N, H])
    assert record["nearest_lookalike"] is None and record["mass"]["lookalike"] == [0.0]


def test_a_frame_count_that_is_not_the_samples_is_refused():
    with pytest.raises(ValueError, match="attention over 4 frames for a sample of 3"):
        attention_record("k", [0], np.zeros((1, 1, 5)), [H, N, H])


def eager_sdpa(calls):
    """scaled_dot_product_attention as matmul + softmax, the whole (L, L) weights kept per causal call."""

    def sdpa(q, k, v, is_causal=False):
        weights = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
        if is_causal:
            n = q.shape[-2]
            weights = weights.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        weights = weights.softmax(-1)
        if is_causal:
            calls.append(weights[0])  # (heads, L, L)
        return weights @ v

    return sdpa


def test_tiny_model_records_the_last_row_of_its_eager_attention(small_dataset, monkeypatch):
    from niah.backends.tiny import make_tiny_backend
    from niah.data.dataset import Dataset
    from niah.rope import resolve_variant
    from niah.sweep.plan import make_plan
    from niah.tasks import TASKS
    from niah.train import model as tiny_model

    calls = []
    monkeypatch.setattr(tiny_model, "F", SimpleNamespace(scaled_dot_product_attention=eager_sdpa(calls)))
    backend = make_tiny_backend("@demo")
    backend.record_attention("heads")
    ds = Dataset(small_dataset)
    plan = [s for s in make_plan(ds, [TASKS["v-niah-d"]], [resolve_variant("m-rope")], lengths=[8])
            if backend.skip_reason(s.query) is None][:2]  # fmt: skip
    backend.check_variants([s.variant for s in plan])
    per = backend.input.tokens_per_frame
    for sample in plan:
        calls.clear()
        (result,) = backend.run([sample], ds)
        frames = len(sample.frames(ds))
        assert len(calls) == backend.input.layers == len(result.attention.layers)
        for layer, weights in enumerate(calls):
            last = weights[:, -1]  # (heads, L): the prompt is 2 text tokens, the frames, then the question
            expected = torch.stack([last[:, 2 + f * per : 2 + (f + 1) * per].sum(-1) for f in range(frames)], -1)
            text = last[:, :2].sum(-1) + last[:, 2 + frames * per :].sum(-1)
            expected = torch.cat([expected, text[:, None]], -1).numpy()
            assert abs(result.attention.mass[layer] - expected).max() < 1e-5


def test_run_with_attention_answers_as_without_and_resumes(small_dataset, tmp_path):
    common = ("--model", "tiny:@demo", "--variants", "vanilla,m-rope", "--tasks", "v-niah,v-niah-d", "-q")
    assert cli("run", small_dataset, "--out", tmp_path / "plain", *common).exit_code == 0
    out = tmp_path / "att"
    res = cli("run", small_dataset, "--out", out, "--limit", "2", *common)  # first without attention
    assert res.exit_code == 0, res.output
    res = cli("run", small_dataset, "--out", out, "--attention", *common)  # the done ones run again, now recorded
    assert res.exit_code == 0, res.output
    plain = {r["key"]: r for r in map(json.loads, (tmp_path / "plain" / "results.jsonl").read_text().splitlines())}
    lines = (out / "results.jsonl").read_text().splitlines()
    mine = {r["key"]: r for r in map(json.loads, lines)}
    assert len(lines) == len(mine) == len(plain)  # no sample lost or duplicated
    assert all(mine[k]["metrics"] == plain[k]["metrics"] and mine[k]["scores"] == plain[k]["scores"] for k in plain)
    attention = read_attention(out)
    assert attention.keys() == plain.keys()
    for record in attention.values():
        total = sum(np.array(record["mass"][g]) for g in GROUPS)
        assert abs(total - 1).max() < 1e-5
    d_keys = [k for k in attention if k.startswith("v-niah-d|")]
    assert d_keys and all(attention[k]["nearest_lookalike"] is not None for k in d_keys)
    size = (out / "attention.jsonl").stat().st_size
    assert cli("run", small_dataset, "--out", out, "--attention", *common).exit_code == 0  # all done: nothing reruns
    assert (out / "attention.jsonl").stat().st_size == size


def test_a_model_without_attention_is_refused_before_anything_is_written(small_dataset, tmp_path):
    res = cli("run", small_dataset, "--model", "probe", "--attention", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "--attention needs an hf: or tiny: model" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_shards_attention_files_merge_with_their_results(small_dataset, tmp_path):
    out = tmp_path / "r"
    common = ("--model", "tiny:@demo", "--variants", "vanilla,m-rope", "--attention", "--out", out, "-q")
    assert cli("run", small_dataset, "--shard", "1/2", *common).exit_code == 0
    assert list(out.glob("attention.*-of-*.jsonl")) and not (out / "attention.jsonl").exists()
    assert cli("run", small_dataset, "--shard", "2/2", *common).exit_code == 0
    keys = [json.loads(x)["key"] for x in (out / "results.jsonl").read_text().splitlines()]
    attention = [json.loads(x)["key"] for x in (out / "attention.jsonl").read_text().splitlines()]
    assert sorted(attention) == sorted(keys) and len(set(keys)) == len(keys)
    assert not list(out.glob("attention.*-of-*.jsonl")) and not list(out.glob("results.*-of-*.jsonl"))


def test_multi_needle_tasks_count_every_needle_frame_as_the_needle(tmp_path):
    data = tmp_path / "data"
    assert cli("generate", "--preset", "demo", "--families", "colour", "--lengths", "8", "--depths", "0,100",
               "--needles-per-cell", 3, "--tasks", "ordering,distance", "--width", 112, "--height", 56,
               "--out", data, "-q").exit_code == 0  # fmt: skip
    from niah.data.dataset import Dataset
    from niah.rope import resolve_variant
    from niah.sweep.plan import make_plan
    from niah.tasks import TASKS

    ds = Dataset(data)
    for sample in make_plan(ds, [TASKS["ordering"], TASKS["distance"]], [resolve_variant("vanilla")]):
        frames = sample.frames(ds)
        needles = [k for k, f in enumerate(frames) if f.kind == "needle"]
        mass = np.zeros((1, 1, len(frames) + 1))
        mass[0, 0, needles] = 1 / len(needles)
        record = attention_record(sample.key, [0], mass, frames)
        expected = 3 if sample.task.name == "ordering" else 2
        assert len(needles) == expected and record["mass"]["needle"] == [1.0] and record["top"] == "needle"


def test_a_line_cut_by_a_crash_is_skipped_and_its_sample_runs_again(small_dataset, tmp_path):
    """A kill -9 between an attention line and its result line, mid-write: the cut line is reported
    and skipped, the sample (no result line either) runs again, nothing is duplicated."""
    out = tmp_path / "r"
    common = ("--model", "tiny:@demo", "--variants", "m-rope", "--tasks", "v-niah-d", "--attention", "--out", out, "-q")
    assert cli("run", small_dataset, *common).exit_code == 0
    results = (out / "results.jsonl").read_text().splitlines()
    attention = (out / "attention.jsonl").read_text().splitlines()
    lost = json.loads(results[-1])["key"]
    (out / "results.jsonl").write_text("\n".join(results[:-1]) + "\n")  # its result never written
    cut = next(i for i, x in enumerate(attention) if json.loads(x)["key"] == lost)
    (out / "attention.jsonl").write_text("\n".join(attention[:cut] + attention[cut + 1 :] + [attention[cut][:40]]))
    with pytest.warns(NiahWarning, match="1 damaged line"):
        assert lost not in read_attention(out)
    res = cli("run", small_dataset, *common)
    assert res.exit_code == 0, res.output
    keys = [json.loads(x)["key"] for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(keys) == sorted(json.loads(x)["key"] for x in results) and len(set(keys)) == len(keys)
    assert lost in read_attention(out)


def test_dry_run_counts_the_done_samples_that_attention_would_rerun(small_dataset, tmp_path):
    out = tmp_path / "r"
    common = ("--model", "tiny:@demo", "--variants", "m-rope", "--tasks", "v-niah", "--out", out)
    assert cli("run", small_dataset, *common, "--limit", "3", "-q").exit_code == 0
    res = cli("run", small_dataset, *common, "--attention", "--dry-run")
    assert res.exit_code == 0, res.output
    done = next(line for line in res.output.splitlines() if line.startswith("done"))
    assert "0 already in" in done and "(3 done without the attention asked for" in done
    assert not (out / "attention.jsonl").exists()  # a dry run writes nothing


def test_the_runs_summary_splits_wrong_answers_by_where_attention_went(small_dataset, tmp_path):
    out = tmp_path / "r"
    res = cli("run", small_dataset, "--model", "tiny:@demo", "--variants", "vanilla,m-rope", "--tasks", "v-niah-d",
              "--attention", "--out", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "v-niah-d attention" in res.output and "missed/found/lured" in res.output
    results = {r["key"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    attention = read_attention(out)
    for group in json.loads((out / "summary.json").read_text())["groups"]:
        mine = [r for r in results.values() if r["variant"] == group["variant"]]
        wrong = [r for r in mine if not r["correct"]]
        split = group["attention"]
        assert split["samples"] == len(mine) and split["wrong"] == len(wrong)
        assert [split[v] for v in ("missed", "found", "lured")] == [
            sum(verdict(attention[r["key"]]) == v for r in wrong) for v in ("missed", "found", "lured")]
        mass = np.mean([np.mean(attention[r["key"]]["mass"]["needle"]) for r in mine])
        assert split["needle_mass"] == pytest.approx(mass)
        assert split["needle_mass_ci"][0] <= split["needle_mass"] <= split["needle_mass_ci"][1]
    plain = tmp_path / "p"
    assert cli("run", small_dataset, "--model", "tiny:@demo", "--variants", "vanilla", "--tasks", "v-niah-d",
               "--out", plain, "-q").exit_code == 0  # fmt: skip
    assert all("attention" not in g for g in json.loads((plain / "summary.json").read_text())["groups"])


def test_an_unknown_attention_mode_is_refused_with_the_close_one(small_dataset, tmp_path):
    from niah.errors import NiahError
    from niah.sweep.engine import RunConfig, run_sweep

    config = RunConfig(str(small_dataset), "tiny:@demo", variants=["vanilla"], attention="head")
    with pytest.raises(NiahError, match="heads"):
        run_sweep(config, tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()
