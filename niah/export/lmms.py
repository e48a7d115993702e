"""The lmms-eval task folder of an export: one YAML per task and the shared utils.py (assets/lmms_utils.py).

Each task is `niah_<task>` (hyphens become underscores: lmms-eval task names), reads the export's
config of that task (`dataset_path`: the export dir; point it at a Hub repo once published), asks
with generate_until and 16 new tokens (niah's GENERATE_TOKENS) and scores with niah's `generate`
rule in process_results; `aggregate` gives the accuracy and prints the (length, depth) cells.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from niah.tasks.metrics import GENERATE_TOKENS

SPLIT = "test"  # the one split of every config (the card's and these tasks')


def lmms_task_name(task: str) -> str:
    return "niah_" + task.replace("-", "_")


def task_yaml(task: str, dataset_path: str) -> str:
    """One lmms-eval task YAML (`!function` tags written as lmms-eval reads them)."""
    config = {
        "dataset_path": dataset_path,
        "dataset_name": task,
        "task": lmms_task_name(task),
        "test_split": SPLIT,
        "output_type": "generate_until",
        "doc_to_visual": "FUNCTION utils.doc_to_visual",
        "doc_to_text": "FUNCTION utils.doc_to_text",
        "doc_to_target": "answer",
        "generation_kwargs": {"max_new_tokens": GENERATE_TOKENS, "temperature": 0, "do_sample": False,
                              "num_beams": 1},  # fmt: skip
        "process_results": "FUNCTION utils.process_results",
        "metric_list": [{"metric": "niah_generate", "aggregation": "FUNCTION utils.aggregate",
                         "higher_is_better": True}],  # fmt: skip
        "metadata": [{"version": 0.0}],
    }
    text = yaml.safe_dump(config, sort_keys=False)
    return text.replace(": FUNCTION ", ": !function ")


def write_lmms_tasks(folder: Path, tasks: list[str], utils: str, dataset_path: Path) -> None:
    """Write niah_<task>.yaml per task and utils.py into `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "utils.py").write_text(utils)
    for task in tasks:
        (folder / f"{lmms_task_name(task)}.yaml").write_text(task_yaml(task, str(dataset_path)))
