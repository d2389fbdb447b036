"""Errors reach the user in words; bugs reach a dialog with the details.

A ``PhotosimError`` is a known failure (unreadable file, no trash on a network share...): its
message is written for people and is shown as is. Anything else is a bug: the dialog shows the
traceback under "Show Details" so it can be reported. Dialogs are shown non-modally so a burst
of failures never stacks nested event loops.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from photosim.core.errors import PhotosimError

log = logging.getLogger(__name__)


def show_error(parent: QWidget | None, exc: BaseException, title: str = "photosim") -> QMessageBox:
    if isinstance(exc, PhotosimError):
        return _box(parent, QMessageBox.Icon.Warning, title, str(exc))
    details = getattr(exc, "__photosim_traceback__", None) or "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    log.error("unexpected error: %s", details)
    box = _box(parent, QMessageBox.Icon.Critical, "photosim ran into a bug",
               f"Something went wrong that photosim did not expect:\n\n{type(exc).__name__}: "
               f"{exc}\n\nYour files were not changed by this error. Please report it with the "
               "details below.")
    box.setDetailedText(details)
    return box


def show_message(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    return _box(parent, QMessageBox.Icon.Information, title, text)


def _box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box


def install_excepthook(parent_getter: object) -> None:
    """Route uncaught exceptions (e.g. in slots) to the bug dialog instead of stderr only."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(kind, exc, tb)
        if issubclass(kind, KeyboardInterrupt):
            return
        exc.__photosim_traceback__ = "".join(  # type: ignore[attr-defined]
            traceback.format_exception(kind, exc, tb))
        parent = parent_getter() if callable(parent_getter) else None
        show_error(parent, exc)

    sys.excepthook = hook
