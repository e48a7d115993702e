"""`niah import lmms-eval`: lmms-eval's --log_samples output for an exported niah task as a run dir.

lmms-eval writes one JSON line per document: `filtered_resps` (the model's text, after the task's
filters), the task's metrics (`niah_generate`, from the export's utils.process_results: the row's
id, task, cell, length, depth, needle, answer, lure letters and option letters, and the outcome)
and, before lmms-eval 0.7, the row itself as `doc`. Each line becomes a per-sample record scored by
niah's own `generate` rule on the text
(niah.tasks.metrics.generated_outcome, the rule the export's utils.py repeats for lmms-eval), so
`niah plot`, `report` and `compare` treat it as any run of the `generate` metric; a logged
`niah_generate` that disagrees with niah's rescoring is refused (the export's utils.py was changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from niah.data.needles import LETTERS
from niah.errors import NiahError
from niah.sweep.imported import check_out, write_run
from niah.tasks.metrics import generated_outcome

METRIC = "generate"
FIELDS = ("task", "cell", "length", "depth", "needle", "answer", "lure_letters")


def response_text(line: dict[str, Any]) -> str:
    """The model's text of a logged sample: the first string in filtered_resps (else resps)."""
    value: Any = line.get("filtered_resps") or line.get("resps") or [""]
    while isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def sample_record(line: dict[str, Any], model: str, variant: str, where: str) -> dict[str, Any]:
    """The run record of one logged lmms-eval sample (see the module docstring)."""
    logged = line.get("niah_generate")
    doc = {**(line.get("doc") if isinstance(line.get("doc"), dict) else {}),
           **(logged if isinstance(logged, dict) else {})}  # fmt: skip
    if "letters" not in doc and isinstance(doc.get("options"), list):
        doc["letters"] = LETTERS[: len(doc["options"])] if len(doc["options"]) > 1 else ""
    missing = [k for k in (*FIELDS, "letters") if k not in doc]
    if missing:
        raise NiahError(f"{where} is not a sample of a niah export's lmms-eval task (it lacks {', '.join(missing)}): "
                        "log it with the tasks `niah export` writes")  # fmt: skip
    text = response_text(line)
    outcome = generated_outcome(text, doc["letters"], doc["answer"])
    lure_letters = None if doc["lure_letters"] is None else frozenset(doc["lure_letters"])
    scored = outcome.as_json(lure_letters)
    if isinstance(logged, dict) and (logged.get("prediction"), logged.get("correct")) != (scored["prediction"],
                                                                                        scored["correct"]):
        raise NiahError(f"{where}: lmms-eval logged prediction {logged.get('prediction')!r} "
                        f"({'right' if logged.get('correct') else 'wrong'}) where niah's generate rule reads "
                        f"{scored['prediction']!r} from {text!r}: the export's utils.py was changed; "
                        "export again")  # fmt: skip
    return {"key": f"{doc['task']}|{variant}|{doc['cell']}", "task": doc["task"], "variant": variant, "model": model,
            "length": doc["length"], "depth": doc["depth"], "needle": doc["needle"], "cell": doc["cell"],
            "metric": METRIC, "prediction": scored["prediction"], "answer": doc["answer"],
            "correct": scored["correct"], "lured": scored["lured"], "metrics": {METRIC: scored},
            "scores": {"generated": text}, "status": "ok", "error": None,
            "lmms_doc_id": line.get("doc_id")}  # fmt: skip


def logged_model(samples: Path) -> str | None:
    """The model as lmms-eval names it in the results file written beside a samples file
    (`<stamp>_results.json` for `<stamp>_samples_<task>.jsonl`): its `model_name`, else its
    `--model` with the `--model_args`; None without that file."""
    stamp = samples.name.split("_samples_")[0]
    try:
        results = json.loads((samples.parent / f"{stamp}_results.json").read_text())
    except (OSError, ValueError):
        return None
    config = results.get("config") or {}
    if results.get("model_name"):
        return str(results["model_name"])
    if config.get("model"):
        return f"{config['model']} ({config['model_args']})" if config.get("model_args") else str(config["model"])
    return None


def import_lmms(files: Sequence[str | Path], out: str | Path, model: str | None, variant: str,
                source: str | None = None) -> Path:  # fmt: skip
    """Write run dir `out` from lmms-eval samples files of niah export tasks (one per task, or
    several); a sample logged twice (the same task and cell) is refused. `model`: the name to
    show, default the one lmms-eval's results file beside the first samples file gives."""
    from niah.rope import resolve_variant

    spec = resolve_variant(variant).spec
    model = model or logged_model(Path(files[0]))
    if not model:
        raise NiahError(f"no lmms-eval results file beside '{files[0]}' names the model: give --model NAME")
    records: dict[str, dict[str, Any]] = {}
    hashes = {}
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise NiahError(f"lmms-eval samples file '{file}' does not exist")
        hashes[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        for n, text in enumerate(path.read_text().splitlines(), 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                raise NiahError(f"{path}:{n} is not JSON: give lmms-eval's *_samples_*.jsonl files") from None
            r = sample_record(line, model, spec, f"{path}:{n}")
            if r["key"] in records:
                raise NiahError(f"{path}:{n}: {r['task']} cell {r['cell']} is logged twice; give each task's samples "
                                "once")  # fmt: skip
            records[r["key"]] = r
    if not records:
        raise NiahError("the lmms-eval samples files hold no samples")
    root = Path(out)
    check_out(root)
    rows = list(records.values())
    config = {"imported": {"format": "lmms-eval", "files": hashes, "metric": METRIC, "source": source,
                           "per_sample": True},
              "dataset": None, "dataset_manifest_sha256": None, "model": model, "variants": [spec],
              "tasks": sorted({r["task"] for r in rows}), "lengths": sorted({r["length"] for r in rows}),
              "depths": sorted({r["depth"] for r in rows})}  # fmt: skip
    by_task: dict[str, list[bool]] = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r["correct"])
    summary = {"imported": True, "samples": len(rows), "metric": METRIC,
               "accuracy": {f"{model}|{spec}|{t}": sum(v) / len(v) for t, v in sorted(by_task.items())}}  # fmt: skip
    return write_run(root, rows, summary, config)
