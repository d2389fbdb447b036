"""Visual clusters: a card per cluster (a mosaic of its representative photos, a name, a size);
opening one shows all of its photos in the grid below.

The clustering itself lives in the core (``Library.clusters(granularity)``); the "Coarser /
Finer" slider is its granularity. Without a model the tab says why there is nothing to show.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from photosim.core.library import Cluster
from photosim.core.types import Photo
from photosim.ui.grid import PhotoGrid
from photosim.ui.models import ClusterRole, CountRole, PhotoListModel
from photosim.ui.thumbnails import ThumbnailCache

Index = QModelIndex | QPersistentModelIndex
CARD = 180  # logical pixels of a cluster card's mosaic
NO_MODEL = ("Visual clusters need a model: photosim is running without one (reduced mode).\n"
            "Find duplicates works already; choose a model in Settings for clusters.")
EMPTY_CLUSTERS = "No clusters yet: they appear once photos are indexed."
COMPUTING = "Grouping photos by what they show…"
GRANULARITY_DEBOUNCE_MS = 300


@dataclass(frozen=True)
class ClusterEntry:
    """A cluster as the view needs it: photos resolved from the core's ids."""

    id: int
    name: str
    size: int
    representatives: tuple[Photo, ...]
    members: tuple[Photo, ...]
    is_misc: bool = False  # the bucket of photos that fit no cluster


def entries_from_clusters(clusters: Sequence[Cluster],
                          photos: Sequence[Photo]) -> list[ClusterEntry]:
    """Worker thread: turn the core's clusters (photo ids) into entries holding the photos,
    biggest first and the miscellaneous bucket last. Ids of photos gone meanwhile are skipped."""
    by_id = {p.id: p for p in photos}
    entries = []
    for c in clusters:
        members = tuple(by_id[i] for i in c.member_ids if i in by_id)
        if not members:
            continue
        reps = tuple(by_id[i] for i in c.representative_ids if i in by_id) or members[:4]
        entries.append(ClusterEntry(c.id, c.name, len(members), reps, members, c.is_misc))
    return sorted(entries, key=lambda e: (e.is_misc, -e.size, e.name))


class ClusterModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[ClusterEntry] = []
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._thumbnails_ready)

    def set_entries(self, entries: Sequence[ClusterEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entry_at(self, row: int) -> ClusterEntry:
        return self._entries[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{entry.name}\n{entry.size:,} photo{'s' if entry.size != 1 else ''}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._mosaic(entry)
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.is_misc:
                return f"{entry.size:,} photos that fit no cluster at this granularity"
            return f"{entry.name}: {entry.size:,} photos"
        return {ClusterRole: entry, CountRole: entry.size}.get(role)

    def _mosaic(self, entry: ClusterEntry) -> QPixmap:
        """Up to four representatives in a 2×2 mosaic (placeholders while they load)."""
        mosaic = QPixmap(QSize(CARD, CARD))
        mosaic.fill(Qt.GlobalColor.transparent)
        painter = QPainter(mosaic)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        half = CARD // 2
        for i, photo in enumerate(entry.representatives[:4]):
            cell = QRect((i % 2) * half + 1, (i // 2) * half + 1, half - 2, half - 2)
            _draw_cropped(painter, self._thumbnails.pixmap(photo), cell)
        painter.end()
        return mosaic

    def _thumbnails_ready(self, paths: list[Path]) -> None:
        wanted = set(paths)
        for row, entry in enumerate(self._entries):
            if any(p.path in wanted for p in entry.representatives[:4]):
                self.dataChanged.emit(self.index(row), self.index(row),
                                      [Qt.ItemDataRole.DecorationRole])


def _draw_cropped(painter: QPainter, pixmap: QPixmap, cell: QRect) -> None:
    """Fill ``cell`` with the centre of ``pixmap`` (a square crop reads best in a mosaic)."""
    side = min(pixmap.width(), pixmap.height())
    source = QRect((pixmap.width() - side) // 2, (pixmap.height() - side) // 2, side, side)
    painter.drawPixmap(cell, pixmap, source)


class ClustersView(QWidget):
    granularity_changed = Signal(float)  # 0 = coarsest, 1 = finest

    def __init__(self, thumbnails: ThumbnailCache, thumb_size: int = 160,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ClusterModel(thumbnails, self)
        self.clusters = QListView()
        self.clusters.setModel(self.model)
        self.clusters.setViewMode(QListView.ViewMode.IconMode)
        self.clusters.setIconSize(QSize(CARD, CARD))
        self.clusters.setGridSize(QSize(CARD + 36, CARD + 56))
        self.clusters.setResizeMode(QListView.ResizeMode.Adjust)
        self.clusters.setMovement(QListView.Movement.Static)
        self.clusters.setUniformItemSizes(True)
        self.clusters.setWordWrap(True)
        self.clusters.selectionModel().currentChanged.connect(self._opened)
        self.members = PhotoListModel(thumbnails, self)
        self.grid = PhotoGrid(thumb_size, "Choose a cluster above to see its photos.")
        self.grid.setModel(self.members)
        self.title = QLabel()
        self.opened_title = QLabel()
        self.notice = QLabel(NO_MODEL, alignment=Qt.AlignmentFlag.AlignCenter)
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.granularity = QSlider(Qt.Orientation.Horizontal)
        self.granularity.setRange(0, 100)
        self.granularity.setValue(50)
        self.granularity.setMaximumWidth(220)
        self.granularity.setToolTip("Coarser: fewer, broader clusters. Finer: more, tighter ones.")
        self._debounce = QTimer(self, singleShot=True, interval=GRANULARITY_DEBOUNCE_MS)
        self._debounce.timeout.connect(
            lambda: self.granularity_changed.emit(self.granularity_value()))
        self.granularity.valueChanged.connect(lambda _: self._debounce.start())
        self._build_layout()

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(QLabel("Coarser"))
        bar.addWidget(self.granularity)
        bar.addWidget(QLabel("Finer"))
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.clusters)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.opened_title)
        bottom_layout.addWidget(self.grid)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([420, 360])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.notice, 1)
        layout.addWidget(self.splitter, 1)

    def granularity_value(self) -> float:
        return self.granularity.value() / 100

    def set_unavailable(self, message: str = NO_MODEL) -> None:
        self.notice.setText(message)
        self.notice.show()
        self.splitter.hide()

    def set_busy(self) -> None:
        self.title.setText(COMPUTING)

    def set_entries(self, entries: Sequence[ClusterEntry]) -> None:
        """Show new clusters; the cluster that was open stays open when its id survived."""
        opened = self.opened_entry()
        self.notice.hide()
        self.splitter.show()
        self.model.set_entries(entries)
        named = [e for e in entries if not e.is_misc]
        total = sum(e.size for e in entries)
        self.title.setText(f"{len(named)} clusters · {total:,} photos" if entries
                           else EMPTY_CLUSTERS)
        rows = [r for r, e in enumerate(entries) if opened is not None and e.id == opened.id]
        if entries:
            self.clusters.setCurrentIndex(self.model.index(rows[0] if rows else 0))
        else:
            self._show_members(None)

    def opened_entry(self) -> ClusterEntry | None:
        index = self.clusters.currentIndex()
        entry = index.data(ClusterRole) if index.isValid() else None
        return entry if isinstance(entry, ClusterEntry) else None

    def open_row(self, row: int) -> None:
        self.clusters.setCurrentIndex(self.model.index(row))

    def _opened(self, index: QModelIndex) -> None:
        entry = index.data(ClusterRole) if index.isValid() else None
        self._show_members(entry if isinstance(entry, ClusterEntry) else None)

    def _show_members(self, entry: ClusterEntry | None) -> None:
        self.members.set_photos(entry.members if entry else [])
        if entry is None:
            self.opened_title.clear()
        elif entry.is_misc:
            self.opened_title.setText(f"<b>{html.escape(entry.name)}</b> · {entry.size:,} photos "
                                      "that fit "
                                      "no cluster (try “Coarser”)")
        else:
            self.opened_title.setText(f"<b>{html.escape(entry.name)}</b> · {entry.size:,} photo"
                                      f"{'s' if entry.size != 1 else ''}")
