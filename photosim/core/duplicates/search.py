"""Finding a library's duplicate groups, for the ``Library`` facade.

A pass reads the library's photos, fingerprints and vectors from the catalog; takes every
photo's nearest neighbours from the lists stored in the catalog
(:mod:`~photosim.core.duplicates.neighbours`), searching the index only for photos added or
changed since; takes the pixel verdicts stored by earlier passes; and groups with
:func:`~photosim.core.duplicates.grouping.find_groups`. What it read is kept a
while, so that a moved threshold regroups at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from photosim.core.cancel import CancelToken, check
from photosim.core.catalog import Catalog
from photosim.core.duplicates import neighbours
from photosim.core.duplicates.frames import FrameLinks, frame_links
from photosim.core.duplicates.grouping import GroupingOptions, find_groups
from photosim.core.duplicates.kinds import Candidate, Level, Relation, Snapshot
from photosim.core.duplicates.pairs import PairTable, hash_pairs
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.duplicates.verdicts import CropSides, PixelCache, PixelVerdicts
from photosim.core.errors import PhotosimError
from photosim.core.fingerprint import Fingerprint
from photosim.core.index import VectorIndex
from photosim.core.models.spec import ModelSpec
from photosim.core.types import (
    DuplicateGroup,
    DuplicateKind,
    Progress,
    ProgressCallback,
    Stage,
    no_progress,
)
from photosim.core.video import is_video

log = logging.getLogger(__name__)

NEIGHBOURS_K = 16  # candidate neighbours per photo kept for duplicate grouping
NEIGHBOUR_FLOOR = 0.55  # below this cosine two photos are never duplicate candidates
# The bulk neighbour search behind duplicates uses a narrower beam than interactive search:
# copies sit very close together, and 100k photos must group in seconds (benchmarks/run_all.py).
NEIGHBOUR_CANDIDATES, NEIGHBOUR_EF = 32, 40  # 99.9 % of the default beam's pairs
# More lists than this to find after indexing, and all vectors are loaded to re-rank in memory
# (a query re-ranked from the index's files costs about a millisecond) — unless they would
# take more memory than this (at 1M photos of 2048-d, 8 GB): then the slow way, in bounded
# memory.
NEIGHBOUR_BULK_ABOVE = 2000
NEIGHBOUR_BULK_MAX_BYTES = 1 << 30
# Photos whose neighbours are found and stored at once, between two looks at the cancel token:
# a cancelled search leaves the lists stored so far for the next one. At 100k photos on 2
# cores a chunk takes 2.3 s; the whole library in one batch is 6 % faster (its queries visit
# the graph in a better order), chunks of 10k 23 % slower.
NEIGHBOUR_CHUNK = 25_000
# How long what a duplicate pass read from the catalog is kept for the next pass (a moved
# threshold), unless the catalog changes first.
INPUTS_KEPT_S = 120.0


# What a duplicate pass reads: candidates, vectors, photo id → row, row → photo id.
_Inputs = tuple[list[Candidate], np.ndarray | None, dict[int, int], np.ndarray]


class DuplicateSearch:
    """The duplicate passes of one library: its catalog, model and index (``vector_index``
    gives it, loaded on first use). Thread-safe: passes may run on any thread."""

    def __init__(self, catalog: Catalog, spec: ModelSpec | None, visual_search: bool,
                 vector_index: Callable[[], VectorIndex | None]) -> None:
        self._catalog = catalog
        self._spec = spec
        self._visual_search = visual_search
        self._vector_index = vector_index
        self._neighbours: PairTable | None = None  # of vector rows, cached for regrouping
        self._pixel_verdicts = PixelVerdicts()  # likewise: regroup without pixel work
        self._neighbour_lock = threading.Lock()  # one search for neighbour lists at a time
        # What the last pass read, with the catalog state it read it in.
        self._inputs: tuple[tuple[int, ...], _Inputs] | None = None
        self._inputs_release: threading.Timer | None = None
        self._lock = threading.RLock()  # guards the caches above for short moments

    def forget(self) -> None:
        """The index changed: what passes kept is out of date."""
        with self._lock:
            self._neighbours = self._inputs = None

    def close(self) -> None:
        with self._lock:
            if self._inputs_release is not None:
                self._inputs_release.cancel()
            self._inputs = None

    def groups(self, threshold: float | None, kinds: Collection[DuplicateKind] | None,
               reference_folders: Sequence[Path], *, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> list[DuplicateGroup]:
        """Duplicate groups of the library's readable photos (see ``grouping.find_groups``).

        ``progress`` hears what the search does (``Stage.READING_LIBRARY``, ``FINDING_NEIGHBOURS``,
        ``COMPARING_PIXELS`` and ``GROUPING``), on the calling thread. A cancelled ``cancel`` stops
        the search at the next stage or batch with ``Cancelled``; the neighbours found and the
        pixels judged so far are kept, and the next search goes on from them.
        """
        report = progress or no_progress
        report(Progress(Stage.READING_LIBRARY, 0, None))
        candidates, vectors, _, row_ids = self._duplicate_inputs()
        check(cancel)
        pairs = self._candidate_pairs(candidates, vectors, row_ids, report, cancel)
        try:
            settings = DedupSettings.from_threshold(threshold)
        except ValueError as exc:
            raise PhotosimError(f"Invalid similarity threshold: {exc}") from exc
        key = PixelVerdicts.key(settings, self._spec.vector_key if self._spec and
                                      vectors is not None else None)
        verdicts = self._stored_pixel_verdicts(key)
        try:
            options = GroupingOptions(settings, self._not_duplicate_ids(candidates),
                                      reference_folders, verdicts,
                                      self._frame_links(candidates, vectors, row_ids, cancel),
                                      self._pixel_verdicts.crop_sides())
            groups = find_groups(Snapshot(candidates, vectors), pairs, options,
                                 progress=progress, cancel=cancel)
        finally:  # a cancelled search keeps what it judged, for the next
            self._store_pixel_verdicts(key)
        return [g for g in groups if kinds is None or g.kinds() & set(kinds)]

    def _frame_links(self, candidates: list[Candidate], vectors: np.ndarray | None,
                     row_ids: np.ndarray, cancel: CancelToken | None) -> FrameLinks | None:
        """What the sampled frames of the library's videos say of pairs involving a video
        (see :mod:`~photosim.core.duplicates.frames`); None for a library without videos,
        which pays nothing for them."""
        videos = [c.photo for c in candidates if is_video(c.photo.path)]
        index = self._vector_index() if videos else None
        if index is None or self._spec is None or vectors is None:
            return None
        frames = self._catalog.videos.frame_vectors(self._spec.vector_key, self._spec.dim)
        durations = {}
        for video in videos:
            facts = self._catalog.videos.facts_of(video.content_hash) \
                if video.content_hash else None
            if facts is not None:
                durations[video.id] = facts.duration
        known = (row_ids.astype(np.int64, copy=False), vectors.astype(np.float32, copy=False))

        def near_photos(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return index.query_batch(queries, k, known=known)

        return frame_links(candidates, frames, durations, near_photos, cancel)

    def _stored_pixel_verdicts(self, key: str) -> PixelCache:
        """The pixel verdicts kept for ``key`` (see ``PixelVerdicts.key``): in memory, or
        else from the catalog."""
        with self._lock:
            verdicts, fresh = self._pixel_verdicts.for_key(key)
            if fresh:
                sides = self._pixel_verdicts.crop_sides()
                for a, b, level, score, framing, mirrored in self._catalog.pixel_verdicts(key):
                    if level is None:
                        verdicts[(a, b)] = None
                    elif level in _PIXEL_LEVELS:  # else damaged: judged again
                        verdicts[(a, b)] = Relation(Level(level), float(score), framing > 0,
                                                    mirrored, framing in _SHOWN_INSIDE)
                        if framing in _CROP_OF_FRAMING:
                            sides[(a, b)] = _CROP_OF_FRAMING[framing](a, b)
                self._pixel_verdicts.all_saved()
        return verdicts

    def _store_pixel_verdicts(self, key: str) -> None:
        """Store the verdicts judged since the last time, and those whose crop side was found
        since (the side is stored with the verdict)."""
        with self._lock:
            new = self._pixel_verdicts.take_unsaved(key)
            sides = dict(self._pixel_verdicts.crop_sides())
        if new:
            rows = [(a, b, None, 0.0, 0, False) if r is None else
                    (a, b, None if r.level is None else int(r.level), r.score,
                     _framing(r, (a, b), sides), r.mirrored) for (a, b), r in new]
            self._write_derived(functools.partial(self._catalog.put_pixel_verdicts, key, rows))

    def _duplicate_inputs(self) -> _Inputs:
        """(candidates, vectors, photo id → row, row → photo id) for a duplicate pass.

        Kept for ``INPUTS_KEPT_S`` after a pass while the catalog stays unchanged, so that a
        moved threshold regroups without reading it again (at 100k photos, half a regroup)."""
        state = self._catalog.state()
        with self._lock:
            kept = self._inputs
        if kept is not None and kept[0] == state:
            inputs = kept[1]
        else:
            photos = [p for p in self._catalog.photos() if p.error is None and p.online]
            prints = self._catalog.fingerprints()
            vectors, rows, row_ids = self._embedded_vectors()
            candidates = [Candidate(p, _fingerprint(prints.get(p.id)), rows.get(p.id))
                          for p in photos]
            inputs = (candidates, vectors, rows, row_ids)
        with self._lock:
            self._inputs = (state, inputs)
            if self._inputs_release is not None:
                self._inputs_release.cancel()
            # Then let the memory go (at 100k photos the vectors alone take 800 MB).
            self._inputs_release = threading.Timer(INPUTS_KEPT_S, self._release_inputs)
            self._inputs_release.daemon = True
            self._inputs_release.start()
        return inputs

    def _write_derived(self, write: Callable[[], None]) -> None:
        """Write what duplicate passes derive from the catalog (neighbour lists, pixel
        verdicts) without making what the last pass read look stale: the catalog's state moves,
        but only by this write when nothing else moved it since the read."""
        before = self._catalog.state()
        write()
        with self._lock:
            if self._inputs is not None and self._inputs[0] == before:
                self._inputs = (self._catalog.state(), self._inputs[1])

    def _release_inputs(self) -> None:
        with self._lock:
            self._inputs = None

    def _embedded_vectors(self) -> tuple[np.ndarray | None, dict[int, int], np.ndarray]:
        """(vectors, photo id → row, row → photo id) of the embedded photos."""
        if not self._visual_search or self._spec is None:
            return None, {}, np.zeros(0, np.int64)
        ids, vectors = self._catalog.embedded_photos(self._spec.vector_key, self._spec.dim)
        return vectors, {int(i): row for row, i in enumerate(ids)}, ids

    def _candidate_pairs(self, candidates: list[Candidate], vectors: np.ndarray | None,
                         row_ids: np.ndarray, report: ProgressCallback,
                         cancel: CancelToken | None) -> PairTable:
        """Pairs over candidate positions, with their gate scores: every photo's nearest
        neighbours (kept in the catalog, and here too, so a new threshold regroups without
        reading them again)."""
        if vectors is None:
            return hash_pairs([c.fingerprint for c in candidates],
                              DedupSettings().hash_distance)
        with self._lock:
            row_pairs = self._neighbours
        if row_pairs is None:
            row_hashes = [""] * len(row_ids)
            for c in candidates:
                if c.vector_row is not None and c.photo.content_hash:
                    row_hashes[c.vector_row] = c.photo.content_hash
            prints = {c.photo.id: c.fingerprint for c in candidates}
            lists, row_ids, row_hashes = self._neighbour_lists(row_ids, row_hashes, vectors,
                                                               prints, report, cancel)
            row_pairs = neighbours.pairs_from_lists(lists, row_ids, row_hashes, NEIGHBOUR_FLOOR)
            with self._lock:
                self._neighbours = row_pairs
        position = np.full(len(row_ids), -1, np.int64)
        for i, c in enumerate(candidates):
            if c.vector_row is not None:
                position[c.vector_row] = i
        a, b = position[row_pairs.a], position[row_pairs.b]
        keep = (a >= 0) & (b >= 0)
        return PairTable(a[keep], b[keep], row_pairs.scores[keep], row_pairs.gates[keep])

    def _neighbour_lists(self, ids: np.ndarray, hashes: list[str], vectors: np.ndarray | None,
                         prints: dict[int, Fingerprint | None] | None = None,
                         report: ProgressCallback | None = None,
                         cancel: CancelToken | None = None
                         ) -> tuple[neighbours.NeighbourLists, np.ndarray, list[str]]:
        """(Every stored neighbour list, ids, hashes) once the lists missing or stale for photos
        ``ids`` (with contents ``hashes``; "" for photos left out) are found and stored.

        ``vectors``: the photos' vectors row by row, when the caller holds them (the search
        then re-ranks in memory). Without them, past a few thousand lists to find, every vector
        is loaded for that, and ``ids`` and ``hashes`` come back in its row order. ``prints``:
        fingerprints by photo id, when the caller holds them. The lists are found and stored
        ``NEIGHBOUR_CHUNK`` photos at a time, with progress and a look at ``cancel`` between
        chunks: a cancelled search leaves what it stored for the next."""
        assert self._spec is not None
        key = f"{self._spec.vector_key} k={NEIGHBOURS_K}"
        with self._searching(report, cancel):
            stored = neighbours.NeighbourLists.from_rows(self._catalog.neighbour_lists(key))
            stale = neighbours.lists_to_find(stored, ids, hashes)
            if vectors is None and len(stale) > NEIGHBOUR_BULK_ABOVE and \
                    len(ids) * self._spec.dim * 4 <= NEIGHBOUR_BULK_MAX_BYTES:
                content = dict(zip(ids.tolist(), hashes, strict=True))
                ids, vectors = self._catalog.embedded_photos(self._spec.vector_key,
                                                             self._spec.dim)
                hashes = [content.get(i, "") for i in ids.tolist()]
                stale = neighbours.lists_to_find(stored, ids, hashes)
            if len(stale) == 0:
                return stored, ids, hashes
            content = dict(zip(ids.tolist(), hashes, strict=True))
            # Chunks only for a search that may be cancelled: each costs the pixel gate a
            # bank of windows for most of the library again (a duplicate pass over 100k
            # photos without lists: 24 s in 25k chunks, 20 s in one go).
            chunk = NEIGHBOUR_CHUNK if cancel is not None else len(stale)
            for start in range(0, len(stale), chunk):
                if report is not None:
                    report(Progress(Stage.FINDING_NEIGHBOURS, start, len(stale)))
                check(cancel)
                found = self._find_lists(ids, content, vectors, stale[start:start + chunk])
                chunk_prints = prints if prints is not None else self._prints_of(found)
                found = neighbours.with_gate_scores(found, chunk_prints, cancel)
                self._write_derived(functools.partial(
                    self._catalog.put_neighbour_lists, key, [f.encoded() for f in found]))
            log.info("neighbour lists found for %d photos", len(stale))
            if report is not None:
                report(Progress(Stage.FINDING_NEIGHBOURS, len(stale), len(stale)))
            stored = neighbours.NeighbourLists.from_rows(self._catalog.neighbour_lists(key))
            return stored, ids, hashes

    @contextlib.contextmanager
    def _searching(self, report: ProgressCallback | None,
                   cancel: CancelToken | None) -> Iterator[None]:
        """Hold the neighbour search for this thread. Another thread's search (indexing finds
        the lists of a whole library after an upgrade) may hold it for a while: meanwhile this
        one says it finds neighbours, and a cancel is heard."""
        while not self._neighbour_lock.acquire(timeout=0.1):
            if report is not None:
                report(Progress(Stage.FINDING_NEIGHBOURS, 0, None))
            check(cancel)
        try:
            yield
        finally:
            self._neighbour_lock.release()

    def _prints_of(self, found: Sequence[neighbours.FoundList]) -> dict[int, Fingerprint | None]:
        """The fingerprints of the photos in ``found``, from the catalog."""
        wanted = {f.owner for f in found} | {int(i) for f in found for i in f.ids}
        return {i: _fingerprint(data)
                for i, data in self._catalog.fingerprints_of(sorted(wanted)).items()}

    def _find_lists(self, ids: np.ndarray, content: dict[int, str], vectors: np.ndarray | None,
                    stale: np.ndarray) -> list[neighbours.FoundList]:
        """Search the index for the neighbours of rows ``stale`` of ``ids`` (``content``: each
        photo's content hash)."""
        assert self._spec is not None
        index = self._vector_index()
        assert index is not None
        if vectors is None:
            owners, wanted = self._catalog.vectors_for_ids(
                self._spec.vector_key, self._spec.dim, ids[stale].tolist())
        else:
            owners, wanted = ids[stale], vectors[stale]
        query_batch = functools.partial(
            index.query_batch, candidates=NEIGHBOUR_CANDIDATES, ef=NEIGHBOUR_EF,
            known=None if vectors is None else (ids, vectors))
        return neighbours.find_lists(query_batch, wanted, owners, content, NEIGHBOURS_K)

    def update_neighbour_lists(self, progress: ProgressCallback | None = None,
                               cancel: CancelToken | None = None) -> None:
        """Find the neighbour lists that are missing or stale (indexing calls this), with
        ``progress`` and ``cancel`` as in :meth:`groups`."""
        if self._visual_search and self._spec is not None:
            self._neighbour_lists(*self._catalog.embedded_hashes(self._spec.vector_key),
                                  None, None, progress, cancel)

    def _not_duplicate_ids(self, candidates: list[Candidate]) -> set[frozenset[int]]:
        by_hash: dict[str, list[int]] = {}
        for p in (c.photo for c in candidates):
            if p.content_hash:
                by_hash.setdefault(p.content_hash, []).append(p.id)
        pairs: set[frozenset[int]] = set()
        for pair in self._catalog.not_duplicate_pairs():
            a, b = tuple(pair)
            pairs.update(frozenset((x, y)) for x in by_hash.get(a, []) for y in by_hash.get(b, []))
        return pairs


_PIXEL_LEVELS = frozenset(int(level) for level in Level)
# How a stored verdict's ``reframed`` column tells the framing: 0 kept, 1 reframed (crop side
# not found yet), 2 reframed with the first content the crop, 3 the second, 4 neither (see
# verdicts.CropSides); 5 and 6 as 2 and 3, the crop a photo shown in a screenshot (the
# other). Older versions read any of 1-6 as reframed.
_CROP_OF_FRAMING: dict[int, Callable[[str, str], str | None]] = {
    2: lambda a, b: a, 3: lambda a, b: b, 4: lambda a, b: None, 5: lambda a, b: a,
    6: lambda a, b: b}
_SHOWN_INSIDE = frozenset({5, 6})


def _framing(relation: Relation, pair: tuple[str, str], sides: CropSides) -> int:
    """The ``reframed`` column stored for ``relation`` on contents ``pair``."""
    if not relation.reframed:
        return 0
    if pair not in sides:
        return 1
    crop = sides[pair]
    if crop is None:
        return 4
    return (5 if crop == pair[0] else 6) if relation.shown_inside else \
        2 if crop == pair[0] else 3


def _fingerprint(data: bytes | None) -> Fingerprint | None:
    if data is None:
        return None
    try:
        return Fingerprint.from_bytes(data)
    except ValueError:  # written by an older version: recomputed on the next full index
        return None
