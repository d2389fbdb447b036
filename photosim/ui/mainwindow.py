"""The main window: tabs for the library, find-similar results, duplicate review and clusters;
a status bar with indexing progress, the model and where it runs.

Every call into the library goes through the task runner, so the GUI thread only ever fills
models and widgets with results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTabWidget,
    QToolButton,
    QWidget,
)

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.errors import DamagedCatalogError, PhotosimError
from photosim.core.library import PHOTO_SUFFIXES, Library, LibraryHealth, LibraryStatus, WriterLock
from photosim.core.types import Change, DuplicateGroup, DuplicateKind, NotDuplicate, Photo, Progress
from photosim.ui.clusters_view import ClusterEntry, ClustersView, entries_from_clusters
from photosim.ui.duplicates_view import ConfirmTrashDialog, DuplicatesView
from photosim.ui.error_dialog import show_error
from photosim.ui.format import provider_label
from photosim.ui.health import check_health, offer_catalog_recovery
from photosim.ui.library_view import LibraryView
from photosim.ui.listing import PhotoListing, prepare_listing
from photosim.ui.live import LiveLibrary
from photosim.ui.model_actions import ModelActions
from photosim.ui.model_banner import attach_model_banner
from photosim.ui.models_page import ModelsPage
from photosim.ui.not_duplicates_dialog import NotDuplicatesDialog
from photosim.ui.preview import PreviewDialog
from photosim.ui.settings import UiSettings
from photosim.ui.settings_dialog import SettingsDialog
from photosim.ui.similar_view import SimilarView
from photosim.ui.stage_words import stage_words
from photosim.ui.tasks import Pool, ProgressBridge, TaskRunner
from photosim.ui.thumbnails import ThumbnailCache
from photosim.ui.unreadable_dialog import UnreadableDialog, unreadable_text

log = logging.getLogger(__name__)

LIVE_REFRESH_MS = 3000  # while indexing, show newly found photos this often
WATCH_COALESCE_MS = 300  # watched-folder changes this close together refresh the views once


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
        self._index_token: CancelToken | None = None
        self._pending_query: Path | None = None
        self._scan_after_fill = False  # start() sets it: scan once the grid is filled
        self._stale = {"duplicates": True, "clusters": True}
        self._previews: list[PreviewDialog] = []
        self.unreadable_dialog: UnreadableDialog | None = None
        self._cluster_generation = 0
        self._duplicates_generation = 0  # counts searches: only the latest one is shown
        self._duplicates_token: CancelToken | None = None  # of the search running, if any
        self._duplicates_bridges: dict[int, ProgressBridge] = {}  # of the searches running
        self.instance_lock: WriterLock | None = None  # held by the app for its data folder
        self.health: LibraryHealth | None = None  # what the start-up check found (ui.health)
        self.catalog_recovery: QMessageBox | None = None  # the dialog that offers a rebuild
        self.thumbnails = ThumbnailCache(library, self.runner, parent=self)
        self.setWindowTitle("photosim")
        self.setAcceptDrops(True)
        self._build_views()
        self._build_status_bar()
        self._build_actions()
        self.model_actions = ModelActions(self)
        self.model_banner = attach_model_banner(self, self.model_actions)
        self._live_refresh = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_refresh.timeout.connect(self._refresh_while_indexing)
        self.live = LiveLibrary(self)
        self.live.changed.connect(self._watched_change)
        self.live.failed.connect(self.report_error)
        self._watch_coalesce = QTimer(self, singleShot=True, interval=WATCH_COALESCE_MS)
        self._watch_coalesce.timeout.connect(self._refresh_after_changes)
        self.resize(1280, 820)

    # -- construction ----------------------------------------------------------------------
    def _build_views(self) -> None:
        size = self.settings.thumb_size
        self.library_view = LibraryView(self.thumbnails, size)
        self.similar_view = SimilarView(self.thumbnails, size)
        self.similar_view.count.setValue(self.settings.similar_count)
        self.similar_view.set_min_similarity(self.settings.similar_min_score)
        self.duplicates_view = DuplicatesView(self.thumbnails, self.runner)
        self.duplicates_view.threshold.setValue(round(self.settings.duplicate_threshold * 100))
        self.clusters_view = ClustersView(self.thumbnails, size)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library_view, "Library")
        self.tabs.addTab(self.similar_view, "Similar")
        self.tabs.addTab(self.duplicates_view, "Duplicates")
        self.tabs.addTab(self.clusters_view, "Clusters")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)
        for grid in (self.library_view.grid, self.similar_view.grid, self.clusters_view.grid):
            grid.similar_requested.connect(lambda p: self.find_similar(p.path))
            grid.activated_photo.connect(self.preview)
            grid.trash_requested.connect(self.confirm_and_trash)
        self.library_view.add_folder_requested.connect(self.choose_folder)
        self.library_view.word_search_requested.connect(self.search_words)
        self.similar_view.refine_requested.connect(self._refine_similar)
        self.duplicates_view.refresh_requested.connect(lambda *_: self.refresh_duplicates())
        self.duplicates_view.cancel_requested.connect(self.cancel_duplicates)
        self.duplicates_view.resolve_requested.connect(self.resolve_group)
        self.duplicates_view.not_duplicate_requested.connect(self.not_duplicate)
        self.duplicates_view.apply_all_requested.connect(self.trash_photos)
        self.clusters_view.granularity_changed.connect(lambda _: self.refresh_clusters())

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop indexing; what is done so far is kept")
        self.cancel_button.clicked.connect(self.cancel_indexing)
        self.cancel_button.hide()
        self.reduced_label = QLabel()
        self.reduced_label.setStyleSheet("color: #b26a00;")
        self.model_label = QLabel()
        self.provider_label = QLabel()
        self.watch_label = QLabel()
        self.unreadable_button = QToolButton()
        self.unreadable_button.setAutoRaise(True)
        self.unreadable_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.unreadable_button.setStyleSheet("color: #b00020; text-decoration: underline;")
        self.unreadable_button.setToolTip("Show which files could not be read, and why")
        self.unreadable_button.clicked.connect(self.show_unreadable)
        self.unreadable_button.hide()
        bar.addWidget(self.progress_label, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        bar.addPermanentWidget(self.unreadable_button)
        for label in (self.watch_label, self.reduced_label, self.model_label,
                      self.provider_label):
            bar.addPermanentWidget(label)

    def open_model_compare(self) -> None:
        """The chart of the last 'photosim models compare' run (its results live in data_dir)."""
        from photosim.ui.model_compare_chart import open_model_compare

        self._model_compare_dialog = open_model_compare(self.library.data_dir, self)

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
        self.undo_action = self._action(edit_menu, "&Undo last move to trash", self.undo,
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

    # -- errors ----------------------------------------------------------------------------
    def report_error(self, exc: BaseException) -> None:
        self.last_error = exc
        if isinstance(exc, DamagedCatalogError):  # offer the rebuild, not only the words
            offer_catalog_recovery(self, exc.summary)
            return
        show_error(self, exc)

    def say(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    # -- library and status ----------------------------------------------------------------
    def start(self) -> None:
        """Fill the window from the catalog, then bring the index up to date. The catch-up
        scan waits until the grid is filled: at 100k photos the two compete for the
        interpreter, and the photos on screen matter more at start than the scan."""
        self._scan_after_fill = True
        self.refresh_library()
        self.refresh_status()
        self.check_word_search()
        check_health(self)

    def set_library(self, library: Library) -> None:
        """Switch to a re-opened library (e.g. after a model was downloaded)."""
        self.library = library
        self.thumbnails.set_library(library)
        self._stale = {"duplicates": True, "clusters": True}
        self.refresh_status()
        self.refresh_library()
        self.check_word_search()

    def check_word_search(self) -> None:
        """Offer "Photo shows" only when the model has a classifier to answer it. Finding the
        classifier reads a model file, so it happens on a worker."""
        library = self.library

        def found(head: object) -> None:
            if library is self.library:
                self.library_view.set_word_search_available(head is not None)

        self.runner.run_task(library.classifier_head, found, lambda exc: found(None))

    def refresh_library(self) -> None:
        """Read and sort the photos on a worker; the grid then only swaps them in."""
        library = self.library
        key, descending = self.library_view.sort_order()
        shown = self.library_view.model.snapshot()

        def read() -> tuple[PhotoListing, LibraryStatus]:
            listing = prepare_listing(library.photo_rows(), key, descending, shown)
            return listing, library.status()

        self.runner.run_task(read, self._library_read, self._library_read_failed)

    def _library_read(self, result: tuple[PhotoListing, LibraryStatus]) -> None:
        listing, status = result
        self.library_view.show_listing(listing, status.folders, status.reference_folders)
        self._show_status(status)
        self.library_loaded.emit()
        self._scan_once_filled()

    def _library_read_failed(self, exc: BaseException) -> None:
        self.report_error(exc)
        self._scan_once_filled()

    def _scan_once_filled(self) -> None:
        if self._scan_after_fill:
            self._scan_after_fill = False
            self.start_indexing()

    def _refresh_while_indexing(self) -> None:
        """Show photos the running scan has found; reading the whole library again costs a
        100k-photo library seconds, so only when the count of photos changed."""
        library = self.library
        shown = self.library_view.model.rowCount()
        self.runner.run_task(library.status, lambda status: self._count_checked(status, shown))

    def _count_checked(self, status: LibraryStatus, shown: int) -> None:
        if status.photos != shown:
            self.refresh_library()
        else:
            self._show_status(status)

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
        for grid in (self.library_view.grid, self.clusters_view.grid):
            grid.can_search = status.visual_search
        self.similar_view.grid.can_search = status.visual_search
        unreadable = status.errors + status.scan_problems
        self.unreadable_button.setText(unreadable_text(unreadable))
        self.unreadable_button.setVisible(unreadable > 0)
        self.status_shown.emit(status)

    def show_unreadable(self) -> None:
        """List the files that could not be read, and what the scans could not even look at
        (read on the task runner, then shown)."""
        self.runner.run_task(lambda: (self.library.errors(), self.library.scan_problems()),
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

    # -- folders and indexing --------------------------------------------------------------
    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if chosen:
            self.add_folders([Path(chosen)])

    def add_folders(self, folders: Sequence[Path], reference: bool = False) -> None:
        library = self.library

        def add() -> None:
            for folder in folders:
                library.add_folder(folder, reference)

        self.runner.run_task(add, lambda _: self._folders_added(folders))

    def _folders_added(self, folders: Sequence[Path]) -> None:
        for folder in folders:
            self.live.add_root(folder)  # no-op until watching starts after the first index
        self._show_watching()
        self.refresh_library()
        self.start_indexing()

    def start_indexing(self) -> None:
        if self._index_token is not None:
            self.say("Indexing is already running.")
            return
        self._index_token = token = CancelToken()
        bridge = ProgressBridge(parent=self)
        bridge.progressed.connect(self._show_progress)
        library = self.library
        self._set_indexing(True)
        self.runner.run_task(lambda: library.index(progress=bridge.report, cancel=token),
                             lambda report: self._indexing_done(report, bridge),
                             lambda exc: self._indexing_failed(exc, bridge),
                             pool=Pool.INDEXING)

    def cancel_indexing(self) -> None:
        if self._index_token is not None:
            self._index_token.cancel()
            self.progress_label.setText("Stopping…")

    def is_indexing(self) -> bool:
        return self._index_token is not None

    def _set_indexing(self, busy: bool) -> None:
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

    def _indexing_done(self, report: Any, bridge: ProgressBridge) -> None:
        if not shiboken6.isValid(self):  # the window was closed while indexing ran
            return
        bridge.deleteLater()
        self._index_token = None
        self._set_indexing(False)
        self.progress_label.setText(_report_text(report))
        for problem in getattr(report, "problems", ()):
            log.warning("indexing: %s", problem)
        self._stale = {"duplicates": True, "clusters": True}
        self.refresh_library()
        self._tab_changed(self.tabs.currentIndex())
        self._run_pending_query()
        self._preload_index()
        self.start_watching()
        self.indexing_finished.emit(report)

    def _preload_index(self) -> None:
        """Load the vector index in the background now, so that the first "Find similar"
        does not wait for it (seconds at 100k photos); a scan that found nothing new never
        loaded it. A failure here shows again, to the user, when a search needs the index."""
        library = self.library
        self.runner.run_task(library.vector_index, None,
                             lambda exc: log.warning("index not preloaded: %s", exc))

    def similar_after_indexing(self, path: Path) -> None:
        """Show the find-similar results for ``path`` once the coming index run is over."""
        self._pending_query = path
        self.similar_view.begin_search(path, None)
        self.similar_view.detail.setText("Waiting for indexing to finish…")
        self.tabs.setCurrentWidget(self.similar_view)

    def _run_pending_query(self) -> None:
        query, self._pending_query = self._pending_query, None
        if query is not None:
            self.find_similar(query)

    def _indexing_failed(self, exc: BaseException, bridge: ProgressBridge) -> None:
        if not shiboken6.isValid(self):  # the window was closed while indexing ran
            return
        bridge.deleteLater()
        self._index_token = None
        self._set_indexing(False)
        self.progress_label.setText("Indexing stopped by an error.")
        self.report_error(exc)
        self._run_pending_query()
        self.start_watching()
        self.indexing_finished.emit(None)

    # -- watched folders -------------------------------------------------------------------
    def start_watching(self) -> None:
        """Follow the library folders live; started once the catch-up index has run, so
        the watcher only sees what changes from now on."""
        if self.live.is_running():
            return
        self.live.start(self.library, polling=self.settings.watch_polling)
        self._show_watching()

    def stop_watching(self) -> None:
        self.live.stop()
        self._show_watching()

    def _show_watching(self) -> None:
        count = len(self.live.roots())
        self.watch_label.setText(f"Watching {count} folder{'s' if count != 1 else ''}"
                                 if self.live.is_running() else "")
        self.watch_label.setToolTip("New, changed, moved and deleted photos in these folders "
                                    "are picked up as they happen:\n" +
                                    "\n".join(str(r) for r in self.live.roots()))

    def _watched_change(self, kind: str, paths: list[Path]) -> None:
        """GUI thread: the watcher changed the catalog. Gone photos leave the grids at once;
        everything else is refreshed from the catalog once the changes pause."""
        gone = {Change.REMOVED: paths, Change.MOVED: paths[:1]}.get(Change(kind), [])
        if gone:
            self.library_view.remove_paths(gone)
            self.similar_view.remove_paths(gone)
            self.clusters_view.members.remove_paths(gone)
        self._stale = {"duplicates": True, "clusters": True}
        self.say(_change_text(Change(kind), paths))
        self._watch_coalesce.start()

    def _refresh_after_changes(self) -> None:
        self.refresh_library()
        self.refresh_status()
        self._tab_changed(self.tabs.currentIndex())  # refreshes duplicates/clusters if shown
        self.live_refreshed.emit()

    # -- find similar ----------------------------------------------------------------------
    def choose_query_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Find photos similar to…", "",
            "Images (" + " ".join(f"*{s}" for s in sorted(PHOTO_SUFFIXES)) + ")")
        if chosen:
            self.find_similar(Path(chosen))

    def find_similar(self, path: Path, k: int | None = None,
                     min_score: float | None = None) -> None:
        photo = self.library_view.model.row_of(path)
        pixmap = (self.thumbnails.pixmap(self.library_view.model.photo_at(photo))
                  if photo is not None else None)
        self.similar_view.begin_search(path, pixmap)
        self.tabs.setCurrentWidget(self.similar_view)
        if self.is_indexing():  # the index is still filling: ask once it is complete
            self._pending_query = path
            self.similar_view.detail.setText("Waiting for indexing to finish…")
            return
        if min_score is not None:
            self.similar_view.set_min_similarity(min_score)
        k = k or self.similar_view.k()
        library = self.library
        # The k nearest whatever their score: the view draws the weak-match line itself,
        # so the slider moves the line without a new search.
        self.runner.run_task(lambda: library.similar(path, k=k, min_score=0.0),
                             lambda matches: self._similar_done(path, matches),
                             lambda exc: self._similar_failed(path, exc))

    def search_words(self, text: str, limit: int | None = None) -> None:
        """Photos showing ``text`` ("dog", "castle") in the results tab, best first."""
        word = " ".join(text.split())
        if not word:
            return
        self.similar_view.begin_word_search(word)
        self.tabs.setCurrentWidget(self.similar_view)
        library = self.library
        count = limit or self.similar_view.k()
        self.runner.run_task(lambda: library.search_words(word, limit=count),
                             lambda matches: self._similar_done(word, matches),
                             lambda exc: self._similar_failed(word, exc))

    def _refine_similar(self, query: Path | str, k: int, _min_score: float) -> None:
        if isinstance(query, str):
            self.search_words(query, k)
        else:
            self.find_similar(query, k)

    def _similar_done(self, query: Path | str, matches: list[Any]) -> None:
        self.similar_view.show_matches(query, matches)
        self.similar_finished.emit()

    def _similar_failed(self, query: Path | str, exc: BaseException) -> None:
        if query != self.similar_view.query:  # a newer search replaced this one
            log.info("stale search failed: %s", exc)
        elif isinstance(exc, PhotosimError):
            self.similar_view.show_failure(str(exc))
        else:
            self.similar_view.show_failure("The search failed.")
            self.report_error(exc)
        self.similar_finished.emit()

    def preview(self, photo: Photo) -> PreviewDialog:
        dialog = PreviewDialog(photo, self.runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.similar_requested.connect(lambda p: self.find_similar(p.path))
        dialog.show()
        return dialog

    # -- drag and drop ---------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(_droppable(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.handle_paths(paths)
        event.acceptProposedAction()

    def handle_paths(self, paths: Sequence[Path]) -> None:
        """Dropped or handed over by another launch: folders are added, an image is a query."""
        folders = [p for p in paths if p.is_dir()]
        images = [p for p in paths if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES]
        if folders:
            self.add_folders(folders)
        if images:
            self.find_similar(images[0])

    def handle_message(self, message: dict[str, Any]) -> None:
        """Arguments from a second launch (see single_instance)."""
        self.raise_()
        self.activateWindow()
        self.handle_paths([Path(p) for p in message.get("folders", [])])
        if message.get("similar"):
            self.find_similar(Path(message["similar"]))

    # -- duplicates ------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self.duplicates_view and self._stale["duplicates"] and \
                not self.duplicates_view.is_stopped():  # stopped by the user: until asked
            self.refresh_duplicates()
        elif widget is self.clusters_view and self._stale["clusters"]:
            self.refresh_clusters()

    def refresh_duplicates(self) -> None:
        """Look for duplicate groups in the background, showing how far the search got. A
        newer ask (the slider, the kind filter) cancels the search still running, whose
        progress and results are never shown."""
        self._stale["duplicates"] = False
        self._stop_duplicates()
        self._duplicates_generation += 1
        generation = self._duplicates_generation
        token = self._duplicates_token = CancelToken()
        bridge = ProgressBridge(parent=self)
        bridge.progressed.connect(lambda progress: self._duplicates_progress(generation,
                                                                             progress))
        library = self.library
        threshold = self.duplicates_view.threshold_value()
        kind = self.duplicates_view.kind_value()
        kinds: set[DuplicateKind] | None = {kind} if kind else None
        self.duplicates_view.set_busy(self.status.photos if self.status else None)

        def find() -> tuple[list[DuplicateGroup], LibraryStatus]:
            groups = library.duplicates(threshold, kinds, progress=bridge.report, cancel=token)
            return groups, library.status()

        self._duplicates_bridges[generation] = bridge
        self.runner.run_task(find, lambda result: self._duplicates_found(generation, result),
                             lambda exc: self._duplicates_failed(generation, exc))

    def cancel_duplicates(self) -> None:
        """The user's Cancel: stop the search; the tab then offers to search again."""
        if self._duplicates_token is not None:
            self._duplicates_token.cancel()
            self.duplicates_view.set_stopping()

    def _stop_duplicates(self) -> None:
        token, self._duplicates_token = self._duplicates_token, None
        if token is not None:
            token.cancel()

    def _duplicates_progress(self, generation: int, progress: Progress) -> None:
        if generation == self._duplicates_generation and self._duplicates_token is not None:
            self.duplicates_view.show_progress(stage_words(progress.stage), progress.done,
                                               progress.total or 0)

    def _search_over(self, generation: int) -> bool:
        """Whether ``generation`` is the search shown (it is over now)."""
        bridge = self._duplicates_bridges.pop(generation, None)
        if bridge is not None:
            bridge.deleteLater()
        if generation != self._duplicates_generation:
            return False
        self._duplicates_token = None
        return True

    def _duplicates_found(self, generation: int,
                          result: tuple[list[DuplicateGroup], LibraryStatus]) -> None:
        if not self._search_over(generation):
            return
        groups, status = result
        self.duplicates_view.set_groups(groups, status.reference_folders)
        self.duplicates_loaded.emit()

    def _duplicates_failed(self, generation: int, exc: BaseException) -> None:
        if not self._search_over(generation):
            if not isinstance(exc, Cancelled):
                log.warning("a replaced duplicate search failed: %s",
                            getattr(exc, "__photosim_traceback__", exc))
            return
        if isinstance(exc, Cancelled):
            self.duplicates_view.set_stopped()
        elif isinstance(exc, PhotosimError):
            self.duplicates_view.set_stopped(str(exc))
        else:
            self.duplicates_view.set_stopped("The duplicate search failed.")
            self.report_error(exc)
        self.duplicates_stopped.emit()

    def resolve_group(self, group: DuplicateGroup, to_trash: list[Photo]) -> None:
        if not to_trash:  # everything kept: remember it so the group never comes back
            self.not_duplicate(group)
            return
        self._trash(to_trash, lambda: self.duplicates_view.group_resolved(group))

    def not_duplicate(self, group: DuplicateGroup) -> None:
        library = self.library
        members = list(group.members)
        self.runner.run_task(lambda: library.mark_not_duplicate(members),
                             lambda _: self._not_duplicate_done(group))

    def _not_duplicate_done(self, group: DuplicateGroup) -> None:
        self.duplicates_view.group_resolved(group)
        message = f"Kept all {len(group.members)} photos; this group will not be shown again."
        self.say(message)
        self.action_finished.emit(message)

    def trash_photos(self, photos: list[Photo]) -> None:
        self._trash(photos, self.refresh_duplicates)

    def confirm_and_trash(self, photos: list[Photo]) -> None:
        if ConfirmTrashDialog(photos, self).exec() == QDialog.DialogCode.Accepted:
            self._trash(photos, lambda: None)

    def _trash(self, photos: list[Photo], then: Callable[[], None]) -> None:
        library = self.library
        self.runner.run_task(lambda: library.trash(photos),
                             lambda action: self._trashed(action, then),
                             self._action_failed)

    def _trashed(self, action: Any, then: Callable[[], None]) -> None:
        self.library_view.remove_paths(list(action.paths))
        self.similar_view.remove_paths(list(action.paths))
        self._stale["clusters"] = True
        then()
        count = len(action.paths)
        message = (f"Moved {count} file{'s' if count != 1 else ''} to the trash. "
                   "Undo with Ctrl+Z.")
        self.say(message, 15000)
        self.refresh_status()
        self.action_finished.emit(message)

    def _action_failed(self, exc: BaseException) -> None:
        self.report_error(exc)
        self.action_finished.emit(f"failed: {exc}")

    def show_not_duplicates(self) -> NotDuplicatesDialog:
        """List the "not a duplicate" decisions; those taken back are grouped again."""
        dialog = NotDuplicatesDialog(self.library.not_duplicate_decisions(), self)
        dialog.forget_requested.connect(self.forget_not_duplicates)
        dialog.open()
        return dialog

    def forget_not_duplicates(self, decisions: list[NotDuplicate]) -> None:
        library = self.library
        self.runner.run_task(lambda: library.forget_not_duplicate(decisions),
                             lambda _: self._not_duplicates_forgotten(len(decisions)),
                             self._action_failed)

    def _not_duplicates_forgotten(self, count: int) -> None:
        message = f"{count} not-a-duplicate decision{'s' if count != 1 else ''} taken back."
        self.say(message)
        self._stale["duplicates"] = True
        self._tab_changed(self.tabs.currentIndex())
        self.action_finished.emit(message)

    def undo(self) -> None:
        library = self.library
        self.runner.run_task(library.undo, self._undone, self._action_failed)

    def _undone(self, restored: list[Path]) -> None:
        message = f"Restored {len(restored)} file{'s' if len(restored) != 1 else ''} " \
                  "from the trash."
        self.say(message)
        self._stale = {"duplicates": True, "clusters": True}
        self.refresh_library()
        self._tab_changed(self.tabs.currentIndex())
        self.action_finished.emit(message)

    # -- clusters --------------------------------------------------------------------------
    def refresh_clusters(self) -> None:
        """Group the library in the background; a result older than the latest ask is dropped
        (the slider may move again while a big library is still being grouped)."""
        self._stale["clusters"] = False
        self._cluster_generation += 1
        generation = self._cluster_generation
        library = self.library
        granularity = self.clusters_view.granularity_value()
        self.clusters_view.set_busy()

        def group() -> list[ClusterEntry]:
            return entries_from_clusters(library.clusters(granularity), library.photos())

        self.runner.run_task(group, lambda entries: self._clusters_found(generation, entries),
                             lambda exc: self._clusters_failed(generation, exc))

    def _clusters_found(self, generation: int, entries: list[ClusterEntry]) -> None:
        if generation != self._cluster_generation:
            return
        status = self.status
        if not entries and status is not None and not status.visual_search:
            self.clusters_view.set_unavailable()
        else:
            self.clusters_view.set_entries(entries)
        self.clusters_loaded.emit()

    def _clusters_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._cluster_generation:
            return
        if isinstance(exc, PhotosimError):
            self.clusters_view.set_unavailable(str(exc))
        else:
            self.report_error(exc)
        self.clusters_loaded.emit()

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
        self.similar_view.count.setValue(new.similar_count)
        self.similar_view.set_min_similarity(new.similar_min_score)
        self.duplicates_view.threshold.setValue(round(new.duplicate_threshold * 100))
        self._stale["duplicates"] = True
        self._apply_folders(dialog.folders())
        if restart:
            self.say("The new model or provider is used after photosim restarts.", 15000)

    def _apply_folders(self, wanted: list[tuple[Path, bool]]) -> None:
        status = self.status
        current = set(status.folders) if status else set()
        reference = set(status.reference_folders) if status else set()
        library = self.library
        wanted_paths = {p for p, _ in wanted}
        for path in current - wanted_paths:
            self.live.remove_root(path)  # stop following it before the library forgets it
        for path in wanted_paths - current:
            self.live.add_root(path)

        def apply() -> bool:
            for path in current - wanted_paths:
                library.remove_folder(path)
            for path, is_reference in wanted:
                if path not in current:
                    library.add_folder(path, is_reference)
                elif is_reference != (path in reference):
                    library.set_reference(path, is_reference)
            return bool(wanted_paths - current)

        self.runner.run_task(apply, lambda added: self._folders_applied(added))

    def _folders_applied(self, added: bool) -> None:
        self._show_watching()
        self.refresh_library()
        self._tab_changed(self.tabs.currentIndex())
        if added:
            self.start_indexing()

    # -- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop_watching()
        self.cancel_indexing()
        self._stop_duplicates()  # stops at its next look, a fraction of a second
        self._live_refresh.stop()
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


def _droppable(path: str) -> bool:
    candidate = Path(path)
    return bool(path) and (candidate.is_dir() or candidate.suffix.lower() in PHOTO_SUFFIXES)


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
                                             (report.failed, "could not be read")) if n]
    return "Library up to date" + (": " + ", ".join(parts) if parts else ".")
