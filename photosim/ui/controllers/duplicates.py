"""The duplicates tab: the search for duplicate groups with its progress and cancel, and what
the user decides about each group (trash some, keep all, take a decision back)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from photosim.core.cancel import Cancelled
from photosim.core.library import LibraryStatus
from photosim.core.types import DuplicateGroup, DuplicateKind, NotDuplicate, Photo, Progress
from photosim.ui.controllers.shell import Shell, TabController, show_failure
from photosim.ui.controllers.trash import TrashController
from photosim.ui.duplicates_view import DuplicatesView
from photosim.ui.not_duplicates_dialog import NotDuplicatesDialog
from photosim.ui.stage_words import stage_words
from photosim.ui.tasks import LatestRequest

log = logging.getLogger(__name__)


class DuplicatesController(TabController):
    loaded = Signal()  # the groups found are shown
    stopped = Signal()  # the search shown was cancelled or failed

    def __init__(self, shell: Shell, view: DuplicatesView, trash: TrashController) -> None:
        super().__init__(shell, view)
        self.duplicates_view = view
        self.trash = trash
        self._latest = LatestRequest(self)
        view.refresh_requested.connect(lambda *_: self.refresh())
        view.cancel_requested.connect(self.cancel)
        view.resolve_requested.connect(self.resolve_group)
        view.not_duplicate_requested.connect(self.not_duplicate)
        view.apply_all_requested.connect(self.trash_photos)

    def shown(self) -> None:
        if not self.duplicates_view.is_stopped():  # stopped by the user: until asked again
            super().shown()

    # -- the search ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Look for duplicate groups in the background, showing how far the search got. A
        newer ask (the slider, the kind filter) cancels the search still running, whose
        progress and results are never shown."""
        self.stale = False
        request = self._latest.begin(on_progress=self._progress)
        library = self.shell.library
        threshold = self.duplicates_view.threshold_value()
        kind = self.duplicates_view.kind_value()
        kinds: set[DuplicateKind] | None = {kind} if kind else None
        status = self.shell.status
        self.duplicates_view.set_busy(status.photos if status else None)

        def find() -> tuple[list[DuplicateGroup], LibraryStatus]:
            groups = library.duplicates(threshold, kinds, progress=request.report,
                                        cancel=request.token)
            return groups, library.status()

        self.shell.runner.run_task(find, self._latest.deliver(request, self._found),
                                   self._latest.deliver(request, self._failed, _replaced_failed),
                                   receiver=self)

    def cancel(self) -> None:
        """The user's Cancel: stop the search; the tab then offers to search again."""
        if self._latest.cancel():
            self.duplicates_view.set_stopping()

    def stop(self) -> None:
        """Closing: the search stops at its next look, a fraction of a second."""
        self._latest.stop()

    def _progress(self, progress: Progress) -> None:
        self.duplicates_view.show_progress(stage_words(progress.stage), progress.done,
                                           progress.total or 0)

    def _found(self, result: tuple[list[DuplicateGroup], LibraryStatus]) -> None:
        groups, status = result
        self.duplicates_view.set_groups(groups, status.reference_folders)
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.duplicates_view.set_stopped()
        else:
            show_failure(self.shell, exc, self.duplicates_view.set_stopped,
                         "The duplicate search failed.")
        self.stopped.emit()

    # -- decisions -------------------------------------------------------------------------
    def resolve_group(self, group: DuplicateGroup, to_trash: list[Photo]) -> None:
        if not to_trash:  # everything kept: remember it so the group never comes back
            self.not_duplicate(group)
            return
        self.trash.trash(to_trash, lambda: self.duplicates_view.group_resolved(group))

    def trash_photos(self, photos: list[Photo]) -> None:
        self.trash.trash(photos, self.refresh)

    def not_duplicate(self, group: DuplicateGroup) -> None:
        library = self.shell.library
        members = list(group.members)
        self.shell.runner.run_task(lambda: library.mark_not_duplicate(members),
                                   lambda _: self._not_duplicate_done(group), receiver=self)

    def _not_duplicate_done(self, group: DuplicateGroup) -> None:
        self.duplicates_view.group_resolved(group)
        self.trash.tell(f"Kept all {len(group.members)} photos; this group will not be shown "
                        "again.")

    def show_not_duplicates(self, parent: QWidget) -> NotDuplicatesDialog:
        """List the "not a duplicate" decisions; those taken back are grouped again."""
        dialog = NotDuplicatesDialog(self.shell.library.not_duplicate_decisions(), parent)
        dialog.forget_requested.connect(self.forget_not_duplicates)
        dialog.open()
        return dialog

    def forget_not_duplicates(self, decisions: list[NotDuplicate]) -> None:
        library = self.shell.library
        self.shell.runner.run_task(lambda: library.forget_not_duplicate(decisions),
                                   lambda _: self._forgotten(len(decisions)),
                                   self.trash.failed, receiver=self)

    def _forgotten(self, count: int) -> None:
        message = f"{count} not-a-duplicate decision{'s' if count != 1 else ''} taken back."
        self.shell.say(message)
        self.mark_stale()
        self.shell.refresh_shown_tab()
        self.trash.finished.emit(message)


def _replaced_failed(exc: BaseException) -> None:
    if not isinstance(exc, Cancelled):
        log.warning("a replaced duplicate search failed: %s",
                    getattr(exc, "__photosim_traceback__", exc))
