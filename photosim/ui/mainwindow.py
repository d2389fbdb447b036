"""The main window: the shell that holds the tabs (library, find-similar results, duplicate
review, clusters), the menus and the status bar, and wires the controllers together.

The work is done by the controllers in ``photosim.ui.controllers``, one for each part of the
app; each runs its calls into the library on the task runner, so the GUI thread only ever
fills models and widgets with results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QToolButton, QWidget

from photosim.core.errors import DamagedCatalogError
from photosim.core.library import (
    QUERY_SUFFIXES,
    Library,
    LibraryHealth,
    LibraryStatus,
    WriterLock,
)
from photosim.core.types import Photo
from photosim.ui.clusters_view import ClustersView
from photosim.ui.controllers.clusters import ClustersController
from photosim.ui.controllers.duplicates import DuplicatesController
from photosim.ui.controllers.indexing import IndexingController
from photosim.ui.controllers.library import LibraryController
from photosim.ui.controllers.similar import SimilarController
from photosim.ui.controllers.trash import TrashController
from photosim.ui.controllers.watching import WatchingController
from photosim.ui.duplicates_view import DuplicatesView
from photosim.ui.error_dialog import show_error
from photosim.ui.format import provider_label
from photosim.ui.health import check_health, offer_catalog_recovery
from photosim.ui.library_view import LibraryView
from photosim.ui.model_actions import ModelActions
from photosim.ui.model_banner import attach_model_banner
from photosim.ui.models_page import ModelsPage
from photosim.ui.not_duplicates_dialog import NotDuplicatesDialog
from photosim.ui.preview import PreviewDialog
from photosim.ui.settings import UiSettings
from photosim.ui.settings_dialog import SettingsDialog
from photosim.ui.similar_view import SimilarView
from photosim.ui.tasks import TaskRunner
from photosim.ui.thumbnails import ThumbnailCache
from photosim.ui.unreadable_dialog import UnreadableDialog, unreadable_text


class MainWindow(QMainWindow):
    library_loaded = Signal()  # the library grid was (re)filled
    indexing_finished = Signal(object)  # IndexReport
    similar_finished = Signal()
    duplicates_loaded = Signal()
    duplicates_stopped = Signal()  # the search shown was cancelled or failed
    clusters_loaded = Signal()
    action_finished = Signal(str)  # a trash / undo / not-a-duplicate finished; its message
    live_refreshed = Signal()  # views refreshed after changes in the watched folders
    unreadable_shown = Signal(object)  # UnreadableDialog, filled with the unreadable files
    status_shown = Signal(object)  # LibraryStatus, each time the status bar shows one

    def __init__(self, library: Library, settings: UiSettings, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.runner = runner or TaskRunner(self)
        self.runner.default_error_handler = self.report_error
        self.status: LibraryStatus | None = None
        self.unreadable_dialog: UnreadableDialog | None = None
        self.instance_lock: WriterLock | None = None  # held by the app for its data folder
        self.health: LibraryHealth | None = None  # what the start-up check found (ui.health)
        self.catalog_recovery: QMessageBox | None = None  # the dialog that offers a rebuild
        self.thumbnails = ThumbnailCache(library, self.runner, parent=self)
        self.setWindowTitle("photosim")
        self.setAcceptDrops(True)
        self._build_views()
        self._build_controllers()
        self._build_status_bar()
        self._build_actions()
        self.model_actions = ModelActions(self, self)
        self.model_banner = attach_model_banner(self, self.model_actions, self.status_shown)
        self.resize(1280, 820)

    # -- construction ----------------------------------------------------------------------
    def _build_views(self) -> None:
        size = self.settings.thumb_size
        self.library_view = LibraryView(self.thumbnails, size)
        self.similar_view = SimilarView(self.thumbnails, size)
        self.duplicates_view = DuplicatesView(self.thumbnails, self.runner)
        self.clusters_view = ClustersView(self.thumbnails, size)
        self._show_settings(self.settings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library_view, "Library")
        self.tabs.addTab(self.similar_view, "Similar")
        self.tabs.addTab(self.duplicates_view, "Duplicates")
        self.tabs.addTab(self.clusters_view, "Clusters")
        self.tabs.currentChanged.connect(lambda _: self.refresh_shown_tab())
        self.setCentralWidget(self.tabs)

    def _build_controllers(self) -> None:
        self.indexing = IndexingController(self, self)
        self.watching = WatchingController(self, self)
        self.live = self.watching.live
        self.library_grid = LibraryController(self, self)
        self.similar = SimilarController(self, self.indexing.is_indexing, self)
        self.trash = TrashController(self, self)
        self.duplicates = DuplicatesController(self, self.duplicates_view, self.trash)
        self.clusters = ClustersController(self, self.clusters_view)
        self._wire_grids()
        self._wire_controllers()

    def _wire_grids(self) -> None:
        for grid in (self.library_view.grid, self.similar_view.grid, self.clusters_view.grid):
            grid.similar_requested.connect(lambda p: self.find_similar(p.path))
            grid.activated_photo.connect(self.preview)
            grid.trash_requested.connect(self.confirm_and_trash)
        self.library_view.add_folder_requested.connect(self.choose_folder)
        self.library_view.word_search_requested.connect(self.search_words)

    def _wire_controllers(self) -> None:
        self.library_grid.loaded.connect(self.library_loaded)
        self.library_grid.status_read.connect(self._show_status)
        self.library_grid.scan_wanted.connect(self.start_indexing)
        self.indexing.refresh_due.connect(self.library_grid.refresh_if_grown)
        self.indexing.finished.connect(self._indexing_over)
        self.indexing.folders_added.connect(self._folders_added)
        self.indexing.folders_applied.connect(self._folders_applied)
        self.watching.photos_gone.connect(self._remove_from_grids)
        self.watching.changed.connect(self._mark_stale)
        self.watching.settled.connect(self._refresh_after_changes)
        self.similar.finished.connect(self.similar_finished)
        self.duplicates.loaded.connect(self.duplicates_loaded)
        self.duplicates.stopped.connect(self.duplicates_stopped)
        self.clusters.loaded.connect(self.clusters_loaded)
        self.trash.trashed.connect(self._trashed)
        self.trash.restored.connect(self._restored)
        self.trash.finished.connect(self.action_finished)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.reduced_label = QLabel()
        self.reduced_label.setStyleSheet("color: #b26a00;")
        self.model_label = QLabel()
        self.provider_label = QLabel()
        self.unreadable_button = QToolButton()
        self.unreadable_button.setAutoRaise(True)
        self.unreadable_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.unreadable_button.setStyleSheet("color: #b00020; text-decoration: underline;")
        self.unreadable_button.setToolTip("Show which files could not be read, and why")
        self.unreadable_button.clicked.connect(self.show_unreadable)
        self.unreadable_button.hide()
        bar.addWidget(self.indexing.progress_label, 1)
        bar.addWidget(self.indexing.progress)
        bar.addWidget(self.indexing.cancel_button)
        bar.addPermanentWidget(self.unreadable_button)
        for label in (self.watching.label, self.reduced_label, self.model_label,
                      self.provider_label):
            bar.addPermanentWidget(label)

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self._action(file_menu, "&Add folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Find photos similar to a &file…", self.choose_query_file,
                     "Ctrl+F")
        self._action(file_menu, "&Rescan folders", self.start_indexing, QKeySequence("F5"))
        file_menu.addSeparator()
        self._action(file_menu, "&Settings…", self.open_settings,
                     QKeySequence.StandardKey.Preferences)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = menu.addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo last move to trash", self.trash.undo,
                                        QKeySequence.StandardKey.Undo)
        self._action(edit_menu, "&Not-a-duplicate decisions…", self.show_not_duplicates)
        help_menu = menu.addMenu("&Help")
        self._action(help_menu, "&Compare models…", self.open_model_compare)
        self._action(help_menu, "&About photosim", self._about)
        toolbar = self.addToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction("Add folder…", self.choose_folder)
        toolbar.addAction("Rescan", self.start_indexing)
        toolbar.addAction("Find similar to file…", self.choose_query_file)
        toolbar.addAction(self.undo_action)
        toolbar.addAction("Settings…", self.open_settings)

    def _action(self, menu: Any, text: str, slot: Callable[[], Any],
                shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda: slot())
        if shortcut is not None:
            action.setShortcut(shortcut if isinstance(shortcut, QKeySequence)
                               else QKeySequence(shortcut))
        menu.addAction(action)
        return action

    # -- errors and messages ---------------------------------------------------------------
    def report_error(self, exc: BaseException) -> None:
        self.last_error = exc
        if isinstance(exc, DamagedCatalogError):  # offer the rebuild, not only the words
            offer_catalog_recovery(self, exc.summary)
            return
        show_error(self, exc)

    def say(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    # -- the library -----------------------------------------------------------------------
    def start(self) -> None:
        """Fill the window from the catalog, then bring the index up to date."""
        self.library_grid.fill_then_scan()
        self.refresh_status()
        self.check_word_search()
        check_health(self)

    def set_library(self, library: Library) -> None:
        """Switch to a re-opened library (e.g. after a model was downloaded)."""
        self.library = library
        self.thumbnails.set_library(library)
        self._mark_stale()
        self.refresh_status()
        self.refresh_library()
        self.check_word_search()

    def refresh_library(self) -> None:
        self.library_grid.refresh()

    def check_word_search(self) -> None:
        self.library_grid.check_word_search()

    def refresh_status(self) -> None:
        self.runner.run_task(self.library.status, self._show_status)

    def _show_status(self, status: LibraryStatus) -> None:
        self.status = status
        if status.visual_search:
            self.model_label.setText(f"Model: {status.model_name or status.model_id}")
            self.provider_label.setText(f"Runs on: {provider_label(status.provider)}")
            self.reduced_label.clear()
        else:
            self.model_label.setText("No model")
            self.provider_label.clear()
            self.reduced_label.setText("Reduced mode: duplicates only")
            self.reduced_label.setToolTip(status.message)
        for grid in (self.library_view.grid, self.similar_view.grid, self.clusters_view.grid):
            grid.can_search = status.visual_search
        unreadable = status.errors + status.scan_problems
        self.unreadable_button.setText(unreadable_text(unreadable))
        self.unreadable_button.setVisible(unreadable > 0)
        self.status_shown.emit(status)

    def show_unreadable(self) -> None:
        """List the files that could not be read, and what the scans could not even look at
        (read on the task runner, then shown)."""
        library = self.library
        self.runner.run_task(lambda: (library.errors(), library.scan_problems()),
                             self._unreadable_read)

    def _unreadable_read(self, found: tuple[list[Photo], list[Any]]) -> None:
        photos, problems = found
        dialog = self.unreadable_dialog
        if dialog is None:
            dialog = self.unreadable_dialog = UnreadableDialog(photos, self, problems)
            dialog.finished.connect(lambda _: setattr(self, "unreadable_dialog", None))
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        else:
            dialog.set_photos(photos, problems)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        self.unreadable_shown.emit(dialog)

    # -- what changes the library ----------------------------------------------------------
    def _mark_stale(self) -> None:
        """The catalog changed: the duplicates and clusters shown are out of date."""
        self.duplicates.mark_stale()
        self.clusters.mark_stale()

    def refresh_shown_tab(self) -> None:
        shown = self.tabs.currentWidget()
        for tab in (self.duplicates, self.clusters):
            if shown is tab.view:
                tab.shown()

    def _remove_from_grids(self, paths: list[Path]) -> None:
        self.library_view.remove_paths(paths)
        self.similar_view.remove_paths(paths)
        self.clusters_view.members.remove_paths(paths)

    def _indexing_over(self, report: Any) -> None:
        if report is not None:
            self._mark_stale()
            self.refresh_library()
            self.refresh_shown_tab()
        self.similar.run_pending()
        if report is not None:
            self.indexing.preload_index()
        self.start_watching()
        self.indexing_finished.emit(report)

    def _folders_added(self, folders: list[Path]) -> None:
        self.watching.add_roots(folders)
        self.refresh_library()
        self.start_indexing()

    def _folders_applied(self, added: bool) -> None:
        self.watching.show()
        self.refresh_library()
        self.refresh_shown_tab()
        if added:
            self.start_indexing()

    def _refresh_after_changes(self) -> None:
        self.refresh_library()
        self.refresh_status()
        self.refresh_shown_tab()
        self.live_refreshed.emit()

    def _trashed(self, paths: list[Path]) -> None:
        self.library_view.remove_paths(paths)
        self.similar_view.remove_paths(paths)
        self.clusters.mark_stale()
        self.refresh_status()

    def _restored(self, _paths: list[Path]) -> None:
        self._mark_stale()
        self.refresh_library()
        self.refresh_shown_tab()

    # -- the controllers' entry points, for menus, the app and other launches ---------------
    def dialog_parent(self) -> QWidget:
        return self

    def choose_folder(self) -> None:
        self.indexing.choose_folder(self)

    def add_folders(self, folders: Sequence[Path], reference: bool = False) -> None:
        self.indexing.add_folders(folders, reference)

    def start_indexing(self) -> None:
        self.indexing.start()

    def cancel_indexing(self) -> None:
        self.indexing.cancel()

    def is_indexing(self) -> bool:
        return self.indexing.is_indexing()

    def start_watching(self) -> None:
        self.watching.start()

    def stop_watching(self) -> None:
        self.watching.stop()

    def choose_query_file(self) -> None:
        self.similar.choose_query_file(self)

    def find_similar(self, path: Path, k: int | None = None,
                     min_score: float | None = None) -> None:
        self.similar.find_similar(path, k, min_score)

    def search_words(self, text: str, limit: int | None = None) -> None:
        self.similar.search_words(text, limit)

    def similar_after_indexing(self, path: Path) -> None:
        self.similar.after_indexing(path)

    def preview(self, photo: Photo) -> PreviewDialog:
        return self.similar.preview(photo, self)

    def refresh_duplicates(self) -> None:
        self.duplicates.refresh()

    def show_not_duplicates(self) -> NotDuplicatesDialog:
        return self.duplicates.show_not_duplicates(self)

    def confirm_and_trash(self, photos: list[Photo]) -> None:
        self.trash.confirm_and_trash(photos, self)

    def open_model_compare(self) -> None:
        """The chart of the last 'photosim models compare' run (its results live in data_dir)."""
        from photosim.ui.model_compare_chart import open_model_compare

        self._model_compare_dialog = open_model_compare(self.library.data_dir, self)

    # -- settings --------------------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        status = self.status
        dialog = SettingsDialog(self.settings, status.folders if status else [],
                                status.reference_folders if status else [],
                                ModelsPage(self.model_actions,
                                           status.provider if status else None), self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog))
        dialog.open()
        return dialog

    def apply_settings(self, dialog: SettingsDialog) -> None:
        new = dialog.result_settings()
        restart = (new.model, new.provider) != (self.settings.model, self.settings.provider)
        self.settings = new
        new.save(self.library.data_dir)
        for grid in (self.library_view.grid, self.similar_view.grid, self.clusters_view.grid):
            grid.set_thumb_size(new.thumb_size)
        self._show_settings(new)
        self.duplicates.mark_stale()
        wanted = dialog.folders()
        status = self.status
        self.watching.follow(set(status.folders) if status else set(), {p for p, _ in wanted})
        self.indexing.apply_folders(wanted)
        if restart:
            self.say("The new model or provider is used after photosim restarts.", 15000)

    def _show_settings(self, settings: UiSettings) -> None:
        self.similar_view.count.setValue(settings.similar_count)
        self.similar_view.set_min_similarity(settings.similar_min_score)
        self.duplicates_view.threshold.setValue(round(settings.duplicate_threshold * 100))

    # -- drag and drop, other launches -----------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(_droppable(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.handle_paths(paths)
        event.acceptProposedAction()

    def handle_paths(self, paths: Sequence[Path]) -> None:
        """Dropped or handed over by another launch: folders are added, a photo or a video is
        a query."""
        folders = [p for p in paths if p.is_dir()]
        queries = [p for p in paths if p.is_file() and p.suffix.lower() in QUERY_SUFFIXES]
        if folders:
            self.add_folders(folders)
        if queries:
            self.find_similar(queries[0])

    def handle_message(self, message: dict[str, Any]) -> None:
        """Arguments from a second launch (see single_instance)."""
        self.raise_()
        self.activateWindow()
        self.handle_paths([Path(p) for p in message.get("folders", [])])
        if message.get("similar"):
            self.find_similar(Path(message["similar"]))

    # -- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop_watching()
        self.indexing.shut_down()
        self.duplicates.stop()  # stops at its next look, a fraction of a second
        self.thumbnails.stop()
        self.runner.clear_thumbnails()
        self.runner.wait_for_done(20000)
        super().closeEvent(event)

    def _about(self) -> None:
        from photosim import __version__
        from photosim.ui.error_dialog import show_message

        show_message(self, "About photosim",
                     f"photosim {__version__}\nFind similar photos and near-duplicates, "
                     "entirely on your computer.")

    def set_icon(self, icon: QIcon) -> None:
        self.setWindowIcon(icon)


def _droppable(path: str) -> bool:
    candidate = Path(path)
    return bool(path) and (candidate.is_dir() or candidate.suffix.lower() in QUERY_SUFFIXES)
