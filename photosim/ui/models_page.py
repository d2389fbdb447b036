"""Settings → Models: every model photosim knows, which are installed (size, checksum,
classifier), which one is in use and where it runs; Download, Verify, Use, Remove, or add a
model file; and, before switching, what the switch costs (photos to re-embed, about how long).

Actions take effect at once, through the model store the CLI shares (`photosim models ...`).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photosim.core.errors import ModelError
from photosim.core.library import DAMAGED, VERIFIED, ModelState, Trial, try_model
from photosim.ui.format import human_size, provider_label
from photosim.ui.model_actions import ModelActions

COLUMNS = ("Model", "Size", "Checksum", "Classifier", "In use", "Runs on")
IdRole = Qt.ItemDataRole.UserRole


class ModelsPage(QWidget):
    changed = Signal()  # the table was refilled after an action
    cost_shown = Signal(str)  # the estimate of switching to the selected model

    def __init__(self, actions: ModelActions, provider: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_actions = actions
        self.provider = provider  # what the model in use runs on, once loaded
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.download = self._button("Download", self._download)
        self.verify = self._button("Verify", self._verify)
        self.use = self._button("Use", self._use)
        self.remove = self._button("Remove", self._remove)
        self.add_file = self._button("Add a model file…", lambda: self._add_file())
        self.cost = QLabel()
        self.cost.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.download, self.verify, self.use, self.remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.add_file)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.cost)
        layout.addWidget(self.message)
        self._states: dict[str, ModelState] = {}
        self.refresh()

    def _button(self, text: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    # -- the table -------------------------------------------------------------------------
    def refresh(self) -> None:
        selected = self.selected_id()
        store = self.model_actions.store
        states = [store.state(model_id) for model_id in store.specs()]
        states.sort(key=lambda s: (not s.active, not s.installed, s.spec.name.lower()))
        self._states = {s.spec.id: s for s in states}
        self.table.setRowCount(len(states))
        for row, state in enumerate(states):
            for column, text in enumerate(self._cells(state)):
                item = QTableWidgetItem(text)
                item.setData(IdRole, state.spec.id)
                if column == 2 and state.checksum == DAMAGED:
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, column, item)
        self.select(selected or (states[0].spec.id if states else None))
        self.changed.emit()

    def _cells(self, state: ModelState) -> tuple[str, ...]:
        spec = state.spec
        if not state.installed:
            size = f"{human_size(spec.file.size)} to download" if spec.file else "not installed"
            return spec.name, size, "", "", "", ""
        runs_on = provider_label(self.provider) if state.active else ""
        return (spec.name, human_size(state.size), state.checksum,
                "yes" if state.classifier else "no", "in use" if state.active else "", runs_on)

    def select(self, model_id: str | None) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(IdRole) == model_id:
                self.table.selectRow(row)
                return

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return str(rows[0].data(IdRole)) if rows else None

    def selected_state(self) -> ModelState | None:
        model_id = self.selected_id()
        return self._states.get(model_id) if model_id else None

    def _selection_changed(self) -> None:
        state = self.selected_state()
        installed = bool(state and state.installed)
        self.download.setEnabled(bool(state and not installed and state.spec.file))
        self.verify.setEnabled(installed)
        self.use.setEnabled(installed and not (state and state.active))
        self.remove.setEnabled(installed)
        self.cost.clear()
        if state is not None and installed and not state.active:
            self._estimate(state)

    # -- what a switch costs ---------------------------------------------------------------
    def _estimate(self, state: ModelState) -> None:
        """Photos to re-embed (from the catalog) times the model's time per photo (one run
        on a sample picture, on this computer), computed in the background."""
        actions, spec = self.model_actions, state.spec
        library, store = actions.window.library, actions.store
        self.cost.setText(f"Working out what switching to {spec.name} costs…")

        def measure() -> tuple[int, Trial]:
            path = store.verify(spec.id)
            return library.photos_to_embed(spec.id), try_model(store, spec, path)

        def show(result: tuple[int, Trial]) -> None:
            if self._still_on(spec.id):
                self._show_cost(spec.name, *result)

        def failed(exc: BaseException) -> None:
            if self._still_on(spec.id):
                self.cost.setText(f"{spec.name} does not work: {exc}")
                self.cost_shown.emit(self.cost.text())

        self.model_actions.window.runner.run_task(measure, show, failed)

    def _still_on(self, model_id: str) -> bool:
        """Whether a result for ``model_id`` still belongs on screen: the page may have been
        closed, or another model selected, while it was worked out."""
        return shiboken6.isValid(self) and self.selected_id() == model_id

    def _show_cost(self, name: str, photos: int, trial: Trial) -> None:
        if photos == 0:
            text = f"Switching to {name} re-embeds nothing: every photo already has its vector."
        else:
            text = (f"Switching to {name} re-embeds {photos:,} photos in the background: about "
                    f"{_duration(photos * trial.seconds_per_photo)} (the model takes "
                    f"{trial.seconds_per_photo * 1000:.0f} ms a photo on this computer, "
                    "measured on a sample). Duplicates by file content keep working meanwhile.")
        self.cost.setText(text)
        self.cost_shown.emit(text)

    # -- actions ---------------------------------------------------------------------------
    def _download(self) -> None:
        state = self.selected_state()
        if state is not None:
            self.model_actions.download(state.spec.id, then=self.refresh, parent=self.window())

    def _verify(self) -> None:
        state = self.selected_state()
        if state is None:
            return
        store, model_id = self.model_actions.store, state.spec.id
        self.message.setText(f"Verifying {state.spec.name}…")

        def verified(_: object) -> None:
            if shiboken6.isValid(self):
                self.message.setText(f"{state.spec.name}: the checksum matches ({VERIFIED}).")
                self.refresh()

        def failed(exc: BaseException) -> None:
            if shiboken6.isValid(self):
                self.message.setText(str(exc))
                self.refresh()

        self.model_actions.window.runner.run_task(lambda: store.verify_full(model_id), verified,
                                            failed)

    def _use(self) -> None:
        state = self.selected_state()
        if state is None:
            return
        try:
            self.model_actions.use(state.spec.id)
        except ModelError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Now using {state.spec.name}; photos are re-embedded in the "
                             "background.")
        self.refresh()

    def _remove(self) -> None:
        state = self.selected_state()
        if state is None:
            return
        removed = self.model_actions.store.remove(state.spec.id)
        freed = human_size(state.size)
        self.message.setText(f"Removed {state.spec.name} ({len(removed)} files, {freed}). "
                             "Your photos are not touched.")
        if state.active:
            self.model_actions.reopen()
        self.refresh()

    def _add_file(self) -> None:
        self.model_actions.choose_file(then=self._file_added, parent=self.window())

    def _file_added(self) -> None:
        self.refresh()
        if self.model_actions.store.current() is not None:
            self.select(self.model_actions.store.current())


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "a second"
    if seconds < 90:
        return f"{round(seconds)} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"
