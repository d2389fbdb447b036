"""Plain, immutable records passed between the core, the CLI and the UI."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says about the picture, read without decoding its pixels."""

    width: int  # as displayed, i.e. after EXIF orientation
    height: int
    format: str  # Pillow's format name: "JPEG", "PNG", "HEIF", "WEBP", ...
    date_taken: str | None = None  # ISO 8601 from EXIF DateTimeOriginal, if any
    orientation: int = 1  # EXIF orientation 1..8; 1 is upright
    camera: str | None = None  # "Make Model" from EXIF, if any
    exif_fields: int = 0  # how many EXIF tags the file carries (a keep-best signal)


@dataclass(frozen=True)
class Photo:
    """One file in the catalog."""

    id: int
    path: Path
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    date_taken: str | None = None
    orientation: int | None = None
    camera: str | None = None
    error: str | None = None
    online: bool = True
    exif_fields: int = 0

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


# A photo as the catalog stores it: a plain tuple of Photo's fields in Photo's order, the path
# as a string. Listing 100k photos as rows costs a fifth of making 100k Photos (their Paths,
# mostly), so a grid can hold rows and make Photos only for what it shows. Read a column with
# the readers below (``row_path(row)``), which take no more time than ``row[1]``; a NamedTuple
# made per row slowed a 100k-photo listing by a quarter (benchmarks/photo_row_bench.py).
PhotoRow = tuple[Any, ...]
row_path: Callable[[PhotoRow], str] = itemgetter(1)
row_size: Callable[[PhotoRow], int] = itemgetter(2)
row_date_taken: Callable[[PhotoRow], str | None] = itemgetter(8)


def photo_from_row(row: Sequence[Any]) -> Photo:
    # a path is TEXT, or raw bytes when its name is not UTF-8 (catalog/pathcodec.py)
    return Photo(id=row[0], path=Path(os.fsdecode(row[1])), size=row[2], mtime_ns=row[3],
                 content_hash=row[4], width=row[5], height=row[6], format=row[7],
                 date_taken=row[8], orientation=row[9], camera=row[10], error=row[11],
                 online=bool(row[12]), exif_fields=row[13] or 0)


@dataclass(frozen=True)
class Match:
    """A search hit: a photo and its cosine similarity to the query (1.0 = identical)."""

    photo: Photo
    score: float
    time: float | None = None  # a video found by one of its frames: that frame's time (s)


class DuplicateKind(StrEnum):
    """Kinds of duplicate, each reviewed in its own queue."""

    EXACT = "exact"  # the same bytes
    SAME = "same"  # the same picture resized, re-encoded, converted, rotated
    EDITED = "edited"  # cropped, filtered, watermarked, flipped, grayscale
    SIMILAR = "similar"  # a burst or the same scene shot again: review, never auto-delete


@dataclass(frozen=True)
class DuplicateGroup:
    kind: DuplicateKind
    members: tuple[Photo, ...]
    cohesion: float  # the weakest similarity that holds the group together
    keeper: Photo  # the suggested copy to keep
    keep_reason: str  # why, in words
    # Per member, in order: how it differs from the keeper ("cropped, smaller"); "" for the
    # keeper itself, and for all when unknown.
    relations: tuple[str, ...] = ()
    # Per member, in order: its kind of relation to the keeper (None for the keeper). A group
    # holds each photo once: copies of every kind and other shots of the scene together.
    member_kinds: tuple[DuplicateKind | None, ...] = ()
    # Per member, in order: what the core suggests for it — "keep" (the keeper), "trash" (a
    # copy), "review" (another shot: decided photo by photo), "protected" (a reference file);
    # see photosim.core.duplicates.policy. The UI and the CLI show and confirm it.
    suggestions: tuple[str, ...] = ()

    def kinds(self) -> frozenset[DuplicateKind]:
        """The kinds of its members' relations to the keeper (the kind filter shows a group
        when one of them is chosen)."""
        if not self.member_kinds:
            return frozenset({self.kind})
        return frozenset(k for k in self.member_kinds if k is not None)

    def relation_of(self, photo: Photo) -> str:
        for member, relation in zip(self.members, self.relations, strict=False):
            if member.id == photo.id:
                return relation
        return ""

    def suggestion_for(self, photo: Photo) -> str:
        for member, suggestion in zip(self.members, self.suggestions, strict=False):
            if member.id == photo.id:
                return suggestion
        return "keep"

    def suggested_trash(self) -> list[Photo]:
        """The members the core suggests trashing (what "Apply suggestions" takes)."""
        return [p for p, s in zip(self.members, self.suggestions, strict=False) if s == "trash"]

    @property
    def reclaimable_bytes(self) -> int:
        """The space the suggestions free: exactly the size of :meth:`suggested_trash`."""
        return sum(p.size for p in self.suggested_trash())


@dataclass(frozen=True)
class NotDuplicate:
    """A user's "not a duplicate" decision: two pictures (by content), with the files that
    hold them now (none when they left the library)."""

    hashes: tuple[str, str]
    first: tuple[Photo, ...]
    second: tuple[Photo, ...]


class Change(StrEnum):
    """What a watched folder saw happen to some photos (the paths come with it)."""

    INDEXED = "indexed"  # added or changed, and indexed
    REMOVED = "removed"  # deleted from disk
    MOVED = "moved"  # paths = [old, new], one report per move
    OFFLINE = "offline"  # a folder became unavailable (photos kept)
    ONLINE = "online"  # ... and came back


class Stage(StrEnum):
    """What a long piece of work is doing now. The UI says it in words; the core has none."""

    SCANNING = "scanning"  # indexing: walking the folders for photos
    INDEXING = "indexing"  # indexing: decoding and embedding new or changed photos
    PREPARING_DUPLICATES = "neighbours"  # indexing's last: neighbour lists for duplicates
    DOWNLOADING = "downloading"  # a model
    READING_LIBRARY = "reading-library"  # a duplicate pass, from here on
    FINDING_NEIGHBOURS = "finding-neighbours"
    COMPARING_PIXELS = "comparing-pixels"
    GROUPING = "grouping"
    COMPARING_MODELS = "comparing-models"  # `models compare`: one model on labelled photos


@dataclass(frozen=True)
class Progress:
    """A progress report for long work; ``total`` may grow while a scan is still walking."""

    stage: Stage
    done: int
    total: int | None  # None: not known (yet)
    rate: float | None = None  # items (or bytes) per second
    eta_s: float | None = None
    message: str = ""  # what the stage works on (a model download: the file's name)


# Hears the progress of long work, on the thread that does it.
ProgressCallback = Callable[[Progress], None]


def no_progress(progress: Progress) -> None:
    """A :data:`ProgressCallback` that nobody hears."""
