"""niah train: resume equals an uninterrupted run, determinism, positions reach attention, seeds."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from niah.cli import main
from niah.data.generate import resolve_config
from niah.errors import NiahError
from niah.rope import resolve_variant
from niah.train.data import TRAIN_SEED_BASE, Stream, build_pool
from niah.train.model import TinyConfig, TinyModel
from niah.train.trainer import LOG, STATE, WEIGHTS, TrainOptions, load_model, loss_and_hits, train

OPTIONS = dict(steps=6, batch=4, lengths=[2, 3], checkpoint_every=2, log_every=2, warmup=2)


@pytest.fixture(scope="module")
def pool():
    return build_pool(TinyConfig(), seed=0, haystack_frames=40)


def weights(path):
    return load_file(str(path / WEIGHTS))


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Stop(Exception):
    pass


def test_resume_after_an_interruption_gives_the_weights_of_an_uninterrupted_run(tmp_path, pool):
    config = TinyConfig(variant="m-rope")
    train(tmp_path / "whole", config, TrainOptions(**OPTIONS), threads=1, pool=pool)

    def stop_at_5(step, steps, stats):
        if step == 5:
            raise Stop  # after the checkpoint at step 4, before the end

    with pytest.raises(Stop):
        train(tmp_path / "cut", config, TrainOptions(**OPTIONS), threads=1, pool=pool, progress=stop_at_5)
    assert (tmp_path / "cut" / STATE).is_file()
    train(tmp_path / "cut", config, TrainOptions(**OPTIONS), threads=1, pool=pool)
    assert same(weights(tmp_path / "whole"), weights(tmp_path / "cut"))
    assert not (tmp_path / "cut" / STATE).exists()
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut" / LOG).read_text().splitlines()]
    assert steps == [2, 4, 6]  # no duplicated log lines after the resume


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, pool):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(tmp_path / name, TinyConfig(), TrainOptions(**{**OPTIONS, "seed": seed}), threads=1, pool=pool)
    assert same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert not same(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_changing_the_variant_changes_the_logits_of_the_same_weights(pool):
    torch.manual_seed(0)
    model = TinyModel(TinyConfig()).eval()
    logits = {}
    for name in ("vanilla", "m-rope", "videorope", "hope", "vrope", "v2pe"):  # vrope: four coordinate rows
        batch = Stream(TinyConfig(variant=name), resolve_variant(name), 0, [3], 4, pool).batch_at(0)
        with torch.no_grad():
            logits[name] = model(batch.ids, batch.pixels, batch.is_vision, batch.cos, batch.sin, batch.last)
    names = list(logits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (logits[a] - logits[b]).abs().max() > 1e-4, (a, b)


def test_a_small_cell_set_is_learned_above_chance(pool):
    torch.manual_seed(0)
    config = TinyConfig()
    stream = Stream(config, resolve_variant("vanilla"), 0, [2], 8, pool)
    batches = [stream.batch_at(i) for i in range(2)]
    model = TinyModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(80):
        loss, _ = loss_and_hits(model, batches[step % 2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        hits = torch.cat([loss_and_hits(model, b)[1] for b in batches])
    assert hits.float().mean() > 0.75  # chance is 0.25


def test_training_seeds_are_disjoint_from_every_dataset_seed():
    assert TRAIN_SEED_BASE == 2**32
    with pytest.raises(NiahError, match="seed"):
        resolve_config("demo", seed=2**32)
    with pytest.raises(NiahError, match="seed"):
        resolve_config("demo", seed=-1)
    resolve_config("demo", seed=2**32 - 1)


def test_cli_trains_one_dir_per_variant_and_seed_and_rerun_skips(tmp_path):
    args = ["train", "--out", str(tmp_path / "m"), "--variants", "vanilla,videorope:delta=1", "--seeds", "0,1",
            "--steps", "2", "--lengths", "2", "-q"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    dirs = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert dirs == ["vanilla-s0", "vanilla-s1", "videorope-delta1-layoutdiagonal-alloclow-s0",
                    "videorope-delta1-layoutdiagonal-alloclow-s1"]  # fmt: skip
    before = {d: (tmp_path / "m" / d / WEIGHTS).stat().st_mtime_ns for d in dirs}
    assert CliRunner().invoke(main, args).exit_code == 0
    assert before == {d: (tmp_path / "m" / d / WEIGHTS).stat().st_mtime_ns for d in dirs}


@pytest.mark.parametrize("args,message", [
    (["--variants", "vanila"], "did you mean vanilla"),
    (["--seeds", "-1"], "seeds must be 0 or more"),
    (["--lengths", "0"], "at least 1 frame"),
    (["--device", "tpu"], "--device 'tpu' is not a device: use cpu, cuda or cuda:N"),
    (["--tasks", "counting"], "unknown task a tiny model can learn 'counting'"),
    *([(["--device", "cuda"], "this machine has no CUDA GPU torch can use: train with --device cpu")]
      if not torch.cuda.is_available() else []),
])  # fmt: skip
def test_bad_train_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--steps", "1", "-q", *args])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1


def test_a_device_moves_the_training_not_the_data_or_the_initial_weights(tmp_path, pool, monkeypatch):
    """--device only moves the model and each batch: on the CPU named explicitly the weights are
    those of the default, and every batch the model sees sits on the device asked for."""
    train(tmp_path / "default", TinyConfig(), TrainOptions(**OPTIONS), threads=1, pool=pool)
    seen = set()
    real = TinyModel.answer_and_frames

    def spy(self, ids, *args):
        seen.add(ids.device.type)
        return real(self, ids, *args)

    monkeypatch.setattr(TinyModel, "answer_and_frames", spy)
    train(tmp_path / "cpu", TinyConfig(), TrainOptions(**OPTIONS), threads=1, pool=pool, device="cpu")
    assert same(weights(tmp_path / "default"), weights(tmp_path / "cpu")) and seen == {"cpu"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_matches_the_cpu_closely(tmp_path, pool):
    options = TrainOptions(**{**OPTIONS, "steps": 20})
    train(tmp_path / "cpu", TinyConfig(), options, threads=1, pool=pool)
    train(tmp_path / "gpu", TinyConfig(), options, threads=1, pool=pool, device="cuda")
    cpu, gpu = weights(tmp_path / "cpu"), weights(tmp_path / "gpu")
    assert cpu.keys() == gpu.keys() and all(torch.allclose(cpu[k], gpu[k], atol=1e-3) for k in cpu)


def test_families_that_need_reading_are_refused(tmp_path):
    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--families", "colour,number", "-q"])
    assert res.exit_code == 2 and "'number' needs reading digits or words" in res.output
    assert not (tmp_path / "m").exists()


def test_checkpoint_files_follow_the_umask(tmp_path, pool):
    import os

    old = os.umask(0o022)
    try:
        train(tmp_path / "m", TinyConfig(), TrainOptions(**{**OPTIONS, "steps": 2}), threads=1, pool=pool)
    finally:
        os.umask(old)
    for name in (WEIGHTS, "config.json"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o644  # safetensors alone writes 0600


def test_partial_rotary_turns_only_the_first_dims_of_each_head(pool):
    """A quarter of each head rotates (Qwen3.5's rule): the other dims of q and k reach attention
    unrotated, so their scores do not depend on positions; the variant still changes the logits."""
    from niah.train.model import Block

    config = TinyConfig(variant="m-rope", partial_rotary=0.25)
    assert config.rotary_dim == 8 and config.head_dim == 32
    batch = Stream(config, resolve_variant("m-rope"), 0, [3], 2, pool).batch_at(0)
    assert batch.cos.shape[-1] == 8
    block = Block(config)
    captured = {}

    def capture(q, k, v, is_causal):
        captured["q"], captured["k"] = q, k
        return v

    torch.manual_seed(0)
    x = torch.randn(2, batch.cos.shape[1], config.width)
    import niah.train.model as model_module

    real = model_module.F.scaled_dot_product_attention
    model_module.F.scaled_dot_product_attention = capture
    try:
        block(x, batch.cos, batch.sin)
        rotated = captured["q"]
        block(x, torch.ones_like(batch.cos), torch.zeros_like(batch.sin))  # no rotation at all
        plain = captured["q"]
    finally:
        model_module.F.scaled_dot_product_attention = real
    assert torch.equal(rotated[..., 8:], plain[..., 8:]) and not torch.allclose(rotated[..., :8], plain[..., :8])
    torch.manual_seed(0)
    model = TinyModel(config).eval()
    logits = []
    for name in ("vanilla", "m-rope"):
        b = Stream(TinyConfig(variant=name, partial_rotary=0.25), resolve_variant(name), 0, [3], 4, pool).batch_at(0)
        with torch.no_grad():
            logits.append(model(b.ids, b.pixels, b.is_vision, b.cos, b.sin, b.last))
    assert (logits[0] - logits[1]).abs().max() > 1e-4


def test_cli_trains_with_partial_rotary_and_old_checkpoints_still_resume(tmp_path):
    args = ["train", "--out", str(tmp_path / "m"), "--variants", "m-rope", "--steps", "2", "--lengths", "2", "-q"]
    res = CliRunner().invoke(main, [*args, "--partial-rotary", "0.25"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "m" / "m-rope-s0" / "config.json").read_text())["model"]["partial_rotary"] == 0.25
    res = CliRunner().invoke(main, args)  # the same dir, all dims rotating: another model, refused
    assert res.exit_code == 2 and "partial_rotary" in res.output
    res = CliRunner().invoke(main, [*args[:2], str(tmp_path / "o"), *args[3:], "--partial-rotary", "0.3"])
    assert res.exit_code == 2 and "--partial-rotary 0.3" in res.output and "must be even" in res.output
    # a checkpoint written before the setting existed reads as partial_rotary 1 and resumes/skips
    assert CliRunner().invoke(main, [*args[:2], str(tmp_path / "n"), *args[3:]]).exit_code == 0
    config = tmp_path / "n" / "m-rope-s0" / "config.json"
    record = json.loads(config.read_text())
    del record["model"]["partial_rotary"]
    config.write_text(json.dumps(record))
    assert CliRunner().invoke(main, [*args[:2], str(tmp_path / "n"), *args[3:]]).exit_code == 0


def test_a_second_trainer_on_the_same_dir_is_refused_in_one_line(tmp_path):
    """Two `niah train` on one checkpoint dir would both resume the same state: the second is
    refused while the first holds the dir's lock (released by the OS when the holder dies)."""
    import fcntl

    folder = tmp_path / "m" / "vanilla-s0"
    folder.mkdir(parents=True)
    holder = open(folder / ".lock", "a+")  # noqa: SIM115 - another process's lock, as flock sees it
    fcntl.flock(holder, fcntl.LOCK_EX)
    args = ["train", "--out", str(tmp_path / "m"), "--variants", "vanilla", "--steps", "2", "--lengths", "2", "-q"]
    try:
        res = CliRunner().invoke(main, args)
    finally:
        holder.close()
    assert res.exit_code == 2 and "is being trained by another niah train" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (folder / "config.json").exists()
    assert CliRunner().invoke(main, args).exit_code == 0  # the lock released: it trains


def test_training_lengths_past_the_pool_are_one_line(tmp_path):
    from click.testing import CliRunner

    from niah.cli import main

    res = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "m"), "--lengths", "100000", "--steps", "1"])
    assert res.exit_code == 2 and "training lengths must be below 1200 frames" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


def test_cli_trains_the_model_size_it_is_given_and_refuses_an_odd_head(tmp_path):
    args = ["train", "--out", str(tmp_path / "m"), "--variants", "m-rope", "--steps", "2", "--lengths", "2", "-q"]
    res = CliRunner().invoke(main, [*args, "--heads", "4", "--layers", "4", "--width", "48"])
    assert res.exit_code == 0, res.output
    model = load_model(tmp_path / "m" / "m-rope-s0")
    assert (model.config.width, model.config.heads, len(model.blocks)) == (48, 4, 4)
    assert (model.blocks[0].heads, model.blocks[0].head_dim) == (4, 12)
    res = CliRunner().invoke(main, args)  # the same dir, the default size: another model, refused
    assert res.exit_code == 2 and "heads" in res.output
    res = CliRunner().invoke(main, [*args[:2], str(tmp_path / "o"), *args[3:], "--width", "36", "--heads", "4"])
    assert res.exit_code == 2 and "--width 36 --heads 4" in res.output and "even" in res.output
    assert not (tmp_path / "o").exists()  # refused before any work
