"""The dataset card (README.md) of an export: the Hub's YAML front matter, then how the items were built."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from niah.data.dataset import Dataset
from niah.export.lmms import SPLIT, lmms_task_name
from niah.versions import versions

if TYPE_CHECKING:
    from niah.export.hub import ExportPlan

SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "1M<n<10M")


def synthetic(dataset: Dataset) -> bool:
    """Whether every pixel is niah's own (the synthetic haystack and built-in needles)."""
    o = dataset.options
    return o.get("haystack") == "synthetic" and not o.get("needle_file")


def front_matter(dataset: Dataset, plan: ExportPlan, lengths: dict[str, list[int]]) -> dict:
    """The card's YAML: license, task categories, size, and the configs (per task, per task × length)."""
    configs = []
    for task, task_lengths in lengths.items():
        configs.append({"config_name": task, "data_files": [{"split": SPLIT, "path": f"data/{task}/*.parquet"}]})
        configs += [{"config_name": f"{task}-L{n}",
                     "data_files": [{"split": SPLIT, "path": f"data/{task}/L{n}.parquet"}]} for n in task_lengths]
    configs[0]["default"] = True
    return {
        "license": "apache-2.0" if synthetic(dataset) else "other",
        "pretty_name": f"niah {', '.join(lengths)} ({dataset.path.name})",
        "task_categories": ["video-text-to-text", "visual-question-answering"],
        "size_categories": [size_category(plan.count)],
        "tags": ["niah", "needle-in-a-haystack", "video", "long-context", "positional-encoding", "rope"],
        "configs": configs,
    }


def card_text(dataset: Dataset, plan: ExportPlan, lengths: dict[str, list[int]], audit_line: str | None) -> str:
    """The whole README.md of an export."""
    o = dataset.options
    licence = ("Every pixel is niah's own (its synthetic haystack and built-in needles): Apache-2.0, as niah."
               if synthetic(dataset) else
               "The haystack or the needles are the user's own: their licence applies; niah's part is "
               "Apache-2.0.")  # fmt: skip
    task_lines = "\n".join(f"| `{t}` | {len(plan.rows[t])} | {plan.rows[t][0]['axis']} | "
                           f"{', '.join(map(str, lengths[t]))} |" for t in lengths)  # fmt: skip
    body = f"""
# niah dataset: {dataset.path.name}

Needle-in-a-haystack items over video made by niah (`niah generate`): a needle
image inserted into a haystack video, with look-alike distractors for V-NIAH-D and several needles
for ordering, counting and distance. Every question has a find clause only the needle satisfies.

| config | rows | second axis | lengths (frames) |
|---|---|---|---|
{task_lines}

Each config also exists per length (`<task>-L<length>`). A row holds the question, the lettered
options, the answer's letter (`answer`) and text, the letters a look-alike shows (`lure_letters`,
null where the task has no lure rate), the metric niah reports for a harness that generates
(`metric`: `generate`), and where its frames are: `haystack` (the shared video, `length` frames)
with `insertions` (sequence index, image path); `niah_frames.py` composes them:

```python
import datasets, niah_frames
rows = datasets.load_dataset("PATH", "{next(iter(lengths))}", split="{SPLIT}")
frames = niah_frames.frames(rows[0], "PATH")   # list of (H, W, 3) uint8 RGB, the cell's exact frames
```

lmms-eval: `lmms-eval --model ... --tasks {",".join(lmms_task_name(t) for t in lengths)}
--include_path PATH/lmms_eval_tasks --log_samples --output_path logs/`, then
`niah import lmms-eval logs/.../*_samples_niah_*.jsonl --model NAME --variant VARIANT --out runs/NAME`
draws its heatmaps with `niah plot`.

## How it was built

- generator: niah {versions()["niah"]}, preset `{dataset.manifest.get("preset")}`, seed {o["seed"]}
- haystack: {o["haystack"]}, {o["width"]}x{o["height"]} at {o["fps"]:g} fps; distractors {o["distractor_mode"]},
  period {o["distractor_period"]} frames
- source manifest sha256: `{dataset.manifest_hash}` (every option and file hash of the dataset dir)
- audit: {audit_line or "not run (niah export --no-audit)"}
- licence: {licence}
- checksums: `SHA256SUMS` (`sha256sum -c SHA256SUMS`)
"""
    return "---\n" + yaml.safe_dump(front_matter(dataset, plan, lengths), sort_keys=False) + "---\n" + body
