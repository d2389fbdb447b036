"""Using a model file: a known one is recognised by its checksum and brings its spec (and its
classifier head, when that sits beside it); an unknown one is inspected and the user picks its
normalisation here. Either way the model runs once on a sample picture before it is stored in
the model store and used."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from photosim.core.errors import ModelError
from photosim.core.library import (
    NORMALISATIONS,
    ModelFacts,
    ModelSpec,
    ModelStore,
    adopt,
    inspect_model,
    load_spec_file,
    normalisation,
    spec_for_unknown,
)

ERROR_STYLE = "color: #b00020;"


class ModelFileDialog(QDialog):
    def __init__(self, store: ModelStore, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Use a model file")
        self.store, self.path = store, path
        self.known: ModelSpec | None = None
        self.facts: ModelFacts | None = None
        self.added: ModelSpec | None = None  # set once the model passed its trial and is stored
        self.normalisation = QComboBox()
        for choice in NORMALISATIONS:
            self.normalisation.addItem(choice.label, choice.key)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.use = self.buttons.addButton("Try it and use it",
                                          QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.try_and_use)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{path.name}</b>"))
        layout.addWidget(self.summary)
        layout.addLayout(self.form)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self._read_file()
        self.resize(560, 300)

    # -- what the file is ------------------------------------------------------------------
    def _read_file(self) -> None:
        try:
            self.known = self._known_spec()
            if self.known is None:
                self.facts = inspect_model(self.path)
        except (ModelError, OSError) as exc:
            self._refuse(str(exc))
            return
        if self.known is not None:
            self._describe_known(self.known)
        else:
            assert self.facts is not None
            self._describe_unknown(self.facts)

    def _known_spec(self) -> ModelSpec | None:
        beside = self.path.with_suffix(".json")
        if beside.is_file():
            return load_spec_file(beside)
        return self.store.recognise(self.path)

    def _describe_known(self, spec: ModelSpec) -> None:
        head = (self.path.parent / spec.head_file) if spec.head_file else None
        if spec.labels != "imagenet":
            classifier = "It has no classifier: clusters get numbers, not names."
        elif head is None or head.is_file():
            classifier = "Its classifier comes along: clusters get names and word search works."
        else:
            classifier = (f"Its classifier ({spec.head_file}) is not beside it, so clusters get "
                          "numbers and word search stays off; put it there to have both.")
        self.summary.setText(f"Recognised: <b>{spec.name}</b> ({spec.dim} values per photo). "
                             f"{classifier}")
        self.normalisation.hide()

    def _describe_unknown(self, facts: ModelFacts) -> None:
        output = "its pooled features" if facts.output == "pooled" else f"output {facts.output}"
        self.summary.setText(
            f"photosim does not know this model. From the file: it takes {facts.size}×"
            f"{facts.size} pictures ({facts.layout}) and gives {facts.width} values per photo "
            f"({output}). Choose how its pictures were normalised when it was trained; its "
            "documentation says. A wrong choice still runs but finds similar photos less well.")
        self.form.addRow("Normalisation:", self.normalisation)

    def _refuse(self, reason: str) -> None:
        self.summary.setText("This file cannot be used as a model.")
        self.status.setText(reason)
        self.status.setStyleSheet(ERROR_STYLE)
        self.normalisation.hide()
        self.use.setEnabled(False)

    # -- accepting -------------------------------------------------------------------------
    def spec(self) -> ModelSpec:
        if self.known is not None:
            return self.known
        assert self.facts is not None
        return spec_for_unknown(self.path, self.facts,
                                normalisation(str(self.normalisation.currentData())))

    def try_and_use(self) -> None:
        """Run the model once on a sample picture; only then store it and use it."""
        self.status.setStyleSheet("")
        self.status.setText("Trying the model on a sample picture…")
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.added = adopt(self.store, self.path, self.spec())
        except (ModelError, OSError) as exc:
            self.status.setText(f"The model did not work: {exc}")
            self.status.setStyleSheet(ERROR_STYLE)
            return
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.accept()
