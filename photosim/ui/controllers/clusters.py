"""The clusters tab: the library grouped at the chosen granularity, in the background."""

from __future__ import annotations

from PySide6.QtCore import Signal

from photosim.ui.clusters_view import ClusterEntry, ClustersView, entries_from_clusters
from photosim.ui.controllers.shell import Shell, TabController, show_failure
from photosim.ui.tasks import LatestRequest


class ClustersController(TabController):
    loaded = Signal()  # the tab shows a grouping, or why there is none

    def __init__(self, shell: Shell, view: ClustersView) -> None:
        super().__init__(shell, view)
        self.clusters_view = view
        self._latest = LatestRequest(self)
        view.granularity_changed.connect(lambda _: self.refresh())

    def refresh(self) -> None:
        """Group the library in the background; a result older than the latest ask is dropped
        (the slider may move again while a big library is still being grouped)."""
        self.stale = False
        request = self._latest.begin()
        library = self.shell.library
        granularity = self.clusters_view.granularity_value()
        self.clusters_view.set_busy()

        def group() -> list[ClusterEntry]:
            return entries_from_clusters(library.clusters(granularity), library.photos())

        self.shell.runner.run_task(group, self._latest.deliver(request, self._found),
                                   self._latest.deliver(request, self._failed), receiver=self)

    def _found(self, entries: list[ClusterEntry]) -> None:
        status = self.shell.status
        if not entries and status is not None and not status.visual_search:
            self.clusters_view.set_unavailable()
        else:
            self.clusters_view.set_entries(entries)
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        show_failure(self.shell, exc, self.clusters_view.set_unavailable)
        self.loaded.emit()
