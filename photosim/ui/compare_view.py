"""Side-by-side comparison of a duplicate group.

Every photo gets a pane with the picture and what matters to decide (resolution, file size,
format, date taken, camera, path). Zoom and pan are synced in *relative* terms (zoom relative to
fit, centre as a fraction of the picture) so a resized copy shows the same region as its
original. "A/B" shows one pane at a time and flips between them with Space, which makes small
differences jump out. Full pictures are decoded in the worker pool, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QImageReader,
    QPainter,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photosim.core.errors import PhotosimError
from photosim.core.library import Library, is_video
from photosim.core.types import DuplicateGroup, Photo
from photosim.ui.format import human_size, resolution
from photosim.ui.tasks import TaskRunner

MAX_SIDE = 2400  # decode big photos at most this large: plenty for comparing on screen
KEEP, TRASH, PROTECTED = "keep", "trash", "protected"
DECISION_STYLE = {
    KEEP: ("KEEP", "#2e7d32"),
    TRASH: ("TRASH", "#c62828"),
    PROTECTED: ("REFERENCE · KEPT", "#1565c0"),
}


class ImagePane(QGraphicsView):
    """One picture; reports zoom/pan as (zoom relative to fit, centre x, centre y)."""

    view_changed = Signal(float, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(48, 48, 48))  # neutral: judges colour better than white
        self.setMinimumSize(QSize(140, 120))
        self.zoom, self.cx, self.cy = 1.0, 0.5, 0.5
        self._applying = False
        self.horizontalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        self._item.setPixmap(pixmap)
        self.scene().setSceneRect(self._item.boundingRect())
        self.apply_view(self.zoom, self.cx, self.cy)

    def _fit_scale(self) -> float:
        rect = self._item.boundingRect()
        if rect.isEmpty():
            return 1.0
        view = self.viewport().size()
        return min(view.width() / rect.width(), view.height() / rect.height())

    def apply_view(self, zoom: float, cx: float, cy: float) -> None:
        self._applying = True
        try:
            self.zoom, self.cx, self.cy = zoom, cx, cy
            scale = self._fit_scale() * zoom
            self.resetTransform()
            self.scale(scale, scale)
            rect = self._item.boundingRect()
            self.centerOn(cx * rect.width(), cy * rect.height())
        finally:
            self._applying = False

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        zoom = min(max(self.zoom * (1.25 ** steps), 1.0), 32.0)
        self.apply_view(zoom, self.cx, self.cy)
        self.view_changed.emit(self.zoom, self.cx, self.cy)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.apply_view(self.zoom, self.cx, self.cy)

    def _scrolled(self) -> None:
        if self._applying:
            return
        rect = self._item.boundingRect()
        if rect.isEmpty():
            return
        centre = self.mapToScene(self.viewport().rect().center())
        self.cx = min(max(centre.x() / rect.width(), 0.0), 1.0)
        self.cy = min(max(centre.y() / rect.height(), 0.0), 1.0)
        self.view_changed.emit(self.zoom, self.cx, self.cy)


class PhotoCard(QWidget):
    """A pane plus its decision badge and the facts about the file."""

    clicked = Signal(object)  # Photo

    def __init__(self, photo: Photo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo = photo
        self.decision = KEEP
        self.pane = ImagePane()
        self.badge = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.facts.setFixedHeight(self.facts.fontMetrics().lineSpacing() * 9)
        self.path = ElidedLabel(str(photo.path))
        # Tool buttons: compact enough for both to fit a narrow card
        self.open_button = QToolButton()
        self.open_button.setText("Open")
        self.open_button.setToolTip(f"Open {photo.path.name} in the default viewer")
        self.open_button.clicked.connect(lambda: open_url(photo.path))
        self.reveal_button = QToolButton()
        self.reveal_button.setText("Show in folder")
        self.reveal_button.setToolTip(f"Open the folder {photo.path.parent}")
        self.reveal_button.clicked.connect(lambda: open_url(photo.path.parent))
        buttons = QHBoxLayout()
        for button in (self.open_button, self.reveal_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.badge)
        layout.addWidget(self.pane, 1)
        layout.addWidget(self.facts)
        layout.addWidget(self.path)
        layout.addLayout(buttons)
        self.setAutoFillBackground(True)
        self.setMinimumWidth(150)

    def set_decision(self, decision: str, current: bool) -> None:
        self.decision = decision
        text, colour = DECISION_STYLE[decision]
        self.badge.setText(text)
        self.badge.setStyleSheet(f"background:{colour}; color:white; font-weight:bold; "
                                 "border-radius:4px; padding:3px;")
        border = "palette(highlight)" if current else "transparent"
        self.setStyleSheet(f"PhotoCard {{ border: 3px solid {border}; border-radius: 6px; }}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def set_facts(self, group: DuplicateGroup) -> None:
        self.facts.setText(facts_html(self.photo, group))

    def mousePressEvent(self, event: object) -> None:
        self.clicked.emit(self.photo)


def facts_html(photo: Photo, group: DuplicateGroup) -> str:
    """The facts that decide which copy to keep; the best value in the group is bold."""
    best_pixels = max(p.pixels for p in group.members)
    best_size = max(p.size for p in group.members)
    relation = group.relation_of(photo)
    rows = [
        ("Vs keeper", _escape(relation) if relation else "—", False),
        ("Resolution", resolution(photo), photo.pixels == best_pixels),
        ("File size", human_size(photo.size), photo.size == best_size),
        ("Format", photo.format or "?", False),
        ("Taken", photo.date_taken or "unknown", False),
        ("Camera", photo.camera or "unknown", False),
    ]
    cells = "".join(
        f"<tr><td style='color:palette(placeholder-text);padding-right:8px'>{name}</td>"
        f"<td>{'<b>' + value + '</b>' if best else value}</td></tr>"
        for name, value, best in rows)
    return f"<table cellspacing=0 cellpadding=1>{cells}</table>"


class ElidedLabel(QLabel):
    """One line of text cut in the middle to the width it has (a path keeps its root and its
    file name, the parts a reviewer tells copies apart by); the whole text on hover."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = text
        self.setToolTip(text)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setMinimumWidth(40)
        self._elide()

    def minimumSizeHint(self) -> QSize:  # never asks for the whole text's width
        return QSize(40, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle,
                                                   max(self.width(), 40)))


def open_url(path: Path) -> None:
    """Open a file or a folder with the desktop's default application."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CompareView(QWidget):
    """The photos of one group side by side, with per-photo keep/trash decisions."""

    decisions_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.group: DuplicateGroup | None = None
        self.cards: list[PhotoCard] = []
        self.current = 0
        self.ab_mode = False
        self._syncing = False
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        # The cards sit in a scroll area: a large group scrolls, and never makes the window
        # taller than the screen.
        cards = QWidget()
        self._grid = QGridLayout(cards)
        self._grid.setSpacing(6)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self.cards_area = QScrollArea()
        self.cards_area.setWidgetResizable(True)
        self.cards_area.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_area.setWidget(cards)
        self.empty = QLabel("Choose a group on the left to compare its photos.",
                            alignment=Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reason)
        layout.addWidget(self.cards_area, 1)
        layout.addWidget(self.empty, 1)

    # -- group -----------------------------------------------------------------------------
    def set_group(self, group: DuplicateGroup | None, protected: Sequence[Path] = ()) -> None:
        self._clear()
        self.group = group
        self.empty.setVisible(group is None)
        if group is None:
            self.reason.clear()
            return
        self._show_reason(group)
        for photo in sorted(group.members, key=lambda p: p.id != group.keeper.id):
            self._add_card(photo, group, _default_decision(photo, group, protected))
        self.current = 0
        self._layout_cards()
        self._refresh()

    def _show_reason(self, group: DuplicateGroup) -> None:
        label = "Your keeper" if group.keep_reason == "Your choice" else "Suggested keeper"
        reason = "" if group.keep_reason == "Your choice" else f" — {_escape(group.keep_reason)}"
        self.reason.setText(f"<b>{label}:</b> {_escape(group.keeper.path.name)}{reason}. "
                            f"<span style='color:palette(placeholder-text)'>Holds together at "
                            f"{group.cohesion:.0%} similarity.</span>")

    def make_current_keeper(self, regrouped: DuplicateGroup) -> None:
        """The user made the current photo the keeper: ``regrouped`` is the group as the core
        sees it with that keeper; every card takes its suggestion (reference files stay
        protected). ``group`` stays the group the review was asked about."""
        by_id = {p.id: p for p in regrouped.members}
        for card in self.cards:
            if card.decision != PROTECTED:
                card.decision = _default_decision(by_id[card.photo.id], regrouped, ())
            card.set_facts(regrouped)
        self._show_reason(regrouped)
        self._refresh()
        self.decisions_changed.emit()

    def current_photo(self) -> Photo | None:
        return self.cards[self.current].photo if self.cards else None

    def _add_card(self, photo: Photo, group: DuplicateGroup, decision: str) -> None:
        card = PhotoCard(photo)
        card.decision = decision
        card.set_facts(group)
        card.pane.view_changed.connect(self._sync_from)
        card.clicked.connect(self._card_clicked)
        self.cards.append(card)
        self._load_picture(card)

    def _clear(self) -> None:
        for card in self.cards:
            self._grid.removeWidget(card)
            card.deleteLater()
        self.cards = []

    def _layout_cards(self) -> None:
        count = len(self.cards)
        columns = 2 if count == 4 else 3 if count in (5, 6) else min(count, 4)
        for column in range(4):  # equal widths: the cards compare side by side
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        for i, card in enumerate(self.cards):
            self._grid.addWidget(card, i // max(columns, 1), i % max(columns, 1))

    def _load_picture(self, card: PhotoCard) -> None:
        path = card.photo.path
        self._runner.run_task(lambda: load_picture(path),
                              lambda image: self._picture_loaded(card, image),
                              lambda exc: card.badge.setText(f"Cannot show: {exc}"))

    def _picture_loaded(self, card: PhotoCard, image: QImage | None) -> None:
        if card not in self.cards:
            return  # the group changed while it loaded
        if image is None:
            card.facts.setText(card.facts.text() + "<br><i>This file could not be read.</i>")
            return
        card.pane.set_pixmap(QPixmap.fromImage(image))

    # -- decisions -------------------------------------------------------------------------
    def decisions(self) -> dict[Path, str]:
        return {c.photo.path: c.decision for c in self.cards}

    def to_trash(self) -> list[Photo]:
        return [c.photo for c in self.cards if c.decision == TRASH]

    def mark_current(self, decision: str) -> None:
        if not self.cards:
            return
        card = self.cards[self.current]
        if card.decision == PROTECTED:
            return  # reference files are never proposed for deletion
        card.decision = decision
        self._refresh()
        self.decisions_changed.emit()

    def move_current(self, step: int) -> None:
        if self.cards:
            self.current = (self.current + step) % len(self.cards)
            self._refresh()
            self.cards_area.ensureWidgetVisible(self.cards[self.current])

    def toggle_ab(self) -> None:
        self.ab_mode = not self.ab_mode
        self._refresh()

    def flip(self) -> None:
        """In A/B mode show the next photo in place; elsewhere move the focus."""
        self.move_current(1)

    def _card_clicked(self, photo: Photo) -> None:
        self.current = next(i for i, c in enumerate(self.cards) if c.photo == photo)
        self._refresh()

    def _refresh(self) -> None:
        for i, card in enumerate(self.cards):
            card.set_decision(card.decision, i == self.current and not self.ab_mode)
            card.setVisible(not self.ab_mode or i == self.current)

    # -- synced zoom and pan ---------------------------------------------------------------
    def _sync_from(self, zoom: float, cx: float, cy: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            for card in self.cards:
                if card.pane is not self.sender():
                    card.pane.apply_view(zoom, cx, cy)
        finally:
            self._syncing = False

    def reset_zoom(self) -> None:
        for card in self.cards:
            card.pane.apply_view(1.0, 0.5, 0.5)


def _default_decision(photo: Photo, group: DuplicateGroup, protected: Sequence[Path]) -> str:
    """What the core suggests (see photosim.core.duplicates.policy): another shot of the
    scene and the keeper are kept until the user says otherwise."""
    suggestion = group.suggestion_for(photo)
    if suggestion == "protected" or any(photo.path.is_relative_to(f) for f in protected):
        return PROTECTED
    return TRASH if suggestion == "trash" else KEEP


def load_picture(path: Path) -> QImage | None:
    """Worker thread: decode, honour EXIF orientation, and cap the size; for a video, a
    frame of it."""
    if is_video(path):
        return _video_still(path)
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > MAX_SIDE:
        reader.setScaledSize(size.scaled(MAX_SIDE, MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else image


def _video_still(path: Path) -> QImage | None:
    try:
        still = Library.video_still(path, MAX_SIDE).convert("RGB")
    except PhotosimError:
        return None
    data = still.tobytes()
    image = QImage(data, still.width, still.height, 3 * still.width, QImage.Format.Format_RGB888)
    return image.copy()  # its own pixels: ``data`` goes away with this frame
