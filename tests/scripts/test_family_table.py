"""README's per-family tables are the ones scripts/family_table.py makes from niah's registries and the
recorded data (docs/data), and that data agrees with niah's code."""

from __future__ import annotations

import json
from pathlib import Path

from script_loader import load_script

from niah.backends.hf.backend import full_attention_layers
from niah.model_families import MODEL_FAMILIES, VIDEO_MARKUPS

ROOT = Path(__file__).parents[2]


def test_readme_holds_the_table_the_script_makes():
    table = load_script("family_table").table()
    assert table in (ROOT / "README.md").read_text()
    assert len(table.splitlines()) == 2 + len(MODEL_FAMILIES)
    assert "| Qwen2-VL | `Qwen2VLForConditionalGeneration` | `m-rope` |" in table and "9×16 = 144 | 432,000 |" in table


def test_readme_holds_the_kv_table_the_script_makes():
    module = load_script("family_table")
    table = module.kv_table()
    assert table in (ROOT / "README.md").read_text()
    recorded = json.loads(module.CHECKPOINTS.read_text())
    checkpoints, unread = recorded["checkpoints"], recorded["no_public_config"]
    assert len(table.splitlines()) == 2 + len(checkpoints) + len(unread)
    # every family has a public size listed, or says why none could be read
    assert {row["family"] for row in checkpoints + unread} == set(MODEL_FAMILIES)
    assert all(row["why"] and row["family"] not in {r["family"] for r in checkpoints} for row in unread)
    assert "| nvidia/Cosmos3-Nano | no public config read | — | ≈ 369,922 | — |" in table  # Qwen3-VL's prompt
    # Qwen2-VL-7B: 2 × 28 layers × 4 KV heads × 128 × 2 bytes = 56 KiB a token
    assert "| Qwen/Qwen2-VL-7B-Instruct | 28 × 4 × 128 | 56 KiB |" in table


def test_qwen3_5_rows_count_only_their_full_attention_layers():
    module = load_script("family_table")
    rows = {r["checkpoint"]: r for r in json.loads(module.CHECKPOINTS.read_text())["checkpoints"]}
    qwen3_5 = module.text_shape(rows["Qwen/Qwen3.5-27B"])
    assert full_attention_layers(qwen3_5) == 16 and qwen3_5.num_hidden_layers == 64
    assert qwen3_5.layer_types[3] == "full_attention" and qwen3_5.layer_types[0] == "linear_attention"
    for name in ("Qwen/Qwen2-VL-7B-Instruct", "baidu/ERNIE-4.5-VL-28B-A3B-PT"):  # with and without layer_types
        assert full_attention_layers(module.text_shape(rows[name])) == rows[name]["num_hidden_layers"]


def test_recorded_longva_prompts_match_the_current_frame_sizes():
    """docs/data/longva_prompts.json was made by scripts/longva_prompts.py (it needs Qwen's BPE file); a change
    to a family's processor settings or markup that would change its vision tokens makes it stale."""
    module = load_script("family_table")
    prompts = json.loads(module.PROMPTS.read_text())["families"]
    assert set(prompts) == set(MODEL_FAMILIES)
    for name, family in MODEL_FAMILIES.items():
        h, w = module.frame_grid(name)
        trailer = 1 if VIDEO_MARKUPS[family.markup].trailer else 0
        row = prompts[name]
        assert row["frames"] > module.LONGVA_LONGEST, name  # the haystack, the needle and its look-alikes
        assert row["vision_tokens"] == row["frames"] * h * w + trailer, name
        assert row["tokens"] == row["vision_tokens"] + row["text_tokens"], name


def test_longva_prompts_counts_what_the_dry_run_counts(small_dataset, tmp_path):
    """The script's split of the longest prompt into vision and text tokens, on a small dataset and a weightless
    checkpoint with the byte-level tokenizer: the total is the dry run's longest sample."""
    from transformers import AutoConfig

    from niah.backends.hf.tiny import save_checkpoint
    from niah.sweep.engine import RunConfig, dry_run, prepare

    folder = save_checkpoint(tmp_path / "q", AutoConfig.for_model("qwen2_vl"), weights=False)
    counted = load_script("longva_prompts").longest_prompt(small_dataset, folder, "qwen2_vl")
    config = RunConfig(str(small_dataset), model=f"hf:{folder}", variants=["m-rope"])
    assert f"{counted['tokens']:,} in the longest sample" in dry_run(config, tmp_path / "run")
    p = prepare(config)
    h, w = p.backend.grid(p.dataset)
    assert counted["vision_tokens"] == counted["frames"] * h * w
    assert counted["text_tokens"] > 0
