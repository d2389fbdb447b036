"""The one way the GUI runs background work.

``run_task(func, on_done, on_error)`` runs ``func`` in a worker pool and calls ``on_done(result)``
or ``on_error(exception)`` back on the GUI thread (through a queued signal). Thumbnails and
indexing have pools of their own so a thumbnail never waits behind a batch of embeddings.
``SyncTaskRunner`` runs everything inline, for tests that want determinism.

A result is delivered only while its receiver lives: the QObject named as ``receiver``, else
the one whose method ``on_done`` (or ``on_error``) is, else the runner itself (a child of the
window that made it). A window or dialog closed while its task ran never hears back, so no
callback touches a deleted Qt object.

``LatestRequest`` is "only the latest request wins" for one kind of work (a search, a
grouping, an index run): a newer request cancels the older one, whose progress and outcome are
dropped.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from photosim.core.cancel import CancelToken

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
                 on_error: ErrorCallback | None = None, pool: Pool = Pool.DEFAULT,
                 receiver: QObject | None = None) -> None:
        relay = _Relay()
        self._in_flight.add(relay)  # keep it alive until the worker reports back
        listener = receiver or _owner(on_done) or _owner(on_error) or self
        relay.done.connect(lambda result: self._finish(relay, listener, on_done, result))
        relay.failed.connect(lambda exc: self._fail(relay, listener, on_error, exc))
        self._pools[pool].start(_Job(func, relay))

    def _finish(self, relay: _Relay, listener: QObject, on_done: DoneCallback | None,
                result: Any) -> None:
        self._release(relay)
        if on_done is not None and _alive(listener, self):
            on_done(result)

    def _fail(self, relay: _Relay, listener: QObject, on_error: ErrorCallback | None,
              exc: BaseException) -> None:
        self._release(relay)
        if not _alive(listener, self):
            log.info("a task whose window was closed failed: %s", exc)
            return
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
    """Runs each task inline on the calling thread: deterministic tests, no event-loop waits.
    The receiver is alive by construction: it asked just now."""

    def run_task(self, func: Callable[[], Any], on_done: DoneCallback | None = None,
                 on_error: ErrorCallback | None = None, pool: Pool = Pool.DEFAULT,
                 receiver: QObject | None = None) -> None:
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


def _owner(callback: Callable[..., Any] | None) -> QObject | None:
    """The QObject whose method ``callback`` is, if it is one."""
    owner = getattr(callback, "__self__", None)
    return owner if isinstance(owner, QObject) else None


def _alive(listener: QObject, runner: QObject) -> bool:
    """Whether a result may still be delivered: Qt has deleted neither the object that
    listens for it nor the runner (deleted with the window that owns it)."""
    return shiboken6.isValid(listener) and shiboken6.isValid(runner)


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


class Request:
    """One request of a :class:`LatestRequest`: its cancel token and, when it reports
    progress, the bridge that carries the reports (``request.report`` is the callback)."""

    def __init__(self, bridge: ProgressBridge | None) -> None:
        self.token = CancelToken()
        self.bridge = bridge
        self.over = False

    def report(self, progress: Any) -> None:
        if self.bridge is not None:
            self.bridge.report(progress)

    def close(self) -> None:
        """Its outcome arrived (delivered or dropped): it reports nothing more."""
        self.over = True
        if self.bridge is not None:
            self.bridge.deleteLater()
            self.bridge = None


class LatestRequest:
    """"Only the latest request wins" for one kind of background work.

    ``begin()`` starts a request and cancels the one still running; wrap the task's callbacks
    with ``deliver(request, callback)``: a callback of a request that is no longer the latest
    (replaced, or dropped by ``stop()``) is not called. Progress is shown only for the latest
    request while it runs.
    """

    def __init__(self, parent: QObject) -> None:
        self._parent = parent
        self._latest: Request | None = None

    def begin(self, on_progress: Callable[[Any], None] | None = None) -> Request:
        self.stop()
        request = self._latest = Request(None)
        if on_progress is not None:
            request.bridge = ProgressBridge(parent=self._parent)
            request.bridge.progressed.connect(
                lambda progress: self._progressed(request, on_progress, progress))
        return request

    def _progressed(self, request: Request, on_progress: Callable[[Any], None],
                    progress: Any) -> None:
        if request is self._latest and not request.over:
            on_progress(progress)

    def is_running(self) -> bool:
        return self._latest is not None and not self._latest.over

    def cancel(self) -> bool:
        """Ask the running request to stop (the user's Cancel); its outcome, usually
        ``Cancelled``, is still delivered. False when nothing runs."""
        if not self.is_running():
            return False
        assert self._latest is not None
        self._latest.token.cancel()
        return True

    def stop(self) -> None:
        """Cancel the running request and drop whatever it still reports."""
        request, self._latest = self._latest, None
        if request is not None and not request.over:
            request.token.cancel()

    def deliver(self, request: Request, callback: Callable[[Any], None],
                dropped: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
        """``callback`` for ``request``'s outcome, called only if it is still the latest;
        otherwise ``dropped`` (if given) hears the outcome instead."""

        def deliver_if_latest(outcome: Any) -> None:
            latest = request is self._latest
            request.close()
            if latest:
                callback(outcome)
            elif dropped is not None:
                dropped(outcome)

        return deliver_if_latest
