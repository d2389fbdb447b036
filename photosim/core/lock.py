"""One writer per data directory (the app, `photosim index`, `photosim watch`): an OS file
lock that dies with its process.

A lock file alone would survive a crash and lock the user out; ``flock``/``LockFileEx`` are
released by the OS when the holder exits, however it exits. The file names the holder ("the
photosim app, pid 123") so that the one refused can say who to close.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO

from photosim.core.errors import LibraryLockedError

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class InstanceLock:
    """``with InstanceLock(path):`` or ``acquire()``/``release()``; raises ``LibraryLockedError``
    naming the process that holds it. ``holder`` says what this process is, for that message."""

    def __init__(self, path: Path, holder: str = "photosim") -> None:
        self.path = path
        self.holder = holder
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Private like the rest of the data folder (it names the process that holds it).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):  # tighten a lock made by an older version (POSIX)
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)
        handle = open(fd, "a+", encoding="utf-8")  # noqa: SIM115 - held while locked
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LibraryLockedError(
                f"photosim is already running on this library ({holder}), and only one may "
                "write to a library at a time. Close it first, or use another --data-dir. "
                "Commands that only read (similar, compare, dupes, clusters, search, status) "
                "can run beside it.")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.holder}, pid {os.getpid()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            _unlock(self._handle)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class WriterLock:
    """The one-writer lock of a data directory, shared by everything in this process that
    writes to it (the app's window and its Library, two Library objects in a test): the OS
    lock is per process, and a second ``flock`` from the same process would refuse itself.
    The first ``acquire`` takes the file lock, the last ``release`` lets it go."""

    _held: dict[Path, tuple[InstanceLock, int]] = {}  # noqa: RUF012 - per process on purpose
    _guard = threading.Lock()

    def __init__(self, path: Path, holder: str = "photosim") -> None:
        self.path = path.absolute()
        self.holder = holder
        self._acquired = False

    def acquire(self) -> None:
        if self._acquired:
            return
        with self._guard:
            lock, count = self._held.get(self.path, (None, 0))
            if lock is None:
                lock = InstanceLock(self.path, self.holder)
                lock.acquire()
            self._held[self.path] = (lock, count + 1)
        self._acquired = True

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        with self._guard:
            lock, count = self._held.pop(self.path)
            if count > 1:
                self._held[self.path] = (lock, count - 1)
            else:
                lock.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
