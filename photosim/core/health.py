"""What a library says about itself: its counts and model (``LibraryStatus``), and what a
check of its stored data found (``LibraryHealth``), put in words for the facade."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core.catalog import Catalog
from photosim.core.library_model import LibraryModel
from photosim.core.models.spec import ModelSpec

if TYPE_CHECKING:  # loaded on first use by the facade: `status` stays instant without it
    from photosim.core.index import VectorIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LibraryStatus:
    photos: int
    embedded: int
    errors: int
    folders: list[Path]
    reference_folders: list[Path]
    model_id: str | None
    model_name: str | None
    provider: str | None
    visual_search: bool
    message: str
    scan_problems: int = 0  # files and folders the scans could not look at (scan_problems())
    model_problem: str | None = None  # why there is no visual search, when a model failed
    # Vector index rows whose checksum failed since the library was opened (each healed from
    # the catalog or dropped), and how many rows a full check read (None: none was run).
    index_damaged_rows: int = 0
    index_healed_rows: int = 0
    index_rows_checked: int | None = None
    index_problem: str | None = None  # the damage above, in words


@dataclass(frozen=True)
class LibraryHealth:
    """What a full check of the stored data found (``Library.check_health``)."""

    catalog_problem: str | None  # SQLite's quick check failed: what it found, in words
    index_rows_checked: int
    index_damaged_rows: int
    index_healed_rows: int
    index_problem: str | None  # damaged vector rows, in words

    @property
    def ok(self) -> bool:
        return self.catalog_problem is None and self.index_problem is None


def drop_damaged_vectors(catalog: Catalog, spec: ModelSpec) -> str:
    """Drop ``spec``'s stored vectors that fail their checksum, so that the next run computes
    them again; returns what was repaired, in words ("" when nothing was)."""
    damaged = catalog.drop_damaged_vectors(spec.vector_key, spec.dim)
    if not damaged:
        return ""
    log.warning("%d damaged stored vector(s) dropped; computing them again", damaged)
    return f"catalog: {damaged} damaged stored vector(s) found; computed again from the photos"


def index_problem(index: VectorIndex | None, read_only: bool) -> str | None:
    """The vector index rows found damaged since it loaded, in words (None: none were)."""
    if index is None or not index.damaged_rows:
        return None
    dropped = index.damaged_rows - index.healed_rows
    text = (f"vector index: {index.damaged_rows} damaged row(s) found (checksum); "
            f"{index.healed_rows} fetched again from the catalog")
    if dropped:
        text += f", {dropped} left out until 'photosim index' computes them again"
    if read_only:
        text += "; run 'photosim index' to rewrite the index file"
    return text


def library_status(catalog: Catalog, model: LibraryModel, index: VectorIndex | None,
                   rows_checked: int | None, read_only: bool) -> LibraryStatus:
    """Counts from ``catalog``, ``model``'s facts, and the damage ``index`` found (None: not
    loaded yet); ``rows_checked``: how many index rows a full check read."""
    spec, visual = model.spec, model.visual_search
    total, embedded, errors = catalog.counts(spec.vector_key if spec else None)
    folders = catalog.folders()
    return LibraryStatus(
        photos=total, embedded=embedded if visual else 0, errors=errors,
        folders=[f.path for f in folders],
        reference_folders=[f.path for f in folders if f.reference],
        model_id=spec.id if spec and visual else None,
        model_name=spec.name if spec and visual else None,
        provider=model.provider(), visual_search=visual,
        message=model.reduced_mode_message(), scan_problems=len(catalog.scan_problems()),
        model_problem=None if visual else model.problem,
        index_damaged_rows=index.damaged_rows if index else 0,
        index_healed_rows=index.healed_rows if index else 0,
        index_rows_checked=rows_checked, index_problem=index_problem(index, read_only))
