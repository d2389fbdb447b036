"""Search results: the photos most similar to a query picture, or the photos showing a word.

For a picture, the library is asked for the ``k`` nearest photos and the view shows them all,
best first: a fixed floor hid every result for ordinary photos (with a small model a bison's
best match is 39 %). Instead a line runs through the grid where matches become weak (below
"Weak below"), and the weak ones are faded; moving that slider only moves the line (no new
search). Moving "Show up to" asks again after a short pause. For a word, every match the
core returns is shown (it has its own floor) and the weak-line slider is hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from photosim.core.types import Match
from photosim.ui.grid import PhotoGrid
from photosim.ui.models import PhotoListModel
from photosim.ui.thumbnails import ThumbnailCache

EMPTY_SIMILAR = ("Right-click a photo and choose “Find similar photos”, drop any picture onto "
                 "this window, or search for what photos show (“dog”, “beach”) in the Library "
                 "tab.")
QUERY_SIZE = 96
DEBOUNCE_MS = 250
DEFAULT_MIN_SIMILARITY = 50  # percent: below about this, CNN neighbours are mostly unrelated
WEAK_CAPTION = "weaker matches"
WEAK_FADE = 110  # alpha of the base colour laid over a weak match's cell

Query = Path | str  # a picture, or a word to search for


class SimilarView(QWidget):
    refine_requested = Signal(object, int, float)  # query (Path or word), k, min score

    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int = 160,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query: Query | None = None
        self.all_matches: list[Match] = []  # what the core returned, before the floor
        self.model = PhotoListModel(thumbnails, self)
        self.grid = ResultsGrid(thumb_size, EMPTY_SIMILAR)
        self.grid.setModel(self.model)
        self.query_image = QLabel()
        self.query_image.setFixedSize(QUERY_SIZE, QUERY_SIZE)
        self.query_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel("No search yet")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.count = _slider(5, 200, 30)
        self.count_label = QLabel()
        self.min_score = _slider(0, 100, DEFAULT_MIN_SIMILARITY)
        self.min_score.setToolTip("Matches less similar than this come after the line in the "
                                  "grid and are faded; nothing is hidden")
        self.min_caption = QLabel("Weak below")
        self.min_label = QLabel()
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._refine)
        self.count.valueChanged.connect(self._count_moved)
        self.min_score.valueChanged.connect(self._floor_moved)
        self._update_labels()
        self._build_layout()

    def _build_layout(self) -> None:
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addStretch(1)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Show up to"))
        controls.addWidget(self.count, 1)
        controls.addWidget(self.count_label)
        controls.addSpacing(16)
        controls.addWidget(self.min_caption)
        controls.addWidget(self.min_score, 1)
        controls.addWidget(self.min_label)
        text.addLayout(controls)
        header = QHBoxLayout()
        header.addWidget(self.query_image)
        header.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(self.grid, 1)

    # -- the sliders -----------------------------------------------------------------------
    def k(self) -> int:
        return self.count.value()

    def min_similarity(self) -> float:
        return self.min_score.value() / 100

    def set_min_similarity(self, value: float) -> None:
        self.min_score.setValue(round(value * 100))

    def is_word_search(self) -> bool:
        return isinstance(self.query, str)

    # -- a search begins -------------------------------------------------------------------
    def begin_search(self, query: Path, query_pixmap: QPixmap | None) -> None:
        self._begin(query, f"Photos similar to {query.name}")
        if query_pixmap is not None:
            self.show_query_picture(query_pixmap)

    def show_query_picture(self, pixmap: QPixmap) -> None:
        """The query's picture beside the title (a file from outside the library arrives
        after the search began, read on a worker)."""
        if not pixmap.isNull():
            self.query_image.setPixmap(pixmap.scaled(
                QUERY_SIZE, QUERY_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def begin_word_search(self, word: str) -> None:
        self._begin(word, f"Photos showing “{word}”")

    def _begin(self, query: Query, title: str) -> None:
        self.query = query
        self.title.setText(title)
        self.detail.setText("Searching…")
        self.query_image.clear()
        self.query_image.setVisible(isinstance(query, Path))
        for widget in (self.min_caption, self.min_score, self.min_label):
            widget.setVisible(isinstance(query, Path))

    # -- results ---------------------------------------------------------------------------
    def show_matches(self, matches: Sequence[Match]) -> None:
        """The results of the search begun last (the caller drops those of older ones)."""
        self.all_matches = list(matches)
        self.model.set_matches(self.all_matches)
        self._apply_floor()

    def visible_matches(self) -> list[Match]:
        """Every match, best first: weak ones are marked, never hidden."""
        return list(self.all_matches)

    def strong_count(self) -> int:
        """How many matches come before the weak line (all of them for a word search)."""
        if self.is_word_search():
            return len(self.all_matches)
        floor = self.min_similarity()
        return sum(1 for m in self.all_matches if m.score >= floor - 1e-9)

    def _apply_floor(self) -> None:
        self._strong_first()
        shown = self.visible_matches()
        strong = self.strong_count()
        self.grid.set_weak_from(strong if strong < len(shown) else None)
        self.detail.setText(self._describe(shown))
        self.grid.set_empty_text("No results.")

    def _strong_first(self) -> None:
        """Matches above the floor before the line, weak ones after it, each in the core's
        order: the library-adapted ranking (core/ranking.py) orders by more than the score
        shown, so a 52 % match may follow a 48 % one."""
        if self.is_word_search():
            return
        floor = self.min_similarity() - 1e-9
        ordered = ([m for m in self.all_matches if m.score >= floor]
                   + [m for m in self.all_matches if m.score < floor])
        if ordered != self.all_matches:
            self.all_matches = ordered
            self.model.set_matches(ordered)

    def _describe(self, shown: list[Match]) -> str:
        total = len(self.all_matches)
        if isinstance(self.query, str):
            if not shown:
                return f"No photo seems to show “{self.query}”."
            return (f"{total} photo{'s' if total != 1 else ''} showing “{self.query}”, best "
                    f"first (score = how sure the model is) · best {shown[0].score:.0%}")
        where = f" · query in {self.query.parent}" if self.query is not None else ""
        if not total:
            return "The library has no other photos to compare with yet." + where
        text = f"The {total} nearest photos, best {shown[0].score:.0%}"
        weak = total - self.strong_count()
        if weak == total:
            text += (f" · all weak (below {self.min_score.value()} %): nothing in the library "
                     "looks much like it")
        elif weak:
            text += f" · {weak} weak, after the line (below {self.min_score.value()} %)"
        return text + where

    def remove_paths(self, paths: Sequence[Path]) -> None:
        """Photos gone from the library (trashed, deleted on disk) leave the results."""
        gone = set(paths)
        if any(m.photo.path in gone for m in self.all_matches):
            self.all_matches = [m for m in self.all_matches if m.photo.path not in gone]
            self.model.remove_paths(list(gone))
            self._apply_floor()

    def show_failure(self, message: str) -> None:
        self.detail.setText(message)
        self.all_matches = []
        self.model.set_matches([])
        self.grid.set_weak_from(None)
        self.grid.set_empty_text(message)

    # -- slider moves ----------------------------------------------------------------------
    def _update_labels(self) -> None:
        self.count_label.setText(f"{self.count.value()}")
        self.min_label.setText(f"{self.min_score.value()} %")

    def _count_moved(self) -> None:
        self._update_labels()
        if self.query is not None:
            self._debounce.start()

    def _floor_moved(self) -> None:
        self._update_labels()
        if self.query is not None and self.all_matches:
            self._apply_floor()

    def _refine(self) -> None:
        if self.query is not None:
            self.refine_requested.emit(self.query, self.k(), self.min_similarity())


class ResultsGrid(PhotoGrid):
    """The results grid, with a line before the first weak match and weak matches faded."""

    def __init__(self, thumb_size: int = 160, empty_text: str = "") -> None:
        super().__init__(thumb_size, empty_text)
        self.weak_from: int | None = None  # row of the first weak match

    def set_weak_from(self, row: int | None) -> None:
        if row != self.weak_from:
            self.weak_from = row
            self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self.weak_from is None or model is None or self.weak_from >= model.rowCount():
            return
        painter = QPainter(self.viewport())
        fade = QColor(self.palette().color(QPalette.ColorRole.Base))
        fade.setAlpha(WEAK_FADE)
        for row in range(self.weak_from, model.rowCount()):
            cell = self.visualRect(model.index(row, 0))
            if cell.intersects(event.rect()):
                painter.fillRect(cell, fade)
        self._draw_weak_line(painter, self.visualRect(model.index(self.weak_from, 0)))
        painter.end()

    def _draw_weak_line(self, painter: QPainter, cell: QRect) -> None:
        """A bold vertical rule at the first weak match's left edge, captioned above it."""
        accent = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        painter.setPen(QPen(accent, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        x = cell.left() + 1
        painter.drawLine(x, cell.top() + 2, x, cell.bottom() - 2)
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        caption = QRect(x + 5, cell.top() + 1, cell.width() - 8,
                        painter.fontMetrics().height())
        painter.fillRect(caption.adjusted(-2, 0, 2, 0), self.palette().color(
            QPalette.ColorRole.Base))
        painter.setPen(accent)
        painter.drawText(caption, Qt.AlignmentFlag.AlignLeft, f"{WEAK_CAPTION} ▸")


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    slider.setMinimumWidth(120)
    return slider
