"""The library grid: its photos read and sorted on a worker, swapped in on the GUI thread;
and what the model offers (whether "Photo shows" can be answered)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from photosim.core.library import LibraryStatus
from photosim.ui.controllers.shell import Shell
from photosim.ui.listing import PhotoListing, prepare_listing


class LibraryController(QObject):
    loaded = Signal()  # the grid was (re)filled
    status_read = Signal(object)  # a LibraryStatus read along with the photos
    scan_wanted = Signal()  # the grid is filled the first time: time for the catch-up scan

    def __init__(self, shell: Shell, parent: QObject) -> None:
        super().__init__(parent)
        self.shell = shell
        self.view = shell.library_view
        self._scan_after_fill = False

    def fill_then_scan(self) -> None:
        """Fill the grid, then ask for the catch-up scan. The scan waits until the grid is
        filled: at 100k photos the two compete for the interpreter, and the photos on screen
        matter more at start than the scan."""
        self._scan_after_fill = True
        self.refresh()

    def refresh(self) -> None:
        """Read and sort the photos on a worker; the grid then only swaps them in."""
        library = self.shell.library
        key, descending = self.view.sort_order()
        shown = self.view.model.snapshot()

        def read() -> tuple[PhotoListing, LibraryStatus]:
            listing = prepare_listing(library.photo_rows(), key, descending, shown)
            return listing, library.status()

        self.shell.runner.run_task(read, self._read, self._read_failed, receiver=self)

    def _read(self, result: tuple[PhotoListing, LibraryStatus]) -> None:
        listing, status = result
        self.view.show_listing(listing, status.folders, status.reference_folders)
        self.status_read.emit(status)
        self.loaded.emit()
        self._scan_once_filled()

    def _read_failed(self, exc: BaseException) -> None:
        self.shell.report_error(exc)
        self._scan_once_filled()

    def _scan_once_filled(self) -> None:
        if self._scan_after_fill:
            self._scan_after_fill = False
            self.scan_wanted.emit()

    def refresh_if_grown(self) -> None:
        """Show photos a running scan has found; reading the whole library again costs a
        100k-photo library seconds, so only when the count of photos changed."""
        shown = self.view.model.rowCount()
        self.shell.runner.run_task(self.shell.library.status,
                                   lambda status: self._count_checked(status, shown),
                                   receiver=self)

    def _count_checked(self, status: LibraryStatus, shown: int) -> None:
        if status.photos != shown:
            self.refresh()
        else:
            self.status_read.emit(status)

    def check_word_search(self) -> None:
        """Offer "Photo shows" only when the model has a classifier to answer it. Finding the
        classifier reads a model file, so it happens on a worker."""
        library = self.shell.library

        def found(head: object) -> None:
            if library is self.shell.library:
                self.view.set_word_search_available(head is not None)

        self.shell.runner.run_task(library.classifier_head, found, lambda exc: found(None),
                                   receiver=self)
