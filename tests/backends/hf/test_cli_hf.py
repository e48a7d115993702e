"""`niah run --model hf:DIR` through the real CLI on tiny checkpoints; faults; bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from niah.backends.hf import HFBackend
from niah.backends.hf.runner import PromptRunner
from niah.cli import main
from niah.data.dataset import Dataset
from niah.data.generate import generate, resolve_config
from niah.model_families import MODEL_FAMILIES as FAMILY_RULES
from niah.rope import resolve_variant
from niah.sweep.plan import make_plan
from niah.tasks import TASKS

from .conftest import FAMILIES, refuses_reuse


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("demo") / "demo", resolve_config("demo"))


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.parametrize("family", FAMILIES)
def test_cli_run_on_the_demo_preset_is_complete_and_resumable(family, tiny_checkpoints, demo_dataset, tmp_path):
    out = tmp_path / "run"
    # the demo preset's shortest length (8 of its 32 cells): 10 % of its tokens, for 17 families
    args = ["run", demo_dataset, "--model", f"hf:{tiny_checkpoints[family]}", "--variants", "vanilla,m-rope,videorope",
            "--lengths", "16", "--out", out, "--dtype", "float32", "--device", "cpu", "-q"]  # fmt: skip
    if FAMILY_RULES[family].frame_runs:  # videorope's delta cannot act in a timestamped layout (Qwen3-VL, 3.5)
        args += ["--video-layout", "contiguous"]
    if refuses_reuse(family):  # sliding-window layers (EXAONE 4.5): every prompt computed whole
        args += ["--no-prefix-reuse"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    recs = lines(out / "results.jsonl")
    assert len(recs) == 8 * 3 * 2 and len({r["key"] for r in recs}) == len(recs)
    assert all(set(r["metrics"]) == {"exact_match", "mc", "generate"} and r["metric"] == "exact_match" for r in recs)
    assert all(set(r["scores"]) >= {"option_logprobs", "answer_tokens", "answer_greedy", "generated"} for r in recs)
    shards = sorted((demo_dataset / ".niah-vision-cache").rglob("shard-*.safetensors"))
    # as if killed before the last 20 samples: the rerun computes exactly those, reusing the vision cache
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:-20]))
    (out / "summary.json").unlink()
    assert cli(*args).exit_code == 0
    again = {r["key"]: r for r in lines(out / "results.jsonl")}
    assert set(again) == {r["key"] for r in recs}
    for r in recs:  # the resumed samples start from another cached prefix: same answers, same scores
        a = again[r["key"]]
        assert (a["prediction"], a["correct"], a["metrics"]) == (r["prediction"], r["correct"], r["metrics"])
        assert a["scores"]["option_logprobs"] == pytest.approx(r["scores"]["option_logprobs"], abs=1e-4)
    assert sorted((demo_dataset / ".niah-vision-cache").rglob("shard-*.safetensors")) == shards


def test_out_of_memory_halves_the_chunk_then_fails_the_sample(tiny_checkpoints, demo_dataset, monkeypatch):
    ds = Dataset(demo_dataset)
    plan = make_plan(ds, [TASKS["v-niah"]], [resolve_variant("m-rope")], lengths=[16])
    ref = {r.sample.key: r for r in HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu",
                                              no_prefix_reuse=True).run(plan, ds)}  # fmt: skip
    real_forward = PromptRunner._forward
    limit = {"tokens": 300}

    def forward(self, embed, start, stop, positions):
        if stop - start > limit["tokens"]:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(self, embed, start, stop, positions)

    monkeypatch.setattr(PromptRunner, "_forward", forward)
    backend = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu", chunk_tokens=1024,
                        no_prefix_reuse=True)  # fmt: skip
    results = list(backend.run(plan, ds))
    assert backend.runner.chunk_tokens == 256 and not any(r.failed for r in results)
    for r in results:
        assert r.prediction == ref[r.sample.key].prediction
        assert r.scores["option_logprobs"] == pytest.approx(ref[r.sample.key].scores["option_logprobs"], abs=1e-4)
    limit["tokens"] = 10  # nothing fits: every sample fails, the sweep goes on
    results = list(HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu").run(plan, ds))
    assert len(results) == len(plan) and all(r.failed and "out of memory" in r.error for r in results)


def test_bad_model_input_is_one_line_exit_2(tiny_checkpoints, demo_dataset, tmp_path):
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    for model, needle in [
        (f"hf:{tmp_path / 'missing'}", "does not exist"),
        (f"hf:{llama}", "is a llama: niah supports qwen2_vl"),
        (f"hf:{tmp_path}", "holds no config.json"),
        (f"hf:{broken}", "cannot load the config"),
    ]:
        res = cli("run", demo_dataset, "--model", model, "--out", tmp_path / "o")
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
        assert not (tmp_path / "o").exists()
    for options, needle in [
        (["--dtype", "float8"], "unknown dtype 'float8': did you mean float32"),
        (["--attn-implementation", "sdpa_stock"], "unknown attention implementation 'sdpa_stock': did you mean"),
        (["--random-weights", "--device-map", "auto"], "--device-map needs saved weights"),
        (["--device", "gpu0"], "--device 'gpu0' is not a torch device"),
        *([(["--device", "cuda"], "--device cuda but this machine has no CUDA GPU")] if not torch.cuda.is_available()
          else [(["--device", f"cuda:{torch.cuda.device_count()}"], "CUDA GPU")]),
    ]:
        res = cli("run", demo_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--out", tmp_path / "o", "-q",
                  *options)  # fmt: skip
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
        assert not (tmp_path / "o").exists()
    for options, needle in [(["--chunk-tokens", "0"], "0 is not in the range x>=1"),
                            (["--max-pixels", "0"], "is not in the range x>=784")]:  # click's usage error, exit 2
        res = cli("run", demo_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--out", tmp_path / "o", "-q",
                  *options)  # fmt: skip
        assert res.exit_code == 2 and needle in res.output and not (tmp_path / "o").exists()


def test_a_chat_template_without_a_video_is_refused_before_any_work(tiny_checkpoints, demo_dataset, tmp_path):
    import shutil

    ckpt = shutil.copytree(tiny_checkpoints["qwen2_vl"], tmp_path / "textonly")
    for name in ("tokenizer_config.json", "chat_template.json", "chat_template.jinja"):
        path = ckpt / name
        if path.is_file() and name == "tokenizer_config.json":
            config = json.loads(path.read_text())
            config["chat_template"] = "{% for m in messages %}{{ m['content'][1]['text'] }}{% endfor %}"
            path.write_text(json.dumps(config))
        elif path.is_file():
            path.unlink()
    (ckpt / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'][1]['text'] }}{% endfor %}")
    res = cli("run", demo_dataset, "--model", f"hf:{ckpt}", "--out", tmp_path / "o", "--device", "cpu", "-q")
    assert res.exit_code == 2, res.output
    assert "places no video" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_device_map_auto_loads_through_accelerate_with_the_same_answers(tiny_checkpoints, demo_dataset):
    """--device-map auto (transformers needs accelerate for it; on a machine without a GPU every
    module lands on the CPU) answers exactly as the model moved to one device."""
    ds = Dataset(demo_dataset)
    plan = make_plan(ds, [TASKS["v-niah-d"]], [resolve_variant("videorope")], lengths=[16])
    ref = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device="cpu")
    spread = HFBackend(str(tiny_checkpoints["qwen2_vl"]), dtype="float32", device_map="auto")
    a, b = ({r.sample.key: r for r in backend.run(plan, ds)} for backend in (ref, spread))
    assert {p.device.type for p in spread.model.parameters()} == {"cpu"}
    assert a.keys() == b.keys() == {s.key for s in plan}
    for key, r in a.items():
        assert r.prediction == b[key].prediction
        assert r.scores["option_logprobs"] == pytest.approx(b[key].scores["option_logprobs"], abs=1e-5)


def test_cost_weighs_attention_equal_to_the_linear_layers_at_65k_tokens_for_qwen2_vl_7b(tmp_path, monkeypatch):
    """Qwen2-VL-7B: 2·P·N linear FLOPs (P = 28 layers × 233 M) equal 2·28·N²·3584 attention FLOPs at
    N = 65,024 tokens, so a prompt that long costs twice its token count, and one twice as long 6×."""
    from niah.backends.hf.tiny import qwen2_vl_7b_config, save_checkpoint

    ckpt = save_checkpoint(tmp_path / "q7b", qwen2_vl_7b_config(), weights=False)
    backend = HFBackend(str(ckpt), random_weights=True)
    for tokens, cost in ((65_024, 2 * 65_024), (130_048, 6 * 65_024)):
        monkeypatch.setattr(HFBackend, "estimate_tokens", lambda self, dataset, sample, n=tokens: n)
        assert backend.estimate_cost(None, None) == pytest.approx(cost)


def test_dry_run_counts_the_prefill_tokens_left_after_prefix_reuse(tiny_checkpoints, demo_dataset, tmp_path):
    import re

    model = f"hf:{tiny_checkpoints['qwen2_vl']}"
    counts = {}
    for extra in ([], ["--no-prefix-reuse"]):
        res = cli("run", demo_dataset, "--model", model, "--variants", "m-rope", "--out", tmp_path / "o", "--dry-run",
                  *extra)  # fmt: skip
        assert res.exit_code == 0, res.output
        computed = int(re.search(r"prefill +([\d,]+)", res.output).group(1).replace(",", ""))
        prompts = int(re.search(r"tokens +([\d,]+) in all", res.output).group(1).replace(",", ""))
        counts[bool(extra)] = (computed, prompts, "prefix reuse" in res.output)
    assert counts[True] == (counts[True][1], counts[True][1], False)  # naive: every prompt token
    # look-alikes sit at needle ± k·period, so cells of one needle and length share the haystack only up to
    # their first look-alike: about 30 % of the demo's prompt tokens are reused
    assert counts[False][0] < 0.8 * counts[False][1] and counts[False][2] and counts[False][1] == counts[True][1]
    assert not (tmp_path / "o").exists()


def test_tile_family_input_niah_cannot_use_is_one_line_exit_2(tiny_checkpoints, demo_dataset, tmp_path):
    """InternVL and LLaVA-OneVision: a tile size the vision tower cannot take, or none;
    flash_attention_2 with the three position rows niah gives a 1-D text model (untested there);
    --max-pixels, which cannot change a fixed tile; a timestamped layout LLaVA has not: each
    refused in one line before any work."""
    ckpt = shutil.copytree(tiny_checkpoints["internvl"], tmp_path / "ivl")
    config = ckpt / "preprocessor_config.json"
    saved = json.loads(config.read_text())
    for size, needle in [({"height": 450, "width": 448}, "is not the vision tower's image_size 448×448"),
                         ({"shortest_edge": 448}, "gives no tile size")]:  # fmt: skip
        config.write_text(json.dumps({**saved, "size": size}))
        res = cli("run", demo_dataset, "--model", f"hf:{ckpt}", "--out", tmp_path / "o", "-q")
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
    for family, options, needle in [
        ("internvl", ["--attn-implementation", "flash_attention_2"], "1-D position ids"),
        ("internvl", ["--max-pixels", "200000"], "--max-pixels changes nothing for InternVL3 (-hf)"),
        ("llava_onevision", ["--max-pixels", "200000"], "every frame is one 384×384 tile"),
        ("llava_onevision", ["--video-layout", "timestamped"], "LLaVA-OneVision takes its video as one contiguous"),
    ]:
        res = cli("run", demo_dataset, "--model", f"hf:{tiny_checkpoints[family]}", "--out", tmp_path / "o", "-q",
                  *options)  # fmt: skip
        assert res.exit_code == 2 and needle in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "o").exists()


def test_cli_runs_multi_needle_tasks_and_plots_them_on_their_own_axes(tiny_checkpoints, multi_dataset, tmp_path):
    """`niah run --tasks ordering,counting,distance` through the CLI, then `niah plot`: the distance
    heatmap's second axis is the needles' distance, ordering's the group's place."""
    import matplotlib

    matplotlib.use("Agg")
    from niah.plot.results import grid, load_runs

    out = tmp_path / "run"
    res = cli("run", multi_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--variants", "m-rope",
              "--tasks", "ordering,ordering-d,counting,multi-key,distance", "--out", out, "--dtype", "float32",
              "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    recs = lines(out / "results.jsonl")
    assert {r["task"] for r in recs} == {"ordering", "ordering-d", "counting", "multi-key", "distance"}
    assert len(recs) == 5 * 6
    assert all(r["cell"].startswith(r["task"] + "-") for r in recs)
    counting = [r for r in recs if r["task"] == "counting"]
    assert all(r["metrics"]["exact_match"]["lured"] is not None for r in counting)  # counting has a lure rate
    without = [r for r in recs if r["task"] not in ("counting", "ordering-d")]  # no look-alikes: no lure rate
    assert all(r["metrics"]["exact_match"]["lured"] is None for r in without)
    records, _ = load_runs([str(out)])
    by_task = {t: grid([r for r in records if r["task"] == t], [8], [0, 100], "exact_match")
               for t in ("ordering", "distance", "counting")}  # fmt: skip
    assert by_task["distance"].axis == "distance (% of length)" and by_task["ordering"].axis == "group place (%)"
    res = cli("plot", out, "--out", tmp_path / "fig")
    assert res.exit_code == 0, res.output
    assert any("distance" in p.name for p in (tmp_path / "fig").glob("*.png"))
    res = cli("report", out, "--out", tmp_path / "report.html")
    assert res.exit_code == 0, res.output
    page = (tmp_path / "report.html").read_text()
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    ordering = [c for cid, c in data["cells"].items() if cid.startswith("ordering-")]
    assert ordering and all(len(c["needles"]) == 3 and c["sequence"].count("N") == 3 for c in ordering)
    assert all(c["question"].endswith("In which order do they appear?") for c in ordering)
    multi_key = [c for cid, c in data["cells"].items() if cid.startswith("multi-key-")]
    assert multi_key and all(len(set(c["needles"])) == 3 for c in multi_key)  # three images of one key, each shown
    res = cli("run", multi_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--tasks", "v-niah,ordering",
              "--out", tmp_path / "r2", "--dry-run")  # fmt: skip
    assert res.exit_code == 0, res.output


def test_a_multi_needle_task_the_dataset_was_not_built_for_is_refused(tiny_checkpoints, demo_dataset, tmp_path):
    res = cli("run", demo_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--tasks", "ordering",
              "--out", tmp_path / "run")  # fmt: skip
    assert res.exit_code == 2 and "has no ordering cells" in res.output and "--tasks ordering" in res.output
    assert not (tmp_path / "run").exists()


def test_a_runs_predictions_through_lmms_eval_logs_come_back_as_the_same_heatmap(tiny_checkpoints, demo_dataset,
                                                                                  tmp_path):  # fmt: skip
    """Round trip: a niah run's generated texts, written as lmms-eval --log_samples lines for the
    exported tasks (docs from the export's Parquet, metrics from its utils.py), imported back: the
    same cells, the same accuracies under `generate`."""
    import importlib.util

    datasets = pytest.importorskip("datasets")
    from niah.plot.results import grid, load_runs

    run = tmp_path / "run"
    res = cli("run", demo_dataset, "--model", f"hf:{tiny_checkpoints['qwen2_vl']}", "--variants", "m-rope",
              "--out", run, "--dtype", "float32", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    export = tmp_path / "export"
    assert cli("export", demo_dataset, "--out", export, "--no-audit", "-q").exit_code == 0
    spec = importlib.util.spec_from_file_location("utils", export / "lmms_eval_tasks" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    logs = []
    for task in ("v-niah", "v-niah-d"):
        docs = {r["cell"]: r for r in datasets.load_dataset(str(export), task, split="test")}
        lines_out = []
        for doc_id, r in enumerate(x for x in lines(run / "results.jsonl") if x["task"] == task):
            doc, text = docs[r["cell"]], r["scores"]["generated"]
            lines_out.append({"doc_id": doc_id, "doc": doc, "target": doc["answer"], "arguments": [],
                              "resps": [[text]], "filtered_resps": [text], **utils.process_results(doc, [text])})
        logs.append(tmp_path / f"samples_niah_{task}.jsonl")
        logs[-1].write_text("".join(json.dumps(x) + "\n" for x in lines_out))
    back = tmp_path / "back"
    res = cli("import", "lmms-eval", *logs, "--model", "tiny (lmms-eval)", "--variant", "m-rope", "--out", back)
    assert res.exit_code == 0, res.output
    ours, _ = load_runs([str(run)])
    theirs, _ = load_runs([str(back)])
    assert len(theirs) == len(ours)
    for task in ("v-niah", "v-niah-d"):
        a = grid([r for r in ours if r["task"] == task], [16, 32, 48, 64], [0, 33, 67, 100], "generate")
        b = grid([r for r in theirs if r["task"] == task], [16, 32, 48, 64], [0, 33, 67, 100], "generate")
        assert np.array_equal(a.accuracy, b.accuracy) and np.array_equal(a.samples, b.samples)
        assert a.lure_rate == b.lure_rate or (np.isnan(a.lure_rate) and np.isnan(b.lure_rate))
    assert cli("plot", run, back, "--metric", "generate", "--out", tmp_path / "fig").exit_code == 0
