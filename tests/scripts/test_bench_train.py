"""scripts/bench_train.py runs and reports one row per variant with positive speeds."""

from __future__ import annotations

from script_loader import load_script


def test_bench_train_prints_speed_per_variant(capsys):
    module = load_script("bench_train")
    module.main(["--variants", "vanilla,m-rope", "--steps", "2", "--warmup", "1", "--threads", "1"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["variant", "samples/s", "tokens/s"] and len(lines) == 3
    for line in lines[1:]:
        name, samples, tokens, ratio = line.split()
        assert float(samples) > 0 and float(tokens) > float(samples) and ratio.endswith("x")
    assert lines[1].split()[-1] == "1.00x"


def test_time_to_95_reads_the_first_full_length_log_line_at_the_target(tmp_path, capsys):
    import json

    module = load_script("bench_train")
    for name, accuracies in (("a-s0", [0.97, 0.5, 0.96, 0.99]), ("b-s0", [0.9, 0.9, 0.9, 0.9])):
        folder = tmp_path / name
        folder.mkdir()
        train = {"steps": 200, "vision_steps": 300, "curriculum": 0.5}  # vision = 200 // 6 = 33; full from step 116
        (folder / "config.json").write_text(json.dumps({"model": {"variant": name[0]}, "train": train}))
        (folder / "log.jsonl").write_text("".join(
            json.dumps({"step": 50 * (i + 1), "accuracy": a, "seconds": 10.0 * (i + 1)}) + "\n"
            for i, a in enumerate(accuracies)))  # fmt: skip
    module.main(["--logs", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("95 % at 30 s (step 150)")  # step 50's 0.97 is inside the curriculum
    assert lines[1].endswith("95 % at not reached")
