"""The results store of a run dir: run.json, append-only results JSONL, summary.json.

- One JSON object per sample, one line each, written with a single write and flushed, so a
  kill at any moment loses at most the sample in flight; a torn last line is dropped on load.
- Resume: samples whose latest line is "ok" are done; failed ones are run again, and the file
  is compacted to one line per sample before appending.
- Shards write `results.I-of-N.jsonl`; when the union of all result files covers the whole plan,
  they are merged into `results.jsonl` (sorted by key) and summary.json is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from niah.errors import NiahError
from niah.files import atomic_write
from niah.versions import versions

RUN = "run.json"
RESULTS = "results.jsonl"
SUMMARY = "summary.json"


def read_results(path: Path) -> list[dict[str, Any]]:
    """The complete lines of one results file (a torn trailing line is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def latest_by_key(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each sample key, an ok one preferred over a later failed one."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        old = out.get(r["key"])
        if old is None or r["status"] == "ok" or old["status"] != "ok":
            out[r["key"]] = r
    return out


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two run configs, e.g. "variants: [...] → [...]".

    Lists compare as sets: the order of variants, tasks, lengths or depths changes no result."""

    def canon(value: Any) -> Any:
        return sorted(value, key=str) if isinstance(value, list) else value

    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if canon(old.get(k)) != canon(new.get(k))]


class ResultsStore:
    """A run dir opened for one shard. Use `open` (checks run.json) then `append` per result."""

    def __init__(self, root: Path, shard_suffix: str = ""):
        self.root = root
        self.path = root / f"results{shard_suffix}.jsonl"
        self._file = None

    @classmethod
    def open(
        cls, root: str | Path, config: dict[str, Any], shard_suffix: str = "", force: bool = False
    ) -> ResultsStore:
        """Create or reopen a run dir for `config`; a different existing config is refused
        (listing what differs) unless `force`, which discards the old results."""
        root = Path(root)
        run = root / RUN
        if run.is_file():
            old = json.loads(run.read_text()).get("config", {})
            diff = config_diff(old, config)
            if diff and not force:
                raise NiahError(f"run dir '{root}' was made with another config ({'; '.join(diff)}): "
                                "use another --out, or --force to discard its results")  # fmt: skip
            if diff:
                for p in root.glob("results*.jsonl"):
                    p.unlink()
                (root / SUMMARY).unlink(missing_ok=True)
        elif root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise NiahError(f"'{root}' exists and is not a niah run dir: choose another --out")
        try:
            root.mkdir(parents=True, exist_ok=True)
            atomic_write(
                run,
                json.dumps(
                    {"config": config, "versions": versions(torch="torch", transformers="transformers")}, indent=2
                )
                + "\n",
            )
        except OSError as err:
            raise NiahError(f"cannot write run dir '{root}': {err.strerror}") from None
        store = cls(root, shard_suffix)
        store._compact()
        return store

    def all_results(self) -> dict[str, dict[str, Any]]:
        """Latest record per key across results.jsonl and every shard file."""
        records: list[dict[str, Any]] = []
        for p in sorted(self.root.glob("results*.jsonl")):
            records += read_results(p)
        return latest_by_key(records)

    def done_keys(self) -> set[str]:
        return {k for k, r in self.all_results().items() if r["status"] == "ok"}

    def _compact(self) -> None:
        """Rewrite this shard's file with one line per key, ok lines only (failed ones rerun)."""
        if not self.path.is_file():
            return
        text = self.path.read_text()
        records = read_results(self.path)
        keep = [r for r in latest_by_key(records).values() if r["status"] == "ok"]
        torn = bool(text) and not text.endswith("\n")
        if torn or len(keep) != len(records):
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one line, flushed to the OS before returning."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def merge(self, plan_keys: set[str]) -> dict[str, dict[str, Any]] | None:
        """If every planned key has an ok result, write results.jsonl sorted by key (dropping the
        shard files) and return the records; otherwise None. A file lock keeps two ranks that
        finish together from merging at once."""
        import fcntl

        with open(self.root / ".merge.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._merge(plan_keys)

    def _merge(self, plan_keys: set[str]) -> dict[str, dict[str, Any]] | None:
        results = self.all_results()
        complete = {k: r for k, r in results.items() if k in plan_keys and r["status"] == "ok"}
        if len(complete) < len(plan_keys):
            return None
        ordered = [complete[k] for k in sorted(complete)]
        atomic_write(self.root / RESULTS, "".join(json.dumps(r) + "\n" for r in ordered))
        for p in self.root.glob("results.*-of-*.jsonl"):
            p.unlink()
        return complete

