"""Folders and indexing: adding and removing library folders, the index run with its progress
in the status bar and its Cancel, and the index preloaded once a run is over."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QLabel, QProgressBar, QToolButton, QWidget

from photosim.core.types import Progress
from photosim.ui.controllers.shell import Shell
from photosim.ui.stage_words import stage_words
from photosim.ui.tasks import LatestRequest, Pool

log = logging.getLogger(__name__)

LIVE_REFRESH_MS = 3000  # while indexing, show newly found photos this often


class IndexingController(QObject):
    finished = Signal(object)  # the IndexReport, or None when the run failed
    folders_added = Signal(list)  # add_folders is done: these folders are in the library
    folders_applied = Signal(bool)  # apply_folders is done; True when it added folders
    refresh_due = Signal()  # while indexing: time to show the photos found so far

    def __init__(self, shell: Shell, parent: QObject) -> None:
        super().__init__(parent)
        self.shell = shell
        self._run = LatestRequest(self)  # one run at a time: a second ask is refused
        self._build_widgets()
        self._live_refresh = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_refresh.timeout.connect(self.refresh_due)

    def _build_widgets(self) -> None:
        """The status bar's part of indexing (the shell places them)."""
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop indexing; what is done so far is kept")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

    # -- folders ---------------------------------------------------------------------------
    def choose_folder(self, parent: QWidget) -> None:
        chosen = QFileDialog.getExistingDirectory(parent, "Add a photo folder")
        if chosen:
            self.add_folders([Path(chosen)])

    def add_folders(self, folders: Sequence[Path], reference: bool = False) -> None:
        library = self.shell.library

        def add() -> None:
            for folder in folders:
                library.add_folder(folder, reference)

        self.shell.runner.run_task(add, lambda _: self.folders_added.emit(list(folders)),
                                   receiver=self)

    def apply_folders(self, wanted: list[tuple[Path, bool]]) -> None:
        """Make the library's folders ``wanted`` (path, is a reference folder), as the settings
        dialog left them."""
        status = self.shell.status
        current = set(status.folders) if status else set()
        reference = set(status.reference_folders) if status else set()
        library = self.shell.library
        wanted_paths = {p for p, _ in wanted}

        def apply() -> bool:
            for path in current - wanted_paths:
                library.remove_folder(path)
            for path, is_reference in wanted:
                if path not in current:
                    library.add_folder(path, is_reference)
                elif is_reference != (path in reference):
                    library.set_reference(path, is_reference)
            return bool(wanted_paths - current)

        self.shell.runner.run_task(apply, self.folders_applied.emit, receiver=self)

    # -- the index run ---------------------------------------------------------------------
    def start(self) -> None:
        if self._run.is_running():
            self.shell.say("Indexing is already running.")
            return
        request = self._run.begin(on_progress=self._show_progress)
        library = self.shell.library
        self._set_busy(True)
        self.shell.runner.run_task(
            lambda: library.index(progress=request.report, cancel=request.token),
            self._run.deliver(request, self._done), self._run.deliver(request, self._failed),
            pool=Pool.INDEXING, receiver=self)

    def cancel(self) -> None:
        if self._run.cancel():
            self.progress_label.setText("Stopping…")

    def shut_down(self) -> None:
        """The window closes: stop the run at its next look, and the refreshes with it."""
        self.cancel()
        self._live_refresh.stop()

    def is_indexing(self) -> bool:
        return self._run.is_running()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress.setRange(0, 0)
        if busy:
            self.progress_label.setText("Looking for photos…")
            self._live_refresh.start()
        else:
            self._live_refresh.stop()

    def _show_progress(self, progress: Progress) -> None:
        words = stage_words(progress.stage)
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(min(progress.done, progress.total))
            text = f"{words}: {progress.done:,} of {progress.total:,}"
        else:
            self.progress.setRange(0, 0)
            text = f"{words}: {progress.done:,}"
        if progress.eta_s is not None and progress.eta_s > 1:
            text += f" · about {_duration(progress.eta_s)} left"
        if progress.message:  # e.g. how far into a long video
            text += f" · {progress.message}"
        self.progress_label.setText(text)

    def _done(self, report: Any) -> None:
        self._set_busy(False)
        self.progress_label.setText(_report_text(report))
        for problem in getattr(report, "problems", ()):
            log.warning("indexing: %s", problem)
        self.finished.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.progress_label.setText("Indexing stopped by an error.")
        self.shell.report_error(exc)
        self.finished.emit(None)

    def preload_index(self) -> None:
        """Load the vector index in the background now, so that the first "Find similar"
        does not wait for it (seconds at 100k photos); a scan that found nothing new never
        loaded it. A failure here shows again, to the user, when a search needs the index."""
        self.shell.runner.run_task(self.shell.library.vector_index, None,
                                   lambda exc: log.warning("index not preloaded: %s", exc),
                                   receiver=self)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def _report_text(report: Any) -> str:
    if report.cancelled:
        return "Indexing stopped; what was done is kept. Rescan (F5) to continue."
    parts = [f"{n:,} {word}" for n, word in ((report.added, "added"), (report.updated, "updated"),
                                             (report.moved, "moved"), (report.removed, "removed"),
                                             (report.refreshed, "refreshed"),
                                             (report.failed, "could not be read")) if n]
    return "Library up to date" + (": " + ", ".join(parts) if parts else ".")
