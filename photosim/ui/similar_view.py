"""Find similar: the query picture, a ranked grid with scores, and sliders for how many and how
similar. Moving a slider asks again after a short pause (the search itself is fast)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
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

EMPTY_SIMILAR = ("Right-click a photo and choose “Find similar photos”, "
                 "or drop any picture onto this window.")
QUERY_SIZE = 96
DEBOUNCE_MS = 250


class SimilarView(QWidget):
    refine_requested = Signal(object, int, float)  # query path, k, min score

    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int = 160,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query: Path | None = None
        self.model = PhotoListModel(thumbnails, self)
        self.grid = PhotoGrid(thumb_size, EMPTY_SIMILAR)
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
        self.count = _slider(5, 200, 30)
        self.count_label = QLabel()
        self.min_score = _slider(0, 100, 50)
        self.min_label = QLabel()
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._refine)
        self.count.valueChanged.connect(self._sliders_moved)
        self.min_score.valueChanged.connect(self._sliders_moved)
        self._sliders_moved()
        self._debounce.stop()
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
        controls.addWidget(QLabel("Similarity at least"))
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

    def k(self) -> int:
        return self.count.value()

    def min_similarity(self) -> float:
        return self.min_score.value() / 100

    def set_min_similarity(self, value: float) -> None:
        self.min_score.setValue(round(value * 100))
        self._debounce.stop()

    def begin_search(self, query: Path, query_pixmap: QPixmap | None) -> None:
        self.query = query
        self.title.setText(f"Photos similar to {query.name}")
        self.detail.setText("Searching…")
        if query_pixmap is not None and not query_pixmap.isNull():
            self.query_image.setPixmap(query_pixmap.scaled(
                QUERY_SIZE, QUERY_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        else:
            self.query_image.clear()

    def show_matches(self, query: Path, matches: Sequence[Match]) -> None:
        if query != self.query:
            return  # an older search finished after a newer one began
        self.model.set_matches(matches)
        where = f"in {query.parent}" if query.parent else ""
        if matches:
            self.detail.setText(f"{len(matches)} photos, best {matches[0].score:.0%} · "
                                f"query {where}")
        else:
            self.detail.setText("No library photo is similar enough. "
                                "Lower “Similarity at least” to see more.")
        self.grid.set_empty_text("Nothing at this similarity. Lower the slider above.")

    def show_failure(self, message: str) -> None:
        self.detail.setText(message)
        self.model.set_matches([])

    def _sliders_moved(self) -> None:
        self.count_label.setText(f"{self.count.value()}")
        self.min_label.setText(f"{self.min_score.value()} %")
        if self.query is not None:
            self._debounce.start()

    def _refine(self) -> None:
        if self.query is not None:
            self.refine_requested.emit(self.query, self.k(), self.min_similarity())


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    slider.setMinimumWidth(120)
    return slider
