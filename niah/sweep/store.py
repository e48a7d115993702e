"""The results store of a run dir: run.json, append-only results JSONL, summary.json.

- One JSON object per sample, one line each, written with a single write and flushed, so a
  kill at any moment loses at most the sample in flight; a torn or damaged line is reported
  (its line number), skipped, and its sample run again on resume.
- Resume: samples whose latest line is "ok" are done; failed ones are run again, and the file
  is compacted to one line per sample before appending.
- Shards write `results.I-of-N.jsonl`; when the union of all result files covers the whole plan,
  they are merged into `results.jsonl` (sorted by key) and summary.json is written.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from niah.errors import NiahError, NiahWarning, disk_hint
from niah.files import atomic_write, exclusive_lock
from niah.sweep.attention import ATTENTION, attention_lines, read_attention
from niah.versions import versions

RUN = "run.json"
RESULTS = "results.jsonl"
SUMMARY = "summary.json"


RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "key": str, "status": str, "task": str, "variant": str, "model": str, "length": int, "depth": (int, float)}
"""What a results line must hold to be read: every reader (resume, plot, report) relies on these."""


def read_results(path: Path, damaged: list[int] | None = None) -> list[dict[str, Any]]:
    """The records of one results file. A line that is not a JSON object holding RECORD_FIELDS
    (torn by a kill, invalid UTF-8, `{}`, `null`) is skipped, its 1-based number appended to
    `damaged`: its sample counts as not run, so a resume runs it again."""
    if not path.is_file():
        return []
    records = []
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if isinstance(record, dict) and all(isinstance(record.get(k), t) for k, t in RECORD_FIELDS.items()):
            records.append(record)
        elif damaged is not None:
            damaged.append(n)
    return records


def damage_note(path: Path, lines: list[int]) -> str:
    """'ignored 2 damaged lines in PATH (lines 3, 7)'."""
    shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
    plural = "s" if len(lines) > 1 else ""
    return f"ignored {len(lines)} damaged line{plural} in {path} (line{plural} {shown})"


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


def read_run_config(root: Path) -> dict[str, Any]:
    """The config run dir `root`'s run.json records; a damaged run.json is one NiahError."""
    try:
        config = json.loads((root / RUN).read_text())["config"]
        if not isinstance(config, dict) or not isinstance(config.get("variants"), list):
            raise TypeError
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise NiahError(f"'{root / RUN}' is corrupt: move the run dir away (niah run: or use another "
                        "--out)") from None  # fmt: skip
    return config


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
    old = read_run_config(root)
    if "imported" in old:
        raise NiahError(f"'{root}' holds imported results (niah import): use another --out")
    diff = config_diff(identity(old, config), identity(config, old))
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


def identity(config: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """The IDENTITY part of `config`, as compared with `other`'s: a backend that names its models'
    `weights` (name → sha256) is recognised by them, not by the folder they sit in (`models`),
    and only by the weights both configs name (a grown run adds models of new variants)."""
    out = {k: config.get(k) for k in IDENTITY}
    mine, theirs = config.get("backend"), other.get("backend")
    if (isinstance(mine, dict) and isinstance(theirs, dict) and isinstance(mine.get("weights"), dict)
            and isinstance(theirs.get("weights"), dict)):  # fmt: skip
        shared = set(mine["weights"]) & set(theirs["weights"])
        out["backend"] = {k: v for k, v in mine.items() if k != "models"} | {
            "weights": {name: mine["weights"][name] for name in sorted(shared)}}
    return out


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two run configs, e.g. "variants: [...] → [...]".

    Lists compare as sets: the order of variants, tasks, lengths or depths changes no result."""

    def canon(value: Any) -> Any:
        return sorted(value, key=str) if isinstance(value, list) else value

    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if canon(old.get(k)) != canon(new.get(k))]


def _foreign(root: Path) -> bool:
    """Whether `root` holds anything but what a run dir's other shards create before their run.json
    is in place (shards of a job array start at once): lock files, and run.json's temporary file
    while another shard writes it (niah.files.atomic_write names it .run.json.PID.tmp)."""
    return any(not (p.name.startswith((".lock", ".merge.lock")) or (p.name.startswith(f".{RUN}.")
                                                                     and p.name.endswith(".tmp")))
               for p in root.iterdir())  # fmt: skip


class ResultsStore:
    """A run dir opened for one shard. Use `open` (checks run.json) then `append` per result."""

    def __init__(self, root: Path, shard_suffix: str = ""):
        self.root = root
        self.path = root / f"results{shard_suffix}.jsonl"
        self.attention_path = root / f"attention{shard_suffix}.jsonl"  # niah.sweep.attention
        self._file = None
        self._attention_file = None
        self._lock_file = None
        self.damaged: dict[Path, list[int]] = {}  # results file -> its damaged line numbers, from all_results

    @classmethod
    def open(
        cls, root: str | Path, config: dict[str, Any], shard_suffix: str = "", force: bool = False
    ) -> ResultsStore:
        """Create, reopen or grow a run dir for `config` (see `run_dir_config`) and hold its lock
        for this shard until `close`; `force` discards the results of a run dir whose samples
        `config` would change."""
        root = Path(root)
        run = root / RUN
        # run.json is checked after the listing: a shard started at once may write it meanwhile
        if root.exists() and (not root.is_dir() or _foreign(root)) and not run.is_file():
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
                for p in [*root.glob("results*.jsonl"), *root.glob("attention*.jsonl")]:
                    p.unlink()
                (root / SUMMARY).unlink(missing_ok=True)
            versions_now = versions(torch="torch", transformers="transformers")
            atomic_write(run, json.dumps({"config": recorded, "versions": versions_now}, indent=2) + "\n")
            store._compact()
            store._compact_attention()
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
        self.damaged = {}
        for p in sorted(self.root.glob("results*.jsonl")):
            records += read_results(p, self.damaged.setdefault(p, []))
        self.damaged = {p: lines for p, lines in self.damaged.items() if lines}
        return latest_by_key(records)

    def done_keys(self) -> set[str]:
        return {k for k, r in self.all_results().items() if r["status"] == "ok"}

    def _compact(self) -> None:
        """Rewrite this shard's file with one line per key, ok lines only (failed ones rerun)."""
        if not self.path.is_file():
            return
        damaged: list[int] = []
        records = read_results(self.path, damaged)
        keep = [r for r in latest_by_key(records).values() if r["status"] == "ok"]
        if damaged:
            warnings.warn(NiahWarning(f"{damage_note(self.path, damaged)}: their samples run again"), stacklevel=2)
        if damaged or len(keep) != len(records):
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def _compact_attention(self) -> None:
        """Drop this shard's attention lines a crash cut short (their samples have no result line and
        run again), so the next line is not appended onto a fragment."""
        if not self.attention_path.is_file():
            return
        records, bad = attention_lines(self.attention_path)
        ends_open = False  # a whole last line that a crash left without its newline
        with open(self.attention_path, "rb") as f:
            if f.seek(0, 2):
                f.seek(-1, 2)
                ends_open = f.read(1) != b"\n"
        if bad or ends_open:
            atomic_write(self.attention_path, "".join(json.dumps(r) + "\n" for r in records))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one line, flushed to the OS before returning."""
        self._file = self._write_line(self._file, self.path, record)

    def append_attention(self, record: dict[str, Any]) -> None:
        """Append one sample's attention line (niah.sweep.attention), before its result line."""
        self._attention_file = self._write_line(self._attention_file, self.attention_path, record)

    @staticmethod
    def _write_line(file, path: Path, record: dict[str, Any]):
        """Write `record` as one flushed line to `file` (opened for appending to `path` when None); the file."""
        try:
            if file is None:
                file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
            file.write(json.dumps(record) + "\n")
            file.flush()
        except OSError as err:
            raise NiahError(f"cannot write '{path}': {err.strerror}{disk_hint(err, path)}") from None
        return file

    def close(self) -> None:
        for name in ("_file", "_attention_file"):
            if getattr(self, name) is not None:
                getattr(self, name).close()
                setattr(self, name, None)
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
        if shards := list(self.root.glob("attention.*-of-*.jsonl")):
            attention = read_attention(self.root)
            kept = [attention[k] for k in sorted(attention) if k in complete]
            atomic_write(self.root / ATTENTION, "".join(json.dumps(r) + "\n" for r in kept))
            for p in shards:
                p.unlink()
        return complete

