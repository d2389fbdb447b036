"""Settings: folders (and which are reference folders), models and execution provider,
similarity thresholds, thumbnail size. The dialog edits copies; the main window applies them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from photosim.ui.settings import PROVIDERS, UiSettings


class SettingsDialog(QDialog):
    def __init__(self, settings: UiSettings, folders: Sequence[Path], reference: Sequence[Path],
                 models_page: QWidget | None = None, parent: QWidget | None = None) -> None:
        """``models_page``: the Models tab (``ui.models_page``), which acts on the model store
        at once; the other tabs edit copies that the main window applies on OK."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = dataclasses.replace(settings)
        self.folder_list = QListWidget()
        for folder in folders:
            self._add_folder_item(folder, folder in reference)
        self.models_page = models_page
        self.provider = QComboBox()
        for label, value in PROVIDERS:
            self.provider.addItem(label, value)
        self.provider.setCurrentIndex(max(self.provider.findData(settings.provider), 0))
        self.similar_count = _spin(5, 500, settings.similar_count)
        self.similar_min = _percent(settings.similar_min_score)
        self.dup_threshold = _percent(settings.duplicate_threshold, low=0.80)
        self.thumb_size = _spin(96, 256, settings.thumb_size, suffix=" px", step=16)
        self.watch_polling = QCheckBox("Check folders for changes by polling (for network "
                                       "shares; uses more disk access)")
        self.watch_polling.setChecked(settings.watch_polling)
        tabs = QTabWidget()
        tabs.addTab(self._folders_page(), "Folders")
        tabs.addTab(self._model_page(), "Models")
        tabs.addTab(self._search_page(), "Search && duplicates")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)
        self.resize(620, 440)

    # -- pages -----------------------------------------------------------------------------
    def _folders_page(self) -> QWidget:
        page = QWidget()
        add = QPushButton("Add folder…")
        add.clicked.connect(self._choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        hint = QLabel("Tick a folder to make it a <b>reference folder</b>: its photos count when "
                      "looking for duplicates but are never proposed for deletion. Removing a "
                      "folder only makes photosim forget it; no file is touched.")
        hint.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.folder_list, 1)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        layout.addWidget(self.watch_polling)
        return page

    def _model_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout()
        form.addRow("Run models on:", self.provider)
        note = QLabel("A different processor applies when photosim restarts.")
        note.setWordWrap(True)
        form.addRow(note)
        layout = QVBoxLayout(page)
        if self.models_page is not None:
            layout.addWidget(self.models_page, 1)
        layout.addLayout(form)
        return page

    def _search_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Similar photos to show:", self.similar_count)
        form.addRow("Similar photos: weak below", self.similar_min)
        form.addRow("Duplicates: strictness", self.dup_threshold)
        form.addRow("Thumbnail size:", self.thumb_size)
        return page

    # -- folders ---------------------------------------------------------------------------
    def _add_folder_item(self, folder: Path, reference: bool) -> None:
        item = QListWidgetItem(str(folder))
        item.setData(Qt.ItemDataRole.UserRole, folder)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if reference else Qt.CheckState.Unchecked)
        item.setToolTip("Checked: reference folder (never deleted from)")
        self.folder_list.addItem(item)

    def add_folder(self, folder: Path, reference: bool = False) -> None:
        if folder not in [f for f, _ in self.folders()]:
            self._add_folder_item(folder, reference)

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if chosen:
            self.add_folder(Path(chosen))

    def _remove_folder(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))

    def folders(self) -> list[tuple[Path, bool]]:
        items = (self.folder_list.item(i) for i in range(self.folder_list.count()))
        return [(item.data(Qt.ItemDataRole.UserRole),
                 item.checkState() == Qt.CheckState.Checked) for item in items]

    # -- result ----------------------------------------------------------------------------
    def result_settings(self) -> UiSettings:
        return dataclasses.replace(
            self._settings,
            model=None, model_spec=None,  # the model in use lives in the model store
            provider=self.provider.currentData(),
            similar_count=self.similar_count.value(),
            similar_min_score=round(self.similar_min.value() / 100, 2),
            duplicate_threshold=round(self.dup_threshold.value() / 100, 2),
            thumb_size=self.thumb_size.value(),
            watch_polling=self.watch_polling.isChecked())


def _spin(low: int, high: int, value: int, suffix: str = "", step: int = 1) -> QSpinBox:
    spin = QSpinBox(minimum=low, maximum=high, value=value, suffix=suffix, singleStep=step)
    return spin


def _percent(value: float, low: float = 0.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(minimum=low * 100, maximum=100, decimals=0, suffix=" %")
    spin.setValue(value * 100)
    return spin
