"""The results tab: photos similar to a picture, or photos showing a word. Only the latest
search is shown; a search asked for while indexing runs waits for the index to be complete."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QWidget

from photosim.core.library import PHOTO_SUFFIXES, QUERY_SUFFIXES, VIDEO_SUFFIXES
from photosim.core.types import Photo
from photosim.ui.compare_view import load_picture
from photosim.ui.controllers.shell import Shell, show_failure
from photosim.ui.preview import PreviewDialog
from photosim.ui.tasks import LatestRequest

log = logging.getLogger(__name__)


class SimilarController(QObject):
    finished = Signal()  # a search's results (or its failure) are shown

    def __init__(self, shell: Shell, is_indexing: Callable[[], bool], parent: QObject) -> None:
        super().__init__(parent)
        self.shell = shell
        self.view = shell.similar_view
        self._is_indexing = is_indexing
        self._latest = LatestRequest(self)
        self._pending_query: Path | None = None
        self.view.refine_requested.connect(self._refine)

    def choose_query_file(self, parent: QWidget) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            parent, "Find photos similar to…", "", query_file_filter())
        if chosen:
            self.find_similar(Path(chosen))

    def find_similar(self, path: Path, k: int | None = None,
                     min_score: float | None = None) -> None:
        model = self.shell.library_view.model
        row = model.row_of(path)
        pixmap = self.shell.thumbnails.pixmap(model.photo_at(row)) if row is not None else None
        self.view.begin_search(path, pixmap)
        if row is None:  # a file from outside the library: its picture is read on a worker
            self._show_outside_query(path)
        self.shell.tabs.setCurrentWidget(self.view)
        if self._is_indexing():  # the index is still filling: ask once it is complete
            self._wait_for_index(path)
            return
        if min_score is not None:
            self.view.set_min_similarity(min_score)
        k = k or self.view.k()
        library = self.shell.library
        # The k nearest whatever their score: the view draws the weak-match line itself,
        # so the slider moves the line without a new search.
        self._search(lambda: library.similar(path, k=k, min_score=0.0))

    def _show_outside_query(self, path: Path) -> None:
        def shown(image: QImage | None) -> None:
            if image is not None and self.view.query == path:  # still the query shown
                self.view.show_query_picture(QPixmap.fromImage(image))

        self.shell.runner.run_task(lambda: load_picture(path), shown,
                                   lambda exc: log.info("query picture unreadable: %s", exc))

    def search_words(self, text: str, limit: int | None = None) -> None:
        """Photos showing ``text`` ("dog", "castle") in the results tab, best first."""
        word = " ".join(text.split())
        if not word:
            return
        self.view.begin_word_search(word)
        self.shell.tabs.setCurrentWidget(self.view)
        library = self.shell.library
        count = limit or self.view.k()
        self._search(lambda: library.search_words(word, limit=count))

    def _search(self, search: Callable[[], list[Any]]) -> None:
        request = self._latest.begin()
        self.shell.runner.run_task(
            search, self._latest.deliver(request, self._done),
            self._latest.deliver(request, self._failed,
                                 lambda exc: log.info("stale search failed: %s", exc)),
            receiver=self)

    def _refine(self, query: Path | str, k: int, _min_score: float) -> None:
        if isinstance(query, str):
            self.search_words(query, k)
        else:
            self.find_similar(query, k)

    def _done(self, matches: list[Any]) -> None:
        self.view.show_matches(matches)
        self.finished.emit()

    def _failed(self, exc: BaseException) -> None:
        show_failure(self.shell, exc, self.view.show_failure, "The search failed.")
        self.finished.emit()

    # -- a search that waits for indexing ----------------------------------------------------
    def after_indexing(self, path: Path) -> None:
        """Show the find-similar results for ``path`` once the coming index run is over."""
        self.view.begin_search(path, None)
        self._wait_for_index(path)
        self.shell.tabs.setCurrentWidget(self.view)

    def _wait_for_index(self, path: Path) -> None:
        self._latest.stop()  # a search still running was for an older query
        self._pending_query = path
        self.view.detail.setText("Waiting for indexing to finish…")

    def run_pending(self) -> None:
        """Indexing is over: run the search that waited for it."""
        query, self._pending_query = self._pending_query, None
        if query is not None:
            self.find_similar(query)

    def preview(self, photo: Photo, parent: QWidget) -> PreviewDialog:
        dialog = PreviewDialog(photo, self.shell.runner, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.similar_requested.connect(lambda p: self.find_similar(p.path))
        dialog.show()
        return dialog


def query_file_filter() -> str:
    """The file dialog's choices: photos and videos (a video is searched by its frames)."""
    def patterns(suffixes: frozenset[str]) -> str:
        return " ".join(f"*{s}" for s in sorted(suffixes))

    return (f"Photos and videos ({patterns(QUERY_SUFFIXES)});;"
            f"Photos ({patterns(PHOTO_SUFFIXES)});;Videos ({patterns(VIDEO_SUFFIXES)})")
