"""What an indexing run means for the user's files, as `index` and `watch` report it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photosim.core.cancel import CancelToken
    from photosim.core.library import Library
    from photosim.core.pipeline import IndexReport
    from photosim.core.types import Photo, ProgressCallback


@dataclass(frozen=True)
class IndexOutcome:
    """The pipeline does not read a file again that failed before and has not changed since,
    and counts it as unchanged; to the user it is still unreadable. So it moves from the
    unchanged count to the unreadable one, and is named with its reason."""

    report: IndexReport
    unchanged: int  # readable files that had not changed
    failed: int  # unreadable files: those that failed now and those still failing
    unreadable: list[Photo]  # every unreadable file under the folders, with its error
    known: frozenset[Path]  # the unreadable files that failed before and did not change

    def counts_text(self) -> str:
        r = self.report
        text = (f"{r.added} added, {r.updated} updated, {r.moved} moved, {r.removed} removed, "
                f"{self.unchanged} unchanged, {self.failed} unreadable")
        if r.refreshed:
            text += f", {r.refreshed} refreshed"
        if self.known:
            text += f" ({len(self.known)} of them unchanged since they failed before)"
        return text

    def unreadable_lines(self) -> list[str]:
        return [f"{'still ' if p.path in self.known else ''}unreadable {p.path}: {p.error}"
                for p in self.unreadable]


def index_and_account(library: Library, folders: Sequence[Path] | None,
                      progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> IndexOutcome:
    """``library.index(folders)``, with the files that were unreadable before it noted, so that
    those still failing unchanged are reported as failing rather than unchanged."""
    roots = list(folders) if folders else library.folders()
    before = {p.path: (p.size, p.mtime_ns) for p in unreadable_under(library, roots)}
    report = library.index(folders or None, progress=progress, cancel=cancel)
    unreadable = unreadable_under(library, roots)
    known = frozenset(p.path for p in unreadable if before.get(p.path) == (p.size, p.mtime_ns))
    return IndexOutcome(report, unchanged=max(report.unchanged - len(known), 0),
                        failed=report.failed + len(known), unreadable=unreadable, known=known)


def unreadable_under(library: Library, folders: Sequence[Path]) -> list[Photo]:
    """The library's unreadable files in ``folders``."""
    roots = [Path(f).expanduser().resolve() for f in folders]
    return [p for p in library.errors() if any(p.path.is_relative_to(r) for r in roots)]
