"""The thumbnail grid every view uses: a virtualised QListView with a delegate that draws the
thumbnail (aspect kept), the file name elided, a similarity badge when there is a score, and
for a video its length (a search hit: "clip.mp4 at 0:42"). Activating a video plays it, from
the time it was found at. An empty grid says what to do instead of showing a blank pane."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import QColor, QDesktopServices, QFont, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from photosim.core.library import is_video
from photosim.ui.format import at_time, clock
from photosim.ui.models import DurationRole, PathRole, PhotoRole, ScoreRole, TimeRole
from photosim.ui.video_player import play

Index = QModelIndex | QPersistentModelIndex
LABEL_HEIGHT = 22
PADDING = 6
SCALED_CAPACITY = 600  # a few screens of scaled thumbnails


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, size: int, parent: Any = None) -> None:
        super().__init__(parent)
        self.size = size
        # Smooth-scaling a 256 px thumbnail while painting took half of each scroll frame;
        # scaled once and kept, a repaint is a plain copy.
        self._scaled: OrderedDict[tuple[int, int, float], QPixmap] = OrderedDict()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(self.size + 2 * PADDING, self.size + LABEL_HEIGHT + 2 * PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(2, 2, -2, -2)
        palette: QPalette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(rect, 6, 6)
        image_box = QRect(rect.x() + PADDING - 2, rect.y() + PADDING - 2, self.size, self.size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        drawn = image_box
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            ratio = painter.device().devicePixelRatioF()
            drawn = _draw_centred(painter, self._fitted(pixmap, ratio), image_box)
        self._draw_label(painter, option, index, rect)
        score = index.data(ScoreRole)
        if score is not None:
            _draw_badge(painter, drawn, f"{score:.0%}")
        path = index.data(PathRole)
        if path is not None and is_video(path):
            duration = index.data(DurationRole)
            _draw_badge(painter, drawn, "▶ " + (clock(duration) if duration else "video"),
                        bottom_right=True)
        painter.restore()

    def _fitted(self, pixmap: QPixmap, ratio: float) -> QPixmap:
        """``pixmap`` scaled to fit the thumbnail box, aspect kept, in device pixels (sharp
        on high-DPI screens); from the cache when it was scaled before."""
        key = (pixmap.cacheKey(), self.size, ratio)
        scaled = self._scaled.get(key)
        if scaled is None:
            side = round(self.size * ratio)
            scaled = pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            scaled.setDevicePixelRatio(ratio)
            self._scaled[key] = scaled
            if len(self._scaled) > SCALED_CAPACITY:
                self._scaled.popitem(last=False)
        else:
            self._scaled.move_to_end(key)
        return scaled

    def _draw_label(self, painter: QPainter, option: QStyleOptionViewItem, index: Index,
                    rect: QRect) -> None:
        palette: QPalette = option.palette
        selected = option.state & QStyle.StateFlag.State_Selected
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        path = index.data(PathRole)
        name = at_time(path.name, index.data(TimeRole)) if path is not None \
            else str(index.data() or "")
        text_rect = QRect(rect.x() + 4, rect.bottom() - LABEL_HEIGHT - 1, rect.width() - 8,
                          LABEL_HEIGHT)
        metrics = option.fontMetrics
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter,
                         metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width()))


def _draw_centred(painter: QPainter, pixmap: QPixmap, box: QRect) -> QRect:
    size = pixmap.deviceIndependentSize().toSize()
    target = QRect(0, 0, size.width(), size.height())
    target.moveCenter(box.center())
    painter.drawPixmap(target.topLeft(), pixmap)
    return target


def _draw_badge(painter: QPainter, box: QRect, text: str, bottom_right: bool = False) -> None:
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    width = painter.fontMetrics().horizontalAdvance(text) + 12
    badge = QRect(box.x() + 4, box.y() + 4, width, painter.fontMetrics().height() + 4)
    if bottom_right:
        badge.moveBottomRight(box.bottomRight() - QPoint(4, 4))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(20, 20, 20, 190))
    painter.drawRoundedRect(badge, 8, 8)
    painter.setPen(QColor("white"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class PhotoGrid(QListView):
    """A grid of photo thumbnails; emits ``activated_photo`` on double-click / Enter."""

    activated_photo = Signal(object)  # Photo
    similar_requested = Signal(object)  # Photo
    trash_requested = Signal(list)  # list[Photo]

    def __init__(self, thumb_size: int = 160, empty_text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_text = empty_text
        self._delegate = ThumbnailDelegate(thumb_size, self)
        self.setItemDelegate(self._delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # virtualisation: layout never asks every row
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setDragEnabled(False)
        self.activated.connect(self._activated)
        self.customContextMenuRequested.connect(self._show_context_menu)
        self.can_search = True
        self.can_trash = True

    def set_thumb_size(self, size: int) -> None:
        self._delegate.size = size
        self.doItemsLayout()

    def thumb_size(self) -> int:
        return self._delegate.size

    def selected_photos(self) -> list[Any]:
        return [i.data(PhotoRole) for i in self.selectionModel().selectedIndexes()]

    def _activated(self, index: QModelIndex) -> None:
        photo = index.data(PhotoRole)
        if photo is not None and is_video(photo.path):
            play(photo.path, index.data(TimeRole))  # a player, not the photo preview
        elif photo is not None:
            self.activated_photo.emit(photo)

    def context_menu_at(self, pos: QPoint) -> QMenu | None:
        """The menu for the photo under ``pos`` (viewport coordinates), or None off the items."""
        index = self.indexAt(pos)
        photo = index.data(PhotoRole) if index.isValid() else None
        if photo is None:
            return None
        if not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        menu = QMenu(self)
        similar = menu.addAction("Find similar photos", lambda: self.similar_requested.emit(photo))
        similar.setEnabled(self.can_search)
        if is_video(photo.path):
            at = index.data(TimeRole)
            menu.addAction(f"Play from {clock(at)}" if at else "Play",
                           lambda: play(photo.path, at))
        else:
            menu.addAction("Preview", lambda: self.activated_photo.emit(photo))
        menu.addSeparator()
        menu.addAction("Open with default app", lambda: open_with_default_app(photo.path))
        menu.addAction("Open containing folder", lambda: open_containing_folder(photo.path))
        if self.can_trash:
            menu.addSeparator()
            chosen = self.selected_photos() or [photo]
            label = "Move to trash" if len(chosen) == 1 else f"Move {len(chosen)} photos to trash"
            menu.addAction(label, lambda: self.trash_requested.emit(chosen))
        return menu

    def _show_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu_at(pos)
        if menu is not None:
            menu.exec(self.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0 and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(40, 40, -40, -40),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
            painter.end()

    def set_empty_text(self, text: str) -> None:
        self.empty_text = text
        self.viewport().update()


def open_with_default_app(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def open_containing_folder(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
