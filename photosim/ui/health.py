"""The library's health in the GUI: a full check in the background at start-up, and the
recovery for a damaged catalog offered in a dialog (the same steps the CLI's message gives).

The checks and the recovery live in the core (``Library.check_health``,
``Library.set_aside_damaged_catalog``); this only asks and tells.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from photosim.core.library import Library, LibraryHealth

if TYPE_CHECKING:
    from photosim.ui.mainwindow import MainWindow

log = logging.getLogger(__name__)

REBUILD = "Rebuild the catalog"
RECOVERY_TEXT = (
    "Your photos are not affected. photosim can rebuild the catalog now: the damaged one is "
    "moved to a folder beside it (nothing is deleted) and your folders are indexed again. "
    "Everything is computed again from the photos, but \u201cnot a duplicate\u201d decisions "
    "and the trash history are lost. If you have a backup of the data folder, close photosim "
    "and restore it instead.")


def check_health(window: MainWindow) -> None:
    """Check the catalog (SQLite's quick check) and every vector index row on a worker; a
    damaged catalog brings the recovery dialog, repaired index rows a line in the status
    bar."""
    library = window.library
    window.runner.run_task(library.check_health,
                           lambda health: _health_found(window, library, health),
                           lambda exc: log.warning("health check failed: %s", exc))


def _health_found(window: MainWindow, library: Library, health: LibraryHealth) -> None:
    if library is not window.library:  # the library was switched meanwhile
        return
    window.health = health
    if health.catalog_problem:
        offer_catalog_recovery(window, health.catalog_problem)
    elif health.index_problem:
        window.say(health.index_problem, 0)


def offer_catalog_recovery(window: MainWindow, problem: str) -> QMessageBox:
    """The dialog that says the catalog is damaged and offers to rebuild it; one at a time
    (the start-up check and a failed index run may both find the damage)."""
    box = getattr(window, "catalog_recovery", None)
    if isinstance(box, QMessageBox) and box.isVisible():
        return box
    box = QMessageBox(QMessageBox.Icon.Warning, "The catalog is damaged", problem,
                      QMessageBox.StandardButton.NoButton, window)
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


def rebuild_catalog(window: MainWindow) -> None:
    """Set the damaged catalog aside (on a worker), then fill the window and index again."""
    window.stop_watching()
    library = window.library

    def rebuilt(aside: Path) -> None:
        window.say(f"The damaged catalog was moved to {aside}; indexing your folders again.",
                   0)
        window.set_library(library)
        window.start_indexing()

    window.runner.run_task(library.set_aside_damaged_catalog, rebuilt)
