"""Atomic files: a kill at any instant leaves the old file or the new one, never a partial one.

A file (or a folder) is written under a hidden temporary name beside its target and renamed over
it. The temporary name says which process writes it (``.name.<pid>-<random>.tmp``), so
``doctor`` can tell the leftover of a dead process from the work of a live one.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"
TEMPORARY = re.compile(r"\..+\.(?P<pid>\d+)-[0-9a-f]{6}\.tmp")


def temporary_name(name: str) -> str:
    """A hidden name that says which process writes it: ``.name.<pid>-<random>.tmp``."""
    return f".{name}.{os.getpid()}-{secrets.token_hex(3)}{TEMP_SUFFIX}"


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` on a hidden temporary file beside ``path``, fsync it and rename
    it over ``path``, then fsync the folder: a kill at any instant leaves the old file or the new
    one, never a partial one."""
    temporary = path.with_name(temporary_name(path.name))
    try:
        write(temporary)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_synced(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` and fsync it (in a folder renamed into place afterwards)."""
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(path: Path, target: Path) -> None:
    """Move ``path`` to ``target`` (with a random suffix if that is taken), durably."""
    target.parent.mkdir(exist_ok=True)
    while target.exists():
        target = target.with_name(f"{target.name}-{secrets.token_hex(2)}")
    os.rename(path, target)
    fsync_dir(path.parent)
    fsync_dir(target.parent)


def remove(path: Path) -> None:
    """Delete a file or a folder, whichever ``path`` is."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
