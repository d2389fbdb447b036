"""What a controller may ask of the window that holds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget, QWidget

from photosim.core.errors import PhotosimError
from photosim.core.library import Library, LibraryStatus
from photosim.ui.clusters_view import ClustersView
from photosim.ui.duplicates_view import DuplicatesView
from photosim.ui.library_view import LibraryView
from photosim.ui.settings import UiSettings
from photosim.ui.similar_view import SimilarView
from photosim.ui.tasks import TaskRunner
from photosim.ui.thumbnails import ThumbnailCache


class Shell(Protocol):
    """The main window as its controllers see it: the library, the runner, the views and the
    status bar. ``library`` changes when the library is re-opened, so read it at each use."""

    library: Library
    settings: UiSettings
    runner: TaskRunner
    status: LibraryStatus | None
    thumbnails: ThumbnailCache
    tabs: QTabWidget
    library_view: LibraryView
    similar_view: SimilarView
    duplicates_view: DuplicatesView
    clusters_view: ClustersView

    def say(self, message: str, timeout_ms: int = 8000) -> None: ...

    def report_error(self, exc: BaseException) -> None: ...

    def refresh_status(self) -> None: ...

    def refresh_shown_tab(self) -> None:
        """Refresh the duplicates or clusters tab if it is shown and out of date."""


class TabController(QObject):
    """A tab whose contents are computed in the background (duplicates, clusters): marked
    stale when the library changes, recomputed when shown while stale."""

    def __init__(self, shell: Shell, view: QWidget) -> None:
        super().__init__(view)
        self.shell = shell
        self.view = view
        self.stale = True

    def mark_stale(self) -> None:
        self.stale = True

    def shown(self) -> None:
        """Its tab came to the front (or the library changed while it is in front)."""
        if self.stale:
            self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


def show_failure(shell: Shell, exc: BaseException, show: Callable[[str], None],
                 bug_text: str | None = None) -> None:
    """A task of a tab failed. A known failure (a ``PhotosimError``: no model, a damaged
    index) is shown in the tab with its message; a bug reaches the error dialog, and the tab
    shows ``bug_text`` if given."""
    if isinstance(exc, PhotosimError):
        show(str(exc))
        return
    if bug_text is not None:
        show(bug_text)
    shell.report_error(exc)
