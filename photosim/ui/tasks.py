"""The one way the GUI runs background work.

``run_task(func, on_done, on_error)`` runs ``func`` in a worker pool and calls ``on_done(result)``
or ``on_error(exception)`` back on the GUI thread (through a queued signal). Thumbnails and
indexing have pools of their own so a thumbnail never waits behind a batch of embeddings.
``SyncTaskRunner`` runs everything inline, for tests that want determinism.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class Pool(StrEnum):
    DEFAULT = "default"  # searches, duplicate grouping, catalog reads: short, a few at a time
    THUMBNAILS = "thumbnails"  # many tiny jobs
    INDEXING = "indexing"  # heavy, strictly one at a time (the library serialises it anyway)


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from a worker are queued to it."""

    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, func: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._func = func
        self._relay = relay

    def run(self) -> None:
        # PySide keeps the Python side of a finished runnable alive; it must not keep the
        # task's closure (a thumbnail's Photo, say) and its relay alive with it.
        func, relay = self._func, self._relay
        del self._func, self._relay
        try:
            result = func()
        except BaseException as exc:  # noqa: BLE001 - delivered to the GUI, never swallowed
            exc.__photosim_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            relay.failed.emit(exc)
        else:
            relay.done.emit(result)


class TaskRunner(QObject):
    """Runs callables in thread pools and delivers their outcome on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pools = {
            Pool.DEFAULT: _pool(3),
            Pool.THUMBNAILS: _pool(2),
            Pool.INDEXING: _pool(1),
        }
        self._in_flight: set[_Relay] = set()
        self.default_error_handler: ErrorCallback | None = None

    def run_task(self, func: Callable[[], Any], on_done: DoneCallback | None = None,
                 on_error: ErrorCallback | None = None, pool: Pool = Pool.DEFAULT) -> None:
        relay = _Relay()
        self._in_flight.add(relay)  # keep it alive until the worker reports back
        relay.done.connect(lambda result: self._finish(relay, on_done, result))
        relay.failed.connect(lambda exc: self._fail(relay, on_error, exc))
        self._pools[pool].start(_Job(func, relay))

    def _finish(self, relay: _Relay, on_done: DoneCallback | None, result: Any) -> None:
        self._release(relay)
        if on_done is not None:
            on_done(result)

    def _fail(self, relay: _Relay, on_error: ErrorCallback | None, exc: BaseException) -> None:
        self._release(relay)
        handler = on_error or self.default_error_handler
        if handler is None:
            log.error("background task failed: %s", getattr(exc, "__photosim_traceback__", exc))
            return
        handler(exc)

    def _release(self, relay: _Relay) -> None:
        """Forget a relay that has delivered. Its connections hold the callbacks, which hold
        the relay: a cycle through Qt that Python's collector cannot see, so without the
        disconnect every task ever run stayed in memory (and in every full collection)."""
        self._in_flight.discard(relay)
        relay.done.disconnect()
        relay.failed.disconnect()

    def busy(self) -> bool:
        return bool(self._in_flight)

    def wait_for_done(self, timeout_ms: int = 30000) -> bool:
        """Block until every pool is idle (tests and shutdown only)."""
        return all(p.waitForDone(timeout_ms) for p in self._pools.values())

    def clear_thumbnails(self) -> None:
        """Drop queued thumbnail jobs, e.g. when the view they were for went away."""
        self._pools[Pool.THUMBNAILS].clear()


class SyncTaskRunner(TaskRunner):
    """Runs each task inline on the calling thread: deterministic tests, no event-loop waits."""

    def run_task(self, func: Callable[[], Any], on_done: DoneCallback | None = None,
                 on_error: ErrorCallback | None = None, pool: Pool = Pool.DEFAULT) -> None:
        try:
            result = func()
        except Exception as exc:
            exc.__photosim_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            handler = on_error or self.default_error_handler
            if handler is None:
                raise
            handler(exc)
            return
        if on_done is not None:
            on_done(result)


def _pool(threads: int) -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    return pool


class ProgressBridge(QObject):
    """Carries progress reports from a worker thread to the GUI thread.

    Pass ``bridge.report`` as the core's progress callback; connect ``progressed``. Reports
    arriving faster than the GUI needs are thinned to one per ``min_interval_s``.
    """

    progressed = Signal(object)

    def __init__(self, min_interval_s: float = 0.1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._min_interval = min_interval_s
        self._last = 0.0

    def report(self, progress: Any) -> None:
        now = time.monotonic()
        finished = getattr(progress, "total", None) is not None and \
            getattr(progress, "done", 0) >= progress.total
        if finished or now - self._last >= self._min_interval:
            self._last = now
            self.progressed.emit(progress)
