"""Watched folders for the GUI: the core's ``LibraryWatcher`` with its reports moved onto the
GUI thread.

The watcher does its work (``index_paths``, ``forget_paths``, ``move_path`` on the library) on
its own thread and calls back from there; the callbacks here only emit Qt signals, which Qt
queues to the GUI thread where the views are updated.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from photosim.core.library import Library

if TYPE_CHECKING:
    from photosim.core.library import LibraryWatcher

log = logging.getLogger(__name__)


class LiveLibrary(QObject):
    """Keeps a library current while the app runs; ``changed(kind, paths)`` on the GUI thread.

    ``kind`` is a :class:`photosim.core.types.Change` value (``MOVED`` with ``[old, new]``).
    """

    changed = Signal(str, list)
    failed = Signal(object)  # an exception from the watcher's own thread (a bug)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher: LibraryWatcher | None = None

    def start(self, library: Library, polling: bool = False) -> None:
        """Watch every library folder (a no-op when already watching). Returns at once: the
        watcher's own thread walks the folders (a quarter of a second of a 100k-photo
        library's tree, which stalled the window when done here)."""
        if self._watcher is not None:
            return
        self._watcher = library.watcher(self._report_change, self._report_error, polling)
        self._watcher.start(wait=False)
        log.info("watching %d folders", len(self._watcher.roots()))

    def wait_started(self, timeout_s: float) -> bool:
        """Tests: wait until the folders there at start are observed."""
        return self._watcher.wait_started(timeout_s) if self._watcher is not None else True

    def stop(self) -> None:
        """Stop watching; changes from now on are found by the next start's catch-up scan.
        Quitting while the watcher still walks the folders waits only for the folder in
        hand."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def is_running(self) -> bool:
        return self._watcher is not None

    def roots(self) -> list[Path]:
        return self._watcher.roots() if self._watcher is not None else []

    def add_root(self, root: Path) -> None:
        if self._watcher is not None:
            self._watcher.add_root(root)

    def remove_root(self, root: Path) -> None:
        if self._watcher is not None:
            self._watcher.remove_root(root)

    def wait_idle(self, timeout_s: float, quiet_s: float = 0.0) -> bool:
        """Tests and shutdown: wait until the watcher has handed over everything pending."""
        return self._watcher.wait_idle(timeout_s, quiet_s) if self._watcher is not None \
            else True

    # -- called on the watcher thread: signal only ------------------------------------------
    def _report_change(self, kind: str, paths: list[Path]) -> None:
        self.changed.emit(kind, list(paths))

    def _report_error(self, exc: BaseException) -> None:
        self.failed.emit(exc)
