"""Writing files in one step: a reader sees the old file or the new one, never half of one.

The temporary name carries the writer's pid, so processes writing the same file at once (workers
of one run, resumed trainings) cannot trip over each other's temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def umask() -> int:
    """The process's umask (reading it means setting it: set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_replace(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` for a temporary sibling of `path`, then rename it over `path`. The file
    gets the user's umask (some writers, e.g. safetensors, create theirs 0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step."""
    atomic_replace(path, lambda tmp: tmp.write_text(text))


@contextmanager
def transient_lock(path: Path, busy: str) -> Iterator[None]:
    """Hold an exclusive flock on `path` while the block runs, then remove the file (nothing is
    left beside a user's output). A lock taken on a file that another holder has just removed is
    let go and taken again on the new file (its inode is checked), so two processes never both
    hold it. NiahError(`busy`) when another process holds it."""
    while True:
        handle = exclusive_lock(path, busy)
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


def exclusive_lock(path: Path, busy: str) -> IO[str]:
    """Hold an exclusive flock on `path` (created if missing) and return the open file: the lock
    lasts until the file is closed or the process dies (the OS drops it even after kill -9).
    NiahError(`busy`) when another process holds it."""
    import fcntl

    from niah.errors import NiahError

    handle = open(path, "a+")  # noqa: SIM115 - the caller closes it to release the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise NiahError(busy) from None
    return handle
