"""First run: choose photo folders and how to get the model. The window is usable as soon as
this closes; downloading and indexing happen in the background with progress."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

DOWNLOAD, LOCAL_FILE, LATER, HAVE_MODEL = "download", "file", "later", "have"


class FirstRunDialog(QDialog):
    def __init__(self, model_ready: str | None, download_label: str | None,
                 suggested: Sequence[Path] = (), parent: QWidget | None = None) -> None:
        """``model_ready``: the name of a usable model, if any; ``download_label``: what the
        download offers (None when nothing is downloadable)."""
        super().__init__(parent)
        self.setWindowTitle("Welcome to photosim")
        self.model_file: Path | None = None
        self.folder_list = QListWidget()
        for folder in suggested:
            self.folder_list.addItem(str(folder))
        title = QLabel("<h2>Welcome to photosim</h2>"
                       "<p>photosim finds similar photos and near-duplicates on this computer. "
                       "Nothing leaves your machine.</p>")
        title.setWordWrap(True)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: [self.folder_list.takeItem(self.folder_list.row(i))
                                        for i in self.folder_list.selectedItems()])
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch(1)
        self.choice = QButtonGroup(self)
        model_box = QVBoxLayout()
        if model_ready:
            model_box.addWidget(QLabel(f"Model: <b>{model_ready}</b> is ready."))
            self._add_choice(model_box, HAVE_MODEL, "Use it", checked=True, visible=False)
        else:
            if download_label:
                self._add_choice(model_box, DOWNLOAD, download_label, checked=True)
            self._add_choice(model_box, LOCAL_FILE, "Use a model file I already have…")
            self._add_choice(model_box, LATER, "Not now: find exact and look-alike duplicates "
                             "only (visual search stays off)", checked=not download_label)
        buttons = QDialogButtonBox()
        self.start = buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(QLabel("<b>1. Photo folders</b>"))
        layout.addWidget(self.folder_list, 1)
        layout.addLayout(folder_buttons)
        layout.addWidget(QLabel("<b>2. The model for visual search</b>"))
        layout.addLayout(model_box)
        layout.addWidget(buttons)
        self.resize(600, 480)

    def _add_choice(self, box: QVBoxLayout, key: str, text: str, checked: bool = False,
                    visible: bool = True) -> None:
        radio = QRadioButton(text)
        radio.setObjectName(key)
        radio.setChecked(checked)
        radio.setVisible(visible)
        self.choice.addButton(radio)
        box.addWidget(radio)

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if chosen:
            self.add_folder(Path(chosen))

    def add_folder(self, folder: Path) -> None:
        if str(folder) not in [self.folder_list.item(i).text()
                               for i in range(self.folder_list.count())]:
            self.folder_list.addItem(str(folder))

    def folders(self) -> list[Path]:
        return [Path(self.folder_list.item(i).text()) for i in range(self.folder_list.count())]

    def model_choice(self) -> str:
        button = self.choice.checkedButton()
        return button.objectName() if button is not None else LATER

    def _accept(self) -> None:
        if self.model_choice() == LOCAL_FILE and self.model_file is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose an ONNX model", "",
                                                    "ONNX models (*.onnx)")
            if not chosen:
                return
            self.model_file = Path(chosen)
        self.accept()


def default_picture_folders() -> list[Path]:
    """The user's Pictures folder when it exists: a sensible first suggestion."""
    from PySide6.QtCore import QStandardPaths

    found = QStandardPaths.standardLocations(QStandardPaths.StandardLocation.PicturesLocation)
    return [Path(p) for p in found if Path(p).is_dir()][:1]
