"""Edit → "Not a duplicate" decisions: every pair of pictures the user said are not duplicates,
and a way to take decisions back so the photos can be grouped again."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photosim.core.types import NotDuplicate, Photo


class NotDuplicatesDialog(QDialog):
    """Lists the decisions; "Group them again" emits the chosen ones to forget."""

    forget_requested = Signal(list)  # list[NotDuplicate]

    def __init__(self, decisions: Sequence[NotDuplicate], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Not-a-duplicate decisions")
        self.decisions = list(decisions)
        intro = QLabel("Pairs of photos you said are not duplicates. They are never grouped "
                       "together; choose some and group them again to take that back.")
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for decision in self.decisions:
            item = QListWidgetItem(f"{_names(decision.first)}  ≠  {_names(decision.second)}")
            item.setToolTip("\n".join(str(p.path) for p in decision.first + decision.second)
                            or "These files are no longer in the library.")
            self.list.addItem(item)
        self.empty = QLabel("No decisions yet: press N in the duplicate review to make one.")
        self.empty.setVisible(not self.decisions)
        self.forget = QPushButton("Group them again")
        self.forget.setEnabled(False)
        self.forget.clicked.connect(self._forget_selected)
        self.list.itemSelectionChanged.connect(
            lambda: self.forget.setEnabled(bool(self.list.selectedItems())))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.forget, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def _forget_selected(self) -> None:
        rows = sorted({self.list.row(item) for item in self.list.selectedItems()}, reverse=True)
        chosen = [self.decisions[row] for row in rows]
        for row in rows:
            self.list.takeItem(row)
            del self.decisions[row]
        self.empty.setVisible(not self.decisions)
        self.forget_requested.emit(chosen)


def _names(photos: Sequence[Photo]) -> str:
    if not photos:
        return "(no longer in the library)"
    more = f" (+{len(photos) - 1})" if len(photos) > 1 else ""
    return photos[0].path.name + more
