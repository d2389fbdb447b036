"""The banner above the tabs when there is no visual search because of the model: what is
wrong, in the core's words, and buttons that fix it (download, choose a file, reset to the
default). The app opens in reduced mode instead of refusing to start; this says why."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolBar,
    QToolButton,
)

from photosim.core.library import LibraryStatus
from photosim.ui.model_actions import ModelActions

STYLE = ("#modelBanner { background: #fff4e0; border: 1px solid #e0b060; border-radius: 4px; }"
         " #modelBanner QLabel { color: #4a3000; }")


class ModelBanner(QToolBar):
    """A bar of its own under the main toolbar (so the window's layout is untouched)."""

    def __init__(self, actions: ModelActions) -> None:
        super().__init__("Model problem")
        self.model_actions = actions
        self.setObjectName("modelBannerBar")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setVisible(False)
        self.dismissed = False
        frame = QFrame()
        frame.setObjectName("modelBanner")
        frame.setStyleSheet(STYLE)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download = QPushButton("Download the model")
        self.download.clicked.connect(lambda: actions.download())
        self.choose = QPushButton("Use a model file…")
        self.choose.clicked.connect(lambda: actions.choose_file())
        self.reset = QPushButton("Reset to default")
        self.reset.setToolTip("Forget the chosen model and use the default for this computer")
        self.reset.clicked.connect(actions.reset_to_default)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide until photosim starts again")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.message, 1)
        for widget in (self.download, self.choose, self.reset, close):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignVCenter)
        self.addWidget(frame)
        self.hide()

    def show_status(self, status: LibraryStatus) -> None:
        """Shown while a model problem keeps visual search off; hidden once it works."""
        problem = None if status.visual_search else status.model_problem
        if problem is None or self.dismissed:
            self.setVisible(False)
            return
        self.message.setText(f"<b>Visual search is off.</b> {problem}")
        store = self.model_actions.store
        default = store.spec(self.model_actions.default_model())
        self.download.setText(f"Download {default.name}")
        self.download.setVisible(default.file is not None and not store.is_installed(default.id))
        self.reset.setVisible(store.current() is not None)
        self.setVisible(True)

    def dismiss(self) -> None:
        self.dismissed = True
        self.hide()


def attach_model_banner(window: QMainWindow, actions: ModelActions,
                        status_shown: Any) -> ModelBanner:
    """Put the banner under the toolbar and let it follow the window's status (the signal
    ``status_shown`` carries each LibraryStatus shown)."""
    banner = ModelBanner(actions)
    window.addToolBarBreak()
    window.addToolBar(banner)
    status_shown.connect(banner.show_status)
    return banner
