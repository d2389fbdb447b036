"""Duplicate review: the groups on the left (count, kind, reclaimable space), the side-by-side
comparison on the right, driven by the keyboard.

Keys: ←/→ photo · ↑/↓ group · K keep · T or Del trash · M make this photo the keeper ·
Enter apply this group · S skip · N not a duplicate · A A/B view · Space flip · 0 fit. The
view decides nothing itself: the core suggests what to keep and trash, the view emits what the
user chose and the main window asks the library to do it.

While the library looks for duplicates (seconds to minutes for a large library's first
search) the review gives way to a panel saying what the search does, with a Cancel button.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from photosim.core.library import with_keeper
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo
from photosim.ui.compare_view import KEEP, TRASH, CompareView
from photosim.ui.format import human_size
from photosim.ui.models import KIND_LABELS, DuplicateGroupModel
from photosim.ui.tasks import TaskRunner
from photosim.ui.thumbnails import ThumbnailCache

KIND_CHOICES = [("All kinds", None), *((label, DuplicateKind(k)) for k, label in
                                       KIND_LABELS.items())]
HELP = ("<b>K</b> keep · <b>T</b>/<b>Del</b> trash · <b>M</b> make keeper · "
        "<b>Enter</b> apply · <b>S</b> skip · "
        "<b>N</b> not a duplicate · <b>←/→</b> photo · <b>↑/↓</b> group · <b>A</b> A/B · "
        "<b>Space</b> flip · <b>0</b> fit")


LOOKING = "Looking for duplicates…"


class SearchPanel(QWidget):
    """Stands in for the review while duplicates are looked for: what the search does now,
    how far it got, and a Cancel button; once stopped, a button to search again."""

    cancel_requested = Signal()
    search_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.stage = QLabel()
        self.stage.setStyleSheet("color: palette(placeholder-text);")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(380)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop looking for duplicates (Esc)")
        self.cancel.clicked.connect(self.cancel_requested)
        self.again = QPushButton("Find duplicates")
        self.again.clicked.connect(self.search_requested)
        self.stopped = False
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (self.title, self.stage, self.bar, self.cancel, self.again):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.insertSpacing(layout.indexOf(self.bar), 6)
        layout.insertSpacing(layout.indexOf(self.cancel), 10)
        layout.addStretch(3)

    def start(self, photos: int | None) -> None:
        self.stopped = False
        self.title.setText(f"Finding duplicates among {photos:,} photo"
                           f"{'' if photos == 1 else 's'}…" if photos else LOOKING)
        self.stage.setText("Starting…")
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel.setEnabled(True)
        self.cancel.show()
        self.again.hide()

    def progress(self, stage: str, done: int, total: int) -> None:
        """``total`` 0: not known (the bar only shows that the search is alive)."""
        if not self.cancel.isEnabled():
            return  # stopping: the last stage would only be misleading
        self.stage.setText(f"{stage} {done:,} / {total:,}" if total else f"{stage}…")
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(min(done, total))

    def stopping(self) -> None:
        self.cancel.setEnabled(False)
        self.stage.setText("Stopping…")

    def stop(self, message: str = "") -> None:
        self.stopped = True
        self.title.setText("Duplicate search stopped" if not message
                           else "Duplicates could not be found")
        self.stage.setText(message or "Nothing was changed. Searching again goes on from "
                                      "what was already compared.")
        self.bar.hide()
        self.cancel.hide()
        self.again.show()


class DuplicatesView(QWidget):
    refresh_requested = Signal(float, object)  # threshold, kind or None
    cancel_requested = Signal()  # stop the search that is running
    resolve_requested = Signal(object, list)  # group, photos to trash
    not_duplicate_requested = Signal(object)  # group
    apply_all_requested = Signal(list)  # list[Photo] to trash (already confirmed)

    def __init__(self, thumbnails: ThumbnailCache, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.protected: list[Path] = []
        self.model = DuplicateGroupModel(thumbnails, self)
        self.groups = QListView()
        self.groups.setModel(self.model)
        self.groups.setIconSize(QSize(64, 64))
        self.groups.setSpacing(2)
        self.groups.setUniformItemSizes(True)
        self.groups.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.groups.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.groups.setMinimumWidth(200)
        self.groups.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.groups.selectionModel().currentChanged.connect(self._group_chosen)
        self.compare = CompareView(runner)
        self.compare.decisions_changed.connect(self._update_buttons)
        self.kind = QComboBox()
        for label, _ in KIND_CHOICES:
            self.kind.addItem(label)
        self.kind.currentIndexChanged.connect(self._ask_refresh)
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(80, 99)
        self.threshold.setValue(92)
        self.threshold.setToolTip("How alike photos must be to count as duplicates")
        self.threshold.sliderReleased.connect(self._ask_refresh)
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.threshold_label = QLabel()
        self.summary = QLabel(LOOKING)
        self.search = SearchPanel()
        self.search.cancel_requested.connect(self.cancel_requested)
        self.search.search_requested.connect(self._ask_refresh)
        self.apply_all = QPushButton("Apply suggestions…")
        self.apply_all.setToolTip("Trash every copy the suggestions mark, after a confirmation "
                                  "that lists them. Similar shots are never included.")
        self.apply_all.clicked.connect(self._apply_all_clicked)
        self.apply_group = QPushButton("Apply (Enter)")
        self.apply_group.clicked.connect(self.resolve_current)
        self._threshold_moved(self.threshold.value())
        self._build_layout()
        self._install_shortcuts()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.kind)
        top.addSpacing(12)
        top.addWidget(QLabel("Strictness:"))
        top.addWidget(self.threshold)
        top.addWidget(self.threshold_label)
        top.addSpacing(12)
        top.addWidget(self.summary, 1)
        top.addWidget(self.apply_all)
        buttons = QHBoxLayout()
        for text, slot in (("Keep (K)", lambda: self.compare.mark_current(KEEP)),
                           ("Trash (T)", lambda: self.compare.mark_current(TRASH)),
                           ("Make keeper (M)", self.make_current_keeper),
                           ("Skip (S)", self.skip),
                           ("Not a duplicate (N)", self.not_duplicate),
                           ("A/B (A)", self.compare.toggle_ab)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_group)
        keys = QLabel(HELP)
        keys.setWordWrap(True)  # a narrow window wraps the key help instead of widening
        keys.setStyleSheet("color: palette(placeholder-text);")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.compare, 1)
        right_layout.addLayout(buttons)
        right_layout.addWidget(keys)
        splitter = QSplitter()
        splitter.addWidget(self.groups)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 900])
        self.pages = QStackedWidget()
        self.pages.addWidget(splitter)
        self.pages.addWidget(self.search)
        self.review = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)

    def _install_shortcuts(self) -> None:
        bindings = {
            "K": lambda: self.compare.mark_current(KEEP),
            "T": lambda: self.compare.mark_current(TRASH),
            "Del": lambda: self.compare.mark_current(TRASH),
            "M": self.make_current_keeper,
            "S": self.skip,
            "N": self.not_duplicate,
            "Return": self.resolve_current,
            "Enter": self.resolve_current,
            "Left": lambda: self.compare.move_current(-1),
            "Right": lambda: self.compare.move_current(1),
            "Up": lambda: self.step_group(-1),
            "Down": lambda: self.step_group(1),
            "A": self.compare.toggle_ab,
            "Space": self.compare.flip,
            "0": self.compare.reset_zoom,
            "Esc": self._escape,
        }
        for key, slot in bindings.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def threshold_value(self) -> float:
        return float(self.threshold.value()) / 100

    def kind_value(self) -> DuplicateKind | None:
        return KIND_CHOICES[max(self.kind.currentIndex(), 0)][1]

    # -- the search -------------------------------------------------------------------------
    def set_busy(self, photos: int | None) -> None:
        """A search began (``photos``: how many it looks through, if known): the review, about
        to be stale, gives way to the search panel."""
        self.summary.setText(LOOKING)
        self.apply_all.setEnabled(False)
        self.search.start(photos)
        self.pages.setCurrentWidget(self.search)

    def is_busy(self) -> bool:
        return self.pages.currentWidget() is self.search and not self.search.stopped

    def is_stopped(self) -> bool:
        """The user stopped the last search (or it failed): nothing to review until asked."""
        return self.pages.currentWidget() is self.search and self.search.stopped

    def show_progress(self, stage: str, done: int, total: int) -> None:
        self.search.progress(stage, done, total)

    def set_stopping(self) -> None:
        self.search.stopping()

    def set_stopped(self, message: str = "") -> None:
        self.summary.setText("Search stopped" if not message else "Search failed")
        self.search.stop(message)
        self.pages.setCurrentWidget(self.search)

    def _escape(self) -> None:
        if self.is_busy() and self.search.cancel.isEnabled():
            self.cancel_requested.emit()

    # -- groups ----------------------------------------------------------------------------
    def set_groups(self, groups: Sequence[DuplicateGroup], protected: Sequence[Path]) -> None:
        self.pages.setCurrentWidget(self.review)
        self.protected = list(protected)
        previous = self.compare.group
        self.model.set_groups(groups)
        self._update_summary()
        row = next((i for i, g in enumerate(groups) if previous and g.keeper == previous.keeper),
                   0)
        self.select_row(row)
        self.apply_all.setEnabled(bool(self.suggested_trash()))

    def select_row(self, row: int) -> None:
        if self.model.rowCount() == 0:
            self.compare.set_group(None)
            self._update_buttons()
            return
        row = min(max(row, 0), self.model.rowCount() - 1)
        self.groups.selectionModel().setCurrentIndex(
            self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def current_row(self) -> int:
        return self.groups.currentIndex().row()

    def step_group(self, step: int) -> None:
        self.select_row(self.current_row() + step)

    def _group_chosen(self) -> None:
        row = self.current_row()
        group = self.model.group_at(row) if 0 <= row < self.model.rowCount() else None
        self.compare.set_group(group, self.protected)
        self._update_buttons()

    def group_resolved(self, group: DuplicateGroup) -> None:
        """The main window dealt with ``group``: drop it and go on with the next one."""
        row = next((i for i, g in enumerate(self.model.groups()) if g == group), None)
        if row is None:
            return
        self.model.remove_row(row)
        self._update_summary()
        self.select_row(row)
        self.apply_all.setEnabled(bool(self.suggested_trash()))

    def _update_summary(self) -> None:
        count = self.model.rowCount()
        if count == 0:
            self.summary.setText("No duplicates found at this strictness.")
            return
        self.summary.setText(f"{count} group{'s' if count != 1 else ''} · "
                             f"{human_size(self.model.reclaimable())} reclaimable")

    def _update_buttons(self) -> None:
        doomed = self.compare.to_trash()
        self.apply_group.setEnabled(self.compare.group is not None)
        self.apply_group.setText(f"Move {len(doomed)} to trash (Enter)" if doomed
                                 else "Keep all (Enter)")

    def _threshold_moved(self, value: int) -> None:
        self.threshold_label.setText(f"{value} %")

    def _ask_refresh(self) -> None:
        self.refresh_requested.emit(self.threshold_value(), self.kind_value())

    # -- actions ---------------------------------------------------------------------------
    def resolve_current(self) -> None:
        group = self.compare.group
        if group is not None:
            self.resolve_requested.emit(group, self.compare.to_trash())

    def make_current_keeper(self) -> None:
        """Keep the current photo instead of the suggested keeper; the others follow it."""
        group, photo = self.compare.group, self.compare.current_photo()
        if group is not None and photo is not None:
            self.compare.make_current_keeper(with_keeper(group, photo))

    def skip(self) -> None:
        self.step_group(1)

    def not_duplicate(self) -> None:
        if self.compare.group is not None:
            self.not_duplicate_requested.emit(self.compare.group)

    def suggested_trash(self) -> list[Photo]:
        """What "apply suggestions" trashes: what the core suggests trashing in each group —
        copies only, never another shot of a scene, never a reference file."""
        return [p for group in self.model.groups() for p in group.suggested_trash()]

    def _apply_all_clicked(self) -> None:
        doomed = self.suggested_trash()
        if doomed and ConfirmTrashDialog(doomed, self).exec() == QDialog.DialogCode.Accepted:
            self.apply_all_requested.emit(doomed)


class ConfirmTrashDialog(QDialog):
    """States exactly which files go to the trash, and how much space that frees."""

    def __init__(self, photos: Sequence[Photo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move to trash?")
        total = sum(p.size for p in photos)
        text = QLabel(f"<b>{len(photos)} file{'s' if len(photos) != 1 else ''} "
                      f"({human_size(total)})</b> will be moved to the system trash. "
                      "The kept copies stay where they are. You can undo this with "
                      "Edit → Undo (Ctrl+Z).")
        text.setWordWrap(True)
        files = QListWidget()
        files.addItems([str(p.path) for p in photos])
        buttons = QDialogButtonBox()
        self.ok = buttons.addButton(f"Move {len(photos)} to trash",
                                    QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(files, 1)
        layout.addWidget(buttons)
        self.resize(640, 420)
