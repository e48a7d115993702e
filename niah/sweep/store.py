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

from niah.errors import NiahError, disk_hint
from niah.files import atomic_write, exclusive_lock
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


IDENTITY = ("dataset_manifest_sha256", "model", "backend", "seed")
"""Run config keys whose change alters existing samples' results: refused in an existing run dir."""
PLAN_LISTS = ("variants", "tasks", "lengths", "depths")
"""Run config keys that only select samples (with `limit`): a run dir grows to their union."""


def run_dir_config(root: Path, config: dict[str, Any], force: bool = False) -> tuple[dict[str, Any], bool]:
    """The config run.json will record if `config` runs in run dir `root`, and whether the old
    results must be discarded.

    A run dir grows: more variants, tasks, lengths, depths or a larger limit over the same dataset
    (recognised by its manifest hash; its path may change) only add samples, and run.json records
    the union. A change to what existing samples mean (IDENTITY: dataset, model, backend options,
    seed) is refused with what differs, or with `force` discards the old results."""
    run = root / RUN
    if not run.is_file():
        return config, False
    try:
        old = json.loads(run.read_text()).get("config", {})
    except (ValueError, AttributeError):
        raise NiahError(f"'{run}' is corrupt: move the run dir away or use another --out") from None
    if "imported" in old:
        raise NiahError(f"'{root}' holds imported results (niah import): use another --out")
    diff = config_diff({k: old.get(k) for k in IDENTITY}, {k: config.get(k) for k in IDENTITY})
    if diff and not force:
        raise NiahError(f"run dir '{root}' was made with another config ({'; '.join(diff)}): its samples would "
                        "change; use another --out, or --force to discard its results")  # fmt: skip
    if diff:
        return config, True
    grown = dict(config)
    for key in PLAN_LISTS:
        a, b = old.get(key), config.get(key)
        grown[key] = None if a is None or b is None else [*a, *(x for x in b if x not in a)]
        if key in ("lengths", "depths") and grown[key] is not None:
            grown[key] = sorted(grown[key])
    a, b = old.get("limit"), config.get("limit")
    grown["limit"] = None if a is None or b is None else max(a, b)
    return grown, False


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two run configs, e.g. "variants: [...] → [...]".

    Lists compare as sets: the order of variants, tasks, lengths or depths changes no result."""

    def canon(value: Any) -> Any:
        return sorted(value, key=str) if isinstance(value, list) else value

    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if canon(old.get(k)) != canon(new.get(k))]


def _foreign(root: Path) -> bool:
    """Whether `root` holds anything but the lock files a run dir's other shards create before
    their run.json (shards of a job array start at once)."""
    return any(not p.name.startswith((".lock", ".merge.lock")) for p in root.iterdir())


class ResultsStore:
    """A run dir opened for one shard. Use `open` (checks run.json) then `append` per result."""

    def __init__(self, root: Path, shard_suffix: str = ""):
        self.root = root
        self.path = root / f"results{shard_suffix}.jsonl"
        self._file = None
        self._lock_file = None

    @classmethod
    def open(
        cls, root: str | Path, config: dict[str, Any], shard_suffix: str = "", force: bool = False
    ) -> ResultsStore:
        """Create, reopen or grow a run dir for `config` (see `run_dir_config`) and hold its lock
        for this shard until `close`; `force` discards the results of a run dir whose samples
        `config` would change."""
        root = Path(root)
        run = root / RUN
        if not run.is_file() and root.exists() and (not root.is_dir() or _foreign(root)):
            raise NiahError(f"'{root}' exists and is not a niah run dir: choose another --out")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise NiahError(f"cannot write run dir '{root}': {err.strerror}") from None
        store = cls(root, shard_suffix)
        store._lock()
        try:
            recorded, discard = run_dir_config(root, config, force)
            if discard:
                for p in root.glob("results*.jsonl"):
                    p.unlink()
                (root / SUMMARY).unlink(missing_ok=True)
            versions_now = versions(torch="torch", transformers="transformers")
            atomic_write(run, json.dumps({"config": recorded, "versions": versions_now}, indent=2) + "\n")
            store._compact()
        except OSError as err:
            store.close()
            raise NiahError(f"cannot write run dir '{root}': {err.strerror}") from None
        except BaseException:
            store.close()
            raise
        return store

    def _lock(self) -> None:
        """Hold `.lock{shard}` (flock, released by the OS when the process dies, even by kill -9)."""
        self._lock_file = exclusive_lock(self.root / f".lock{self.path.stem.removeprefix('results')}",
                                         f"run dir '{self.root}' is in use by another niah run: wait for it to "
                                         "finish, or use another --out")  # fmt: skip

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
        try:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as err:
            raise NiahError(f"cannot write '{self.path}': {err.strerror}{disk_hint(err, self.path)}") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def merge(self, plan_keys: set[str]) -> dict[str, dict[str, Any]] | None:
        """If every planned key has an ok result, write results.jsonl with every ok record of the
        run dir sorted by key (dropping the shard files) and return them; otherwise None. A file
        lock keeps two ranks that finish together from merging at once."""
        import fcntl

        with open(self.root / ".merge.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._merge(plan_keys)

    def _merge(self, plan_keys: set[str]) -> dict[str, dict[str, Any]] | None:
        results = self.all_results()
        complete = {k: r for k, r in results.items() if r["status"] == "ok"}
        if not plan_keys <= set(complete):
            return None
        ordered = [complete[k] for k in sorted(complete)]  # every sample of the run dir, this plan's and earlier
        atomic_write(self.root / RESULTS, "".join(json.dumps(r) + "\n" for r in ordered))
        for p in self.root.glob("results.*-of-*.jsonl"):
            p.unlink()
        return complete

