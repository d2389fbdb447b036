"""What the app does about its model: download it (with progress, Cancel, and a clear failure),
adopt a model file, go back to the default, and re-open the library with the result.

The model store is the one source of truth for the model in use, shared with the CLI
(`photosim models use/add`): every choice made here is written there, never to the GUI's own
settings. The banner, the Welcome dialog and the Settings' Models page all come here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photosim.core import library as library_module
from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.errors import PhotosimError
from photosim.core.library import Library, ModelStore
from photosim.core.types import Progress
from photosim.ui.model_file_dialog import ModelFileDialog
from photosim.ui.settings import UiSettings
from photosim.ui.tasks import Pool, ProgressBridge, TaskRunner

APP_HOLDER = "the photosim app"  # how a refused writer names us (see core.lock)

log = logging.getLogger(__name__)

MIRROR_ENV = "PHOTOSIM_MODEL_MIRROR"  # fetch <mirror>/<file name> instead of the published URL
RETRY, USE_FILE, CONTINUE = "retry", "file", "continue"

Then = Callable[[], None]


class ModelHost(Protocol):
    """What the model actions need of the main window: its library (re-opened when the model
    changes), and a say in indexing and watching while that happens."""

    library: Library
    settings: UiSettings
    runner: TaskRunner
    indexing_finished: Any  # a signal: emitted when an index run is over

    def cancel_indexing(self) -> None: ...

    def stop_watching(self) -> None: ...

    def report_error(self, exc: BaseException) -> None: ...

    def set_library(self, library: Library) -> None: ...

    def is_indexing(self) -> bool: ...

    def start_indexing(self) -> None: ...


class ModelActions(QObject):
    model_changed = Signal()  # the library was re-opened with another model (or none)
    download_failed = Signal(object)  # DownloadFailedDialog, shown
    download_finished = Signal(bool)  # True: the model is in place and in use

    def __init__(self, window: ModelHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = window
        self._dialog_parent = parent  # of the dialogs opened without a parent of their own
        self.base_url: str | None = os.environ.get(MIRROR_ENV) or None
        self.progress_dialog: QProgressDialog | None = None
        self.failure_dialog: DownloadFailedDialog | None = None
        self.file_dialog: ModelFileDialog | None = None

    @property
    def store(self) -> ModelStore:
        return library_module.model_store(self.window.library.data_dir)

    def default_model(self) -> str:
        """The model a download fetches when none is named: the default for this machine."""
        from photosim.core.library import gpu_available

        return self.store.default_model_id(gpu_available())

    # -- download --------------------------------------------------------------------------
    def download(self, model_id: str | None = None, then: Then | None = None,
                 parent: QWidget | None = None, reindex: bool = True) -> QProgressDialog:
        """Download in the indexing pool with a progress dialog and Cancel; on success use
        the model (and with ``reindex`` embed the photos with it); on failure say what failed
        and offer the ways forward. ``then`` runs once whatever happens (the first run adds
        its folders there)."""
        model_id = model_id or self.default_model()
        token = CancelToken()
        dialog = _progress_dialog(parent or self._dialog_parent)
        dialog.canceled.connect(token.cancel)
        bridge = ProgressBridge(parent=dialog)
        bridge.progressed.connect(lambda p: _show_download_progress(dialog, p))
        store, base_url = self.store, self.base_url
        self.progress_dialog = dialog

        def fetch() -> None:
            store.download(model_id, progress=bridge.report, cancel=token, base_url=base_url)
            store.use(model_id)

        def done(_: object) -> None:
            _close_quietly(dialog, token)
            self.reopen(reindex=reindex)
            self.download_finished.emit(True)
            if then:
                then()

        def failed(exc: BaseException) -> None:
            _close_quietly(dialog, token)
            if token.cancelled or isinstance(exc, Cancelled):  # the user's Cancel: no dialog
                self.download_finished.emit(False)
                if then:
                    then()
                return
            self._offer_ways_forward(exc, model_id, then, parent, reindex)

        self.window.runner.run_task(fetch, done, failed, pool=Pool.INDEXING)
        dialog.show()
        return dialog

    def _offer_ways_forward(self, exc: BaseException, model_id: str, then: Then | None,
                            parent: QWidget | None, reindex: bool) -> None:
        log.warning("model download failed: %s", exc)
        dialog = DownloadFailedDialog(str(exc), self.store.spec(model_id).name,
                                      parent or self._dialog_parent)
        self.failure_dialog = dialog

        def chosen(choice: str) -> None:
            if choice == RETRY:
                self.download(model_id, then, parent, reindex)
            elif choice == USE_FILE:
                self.choose_file(then=then, parent=parent, reindex=reindex)
            else:
                self.download_finished.emit(False)
                if then:
                    then()

        dialog.chosen.connect(chosen)
        dialog.open()
        self.download_failed.emit(dialog)

    # -- a model file ----------------------------------------------------------------------
    def choose_file(self, path: Path | None = None, then: Then | None = None,
                    parent: QWidget | None = None,
                    reindex: bool = True) -> ModelFileDialog | None:
        """Ask for an .onnx file (unless given), then let the user confirm how it is fed and
        try it before it is stored and used; with ``reindex``, embed the photos with it."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(parent or self._dialog_parent,
                                                    "Choose an ONNX model", "",
                                                    "ONNX models (*.onnx)")
            if not chosen:
                if then:
                    then()
                return None
            path = Path(chosen)
        dialog = ModelFileDialog(self.store, path, parent or self._dialog_parent)
        self.file_dialog = dialog

        def finished(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and dialog.added is not None:
                self.reopen(reindex=reindex)
            if then:
                then()

        dialog.finished.connect(finished)
        dialog.open()
        return dialog

    # -- choosing --------------------------------------------------------------------------
    def use(self, model_id: str) -> None:
        self.store.use(model_id)
        self.reopen(reindex=True)

    def reset_to_default(self) -> None:
        """Forget the chosen model: the default for this machine is used (once installed)."""
        self.store.clear_current()
        self.reopen(reindex=True)

    def reopen(self, reindex: bool = False) -> None:
        """Re-open the library so it picks up the model now in the store (or reduced mode,
        saying why); with ``reindex``, embed the photos with it in the background."""
        window = self.window
        data_dir = window.library.data_dir
        window.cancel_indexing()
        window.stop_watching()  # the watcher must not call into the library being closed
        window.runner.wait_for_done(20000)
        window.library.close()
        try:
            library = Library.open(data_dir, provider=window.settings.provider,
                                   reduced_on_error=True, holder=APP_HOLDER)
        except PhotosimError as exc:  # the data folder itself; nothing about models
            window.report_error(exc)
            return
        window.set_library(library)
        self.model_changed.emit()
        if reindex and library.folders():
            _index_when_idle(window)


class DownloadFailedDialog(QDialog):
    """Says what failed and offers the three ways forward."""

    chosen = Signal(str)  # RETRY, USE_FILE or CONTINUE

    def __init__(self, reason: str, model_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("The model could not be downloaded")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        title = QLabel(f"<h3>{model_name} could not be downloaded</h3>")
        self.reason = QLabel(reason)
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        hint = QLabel("Without a model photosim still finds exact and look-alike duplicates; "
                      "find-similar, clusters and word search need one.")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.retry = self._button(buttons, "Try again", RETRY,
                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.use_file = self._button(buttons, "Use a model file…", USE_FILE,
                                     QDialogButtonBox.ButtonRole.ActionRole)
        self.continue_ = self._button(buttons, "Continue without visual search", CONTINUE,
                                      QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.reason)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(560, 240)

    def _button(self, box: QDialogButtonBox, text: str, key: str,
                role: QDialogButtonBox.ButtonRole) -> QPushButton:
        button = box.addButton(text, role)
        button.setObjectName(key)
        button.clicked.connect(lambda: self._choose(key))
        return button

    def _choose(self, key: str) -> None:
        self.done(QDialog.DialogCode.Accepted if key != CONTINUE else QDialog.DialogCode.Rejected)
        self.chosen.emit(key)

    def reject(self) -> None:  # Escape or the window's close button: continue without
        self._choose(CONTINUE)


def _progress_dialog(parent: QWidget) -> QProgressDialog:
    dialog = QProgressDialog("Downloading the model…", "Cancel", 0, 100, parent)
    dialog.setWindowTitle("photosim")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    return dialog


def _close_quietly(dialog: QProgressDialog, token: CancelToken) -> None:
    """Close the progress dialog without it counting as the user's Cancel: closing a
    QProgressDialog emits ``canceled``, which would turn a failure into a silent cancel."""
    dialog.canceled.disconnect(token.cancel)
    dialog.close()
    dialog.deleteLater()


def _show_download_progress(dialog: QProgressDialog, progress: Progress) -> None:
    if progress.total:
        dialog.setValue(int(100 * progress.done / progress.total))
        dialog.setLabelText(f"Downloading the model… {progress.done / 1e6:.0f} of "
                            f"{progress.total / 1e6:.0f} MB")


def _index_when_idle(window: ModelHost) -> None:
    """Index now, or once the cancelled run has delivered its result (until then the window
    still counts it as running and would refuse a new one)."""
    if not window.is_indexing():
        window.start_indexing()
        return

    def once(_: object) -> None:
        window.indexing_finished.disconnect(once)
        window.start_indexing()

    window.indexing_finished.connect(once)
