"""The library's health in the GUI: a full check in the background at start-up, and the
recovery for a damaged catalog offered in a dialog (the same steps the CLI's message gives).

The checks and the recovery live in the core (``Library.check_health``,
``Library.set_aside_damaged_catalog``); this only asks and tells.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photosim.core.errors import DamagedCatalogError
from photosim.core.library import CatalogSetAside, Library, LibraryHealth, set_aside_damaged_catalog
from photosim.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

REBUILD = "Rebuild the catalog"
RECOVERY_TEXT = (
    "Your photos are not affected. photosim can rebuild the catalog now: the damaged one is "
    "moved to a folder beside it (nothing is deleted) and your folders are indexed again. "
    "Everything is computed again from the photos, but \u201cnot a duplicate\u201d decisions "
    "and the trash history are lost. If you have a backup of the data folder, close photosim "
    "and restore it instead.")
AT_START_TEXT = (" The list of your folders is kept as far as it can still be read; if it cannot, "
                 "photosim asks you to add your folders again.")


class RecoveryHost(Protocol):
    """The main window as the health check and the recovery dialogs see it (a protocol, so
    that this module does not import the window that imports it)."""

    library: Library
    runner: TaskRunner
    health: LibraryHealth | None
    catalog_recovery: QMessageBox | None

    def say(self, message: str, timeout_ms: int = 8000) -> None: ...

    def stop_watching(self) -> None: ...

    def set_library(self, library: Library) -> None: ...

    def start_indexing(self) -> None: ...

    def choose_folder(self) -> None: ...

    def dialog_parent(self) -> QWidget:
        """The widget the dialogs belong to."""


def check_health(window: RecoveryHost) -> None:
    """Check the catalog (SQLite's quick check) and every vector index row on a worker; a
    damaged catalog brings the recovery dialog, repaired index rows a line in the status
    bar."""
    library = window.library
    window.runner.run_task(library.check_health,
                           lambda health: _health_found(window, library, health),
                           lambda exc: log.warning("health check failed: %s", exc))


def _health_found(window: RecoveryHost, library: Library, health: LibraryHealth) -> None:
    if library is not window.library:  # the library was switched meanwhile
        return
    window.health = health
    if health.catalog_problem:
        offer_catalog_recovery(window, health.catalog_problem)
    elif health.index_problem:
        window.say(health.index_problem, 0)


def offer_catalog_recovery(window: RecoveryHost, problem: str) -> QMessageBox:
    """The dialog that says the catalog is damaged and offers to rebuild it; one at a time
    (the start-up check and a failed index run may both find the damage)."""
    box = window.catalog_recovery
    # Closing deletes the dialog (WA_DeleteOnClose); its Python wrapper outlives it.
    if box is not None and shiboken6.isValid(box) and box.isVisible():
        return box
    box = QMessageBox(QMessageBox.Icon.Warning, "The catalog is damaged", problem,
                      QMessageBox.StandardButton.NoButton, window.dialog_parent())
    box.setInformativeText(RECOVERY_TEXT)
    rebuild = box.addButton(REBUILD, QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def clicked(button: object) -> None:
        if button is rebuild:
            rebuild_catalog(window)

    box.buttonClicked.connect(clicked)
    window.catalog_recovery = box
    box.show()
    return box


def rebuild_catalog(window: RecoveryHost) -> None:
    """Set the damaged catalog aside (on a worker), then fill the window and index again."""
    window.stop_watching()
    library = window.library

    def rebuilt(aside: Path) -> None:
        window.say(f"The damaged catalog was moved to {aside}; indexing your folders again.",
                   0)
        window.set_library(library)
        window.start_indexing()

    window.runner.run_task(library.set_aside_damaged_catalog, rebuilt)


# -- a catalog too damaged to open: the offer comes before the window ------------------------

def open_or_rebuild(open_library: Callable[[], Library], data_dir: Path, holder: str
                    ) -> tuple[Library | None, CatalogSetAside | None]:
    """``open_library()``; when the catalog is too damaged to open, the recovery offer first:
    Rebuild sets the damaged files aside (``set_aside_damaged_catalog``) and opens a new
    catalog, Quit (None, None) leaves every file as it was. The app always opens, or the user
    chose not to."""
    try:
        return open_library(), None
    except DamagedCatalogError as exc:
        if not ask_rebuild_at_start(exc.summary):
            return None, None
    # The set-aside reads a copy of the catalog: a large one takes a moment.
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        done = set_aside_damaged_catalog(data_dir, holder)
    finally:
        QApplication.restoreOverrideCursor()
    return open_library(), done


def ask_rebuild_at_start(problem: str) -> bool:
    """The recovery offer without a window (modal): True for Rebuild, False for Quit."""
    box = QMessageBox(QMessageBox.Icon.Warning, "The catalog is damaged", problem,
                      QMessageBox.StandardButton.NoButton)
    box.setInformativeText(RECOVERY_TEXT + AT_START_TEXT)
    rebuild = box.addButton(REBUILD, QMessageBox.ButtonRole.AcceptRole)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(rebuild)
    box.setEscapeButton(quit_button)
    box.exec()
    return box.clickedButton() is rebuild


def tell_rebuilt(window: RecoveryHost, done: CatalogSetAside) -> QMessageBox:
    """After a rebuild at start: where the damaged files went and what became of the folders;
    a folder list that could not be read comes with a button to add folders again."""
    if not done.folders_read:
        kept = ("The damaged catalog's list of folders could not be read: add your photo "
                "folders again.")
    elif done.folders:
        kept = "Your folders are indexed again:\n" + "\n".join(str(f) for f in done.folders)
    else:
        kept = "The damaged catalog had no folders: add your photo folders."
    box = QMessageBox(QMessageBox.Icon.Information, "The catalog was rebuilt",
                      f"The damaged catalog was moved to {done.aside} (nothing was deleted).",
                      QMessageBox.StandardButton.NoButton, window.dialog_parent())
    box.setInformativeText(kept)
    add = box.addButton("Add a folder\u2026", QMessageBox.ButtonRole.AcceptRole) \
        if not done.folders else None
    box.addButton(QMessageBox.StandardButton.Close)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: window.choose_folder() if button is add else None)
    box.show()
    return box
