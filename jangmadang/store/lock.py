"""The catalog's lock: ``flock`` on ``jangmadang.lock`` beside it, around every connection.

DuckDB lets one process at a time open a file for writing, and a read-only open fails while a
writer holds it, so each connection is taken under this lock: exclusive to write, shared to
read, waiting at most a timeout before :class:`~jangmadang.store.StoreBusy`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jangmadang.store.errors import StoreBusy, StoreError

LOCK_FILE = "jangmadang.lock"


@contextmanager
def catalog_lock(catalog: Path, exclusive: bool, timeout: float) -> Iterator[None]:
    """Hold the lock of ``catalog``: exclusively to write, shared to read. A reader of a folder
    it cannot write to goes without (nobody can write there either)."""
    fd = _open_lock(catalog.with_name(LOCK_FILE), exclusive)
    if fd is None:
        yield
        return
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"{catalog}: still locked by another process after "
                        f"{timeout:g} s; try again when it has finished"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_lock(path: Path, exclusive: bool) -> int | None:
    """The lock file's descriptor; None for a reader in a folder where nobody can write it."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if not exclusive:
            try:
                return os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            except OSError:
                pass
        raise StoreError(f"{path}: cannot open the lock file ({exc.strerror})") from None
