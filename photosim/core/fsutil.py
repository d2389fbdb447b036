"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``; on success it is fsynced and renamed over
    ``target``, on any exception removed with ``target`` untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_writer(target: Path, mode: str = "wb") -> Iterator[IO[bytes]]:
    """Write to a temporary file beside ``target``; fsync and rename it into place on success.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    with _replacing(target) as tmp, open(tmp, mode) as handle:
        yield handle


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_writer(target) as handle:
        handle.write(data)


def atomic_write_via(target: Path, write: Callable[[Path], None]) -> None:
    """Atomically produce ``target`` with a writer that insists on a path (e.g. hnswlib)."""
    with _replacing(target) as tmp:
        write(tmp)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    if os.name == "nt":
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
