"""Moving photos to the trash and taking them back: from any grid, or from a duplicate group."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from photosim.core.types import Photo
from photosim.ui.controllers.shell import Shell
from photosim.ui.duplicates_view import ConfirmTrashDialog


class TrashController(QObject):
    trashed = Signal(list)  # the paths that went to the trash
    restored = Signal(list)  # the paths an undo brought back
    finished = Signal(str)  # a trash, undo or decision finished (or failed); its message

    def __init__(self, shell: Shell, parent: QObject) -> None:
        super().__init__(parent)
        self.shell = shell

    def confirm_and_trash(self, photos: list[Photo], dialog_parent: QWidget) -> None:
        if ConfirmTrashDialog(photos, dialog_parent).exec() == QDialog.DialogCode.Accepted:
            self.trash(photos, lambda: None)

    def trash(self, photos: list[Photo], then: Callable[[], None]) -> None:
        """Move ``photos`` to the trash on a worker; ``then`` runs once they are gone."""
        library = self.shell.library
        self.shell.runner.run_task(lambda: library.trash(photos),
                                   lambda action: self._trashed(action, then),
                                   self.failed, receiver=self)

    def _trashed(self, action: Any, then: Callable[[], None]) -> None:
        self.trashed.emit(list(action.paths))
        then()
        count = len(action.paths)
        self.tell(f"Moved {count} file{'s' if count != 1 else ''} to the trash. "
                  "Undo with Ctrl+Z.", 15000)

    def undo(self) -> None:
        self.shell.runner.run_task(self.shell.library.undo, self._undone, self.failed)

    def _undone(self, restored: list[Path]) -> None:
        message = f"Restored {len(restored)} file{'s' if len(restored) != 1 else ''} " \
                  "from the trash."
        self.shell.say(message)
        self.restored.emit(restored)
        self.finished.emit(message)

    def tell(self, message: str, timeout_ms: int = 8000) -> None:
        """Say what an action did, in the status bar and to whoever waits for it."""
        self.shell.say(message, timeout_ms)
        self.finished.emit(message)

    def failed(self, exc: BaseException) -> None:
        self.shell.report_error(exc)
        self.finished.emit(f"failed: {exc}")
