"""Watched folders: the library kept current while the app runs, and the views told of it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from photosim.core.types import Change
from photosim.ui.controllers.shell import Shell
from photosim.ui.live import LiveLibrary

WATCH_COALESCE_MS = 300  # watched-folder changes this close together refresh the views once


class WatchingController(QObject):
    photos_gone = Signal(list)  # paths the watcher saw deleted or moved away
    changed = Signal()  # the watcher changed the catalog: what was computed from it is stale
    settled = Signal()  # the changes paused: time to refresh the views

    def __init__(self, shell: Shell, parent: QObject) -> None:
        super().__init__(parent)
        self.shell = shell
        self.label = QLabel()
        self.live = LiveLibrary(self)
        self.live.changed.connect(self._watched_change)
        self.live.failed.connect(shell.report_error)
        self._coalesce = QTimer(self, singleShot=True, interval=WATCH_COALESCE_MS)
        self._coalesce.timeout.connect(self.settled)

    def start(self) -> None:
        """Follow the library folders live; started once the catch-up index has run, so
        the watcher only sees what changes from now on."""
        if self.live.is_running():
            return
        self.live.start(self.shell.library, polling=self.shell.settings.watch_polling)
        self.show()

    def stop(self) -> None:
        self.live.stop()
        self.show()

    def add_roots(self, folders: Iterable[Path]) -> None:
        for folder in folders:
            self.live.add_root(folder)  # no-op until watching starts after the first index
        self.show()

    def follow(self, current: set[Path], wanted: set[Path]) -> None:
        """The library's folders go from ``current`` to ``wanted``: a folder leaving is no
        longer followed before the library forgets it."""
        for path in current - wanted:
            self.live.remove_root(path)
        for path in wanted - current:
            self.live.add_root(path)

    def show(self) -> None:
        count = len(self.live.roots())
        self.label.setText(f"Watching {count} folder{'s' if count != 1 else ''}"
                           if self.live.is_running() else "")
        self.label.setToolTip("New, changed, moved and deleted photos in these folders "
                              "are picked up as they happen:\n" +
                              "\n".join(str(r) for r in self.live.roots()))

    def _watched_change(self, kind: str, paths: list[Path]) -> None:
        """GUI thread: the watcher changed the catalog. Gone photos leave the grids at once;
        everything else is refreshed from the catalog once the changes pause."""
        gone = {Change.REMOVED: paths, Change.MOVED: paths[:1]}.get(Change(kind), [])
        if gone:
            self.photos_gone.emit(gone)
        self.changed.emit()
        self.shell.say(_change_text(Change(kind), paths))
        self._coalesce.start()


def _change_text(kind: Change, paths: list[Path]) -> str:
    """A status-bar line for one change the watcher made."""
    names = ", ".join(p.name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
    count = len(paths)
    photos = f"{count} photo{'s' if count != 1 else ''}"
    texts = {Change.INDEXED: f"Added or updated {photos}: {names}",
             Change.REMOVED: f"Removed {photos} deleted from disk: {names}",
             Change.MOVED: f"Moved {paths[0].name} to {paths[-1].parent}",
             Change.OFFLINE: f"Folder unavailable (photos kept, shown again when it returns): "
                             f"{names}",
             Change.ONLINE: f"Folder available again: {names}"}
    return texts[kind]
