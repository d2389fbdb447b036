"""The facade: the one API that the GUI and the CLI use.

A ``Library`` is one data directory: its catalog, its vector index and the model that fills it.
Heavy parts (the ONNX session, the index) load on first use so that opening is instant.
"""

from __future__ import annotations

import importlib
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from photosim.core import decode, labels, ranking, scanner, trash, video
from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.catalog import ActionItem, Catalog, Folder
from photosim.core.catalog.pathcodec import readable
from photosim.core.catalog_rescue import (
    CatalogSetAside,
    move_catalog_aside,
    set_aside_damaged_catalog,
)
from photosim.core.cluster import Cluster, ClusterState, ClusterStateError, cluster_vectors
from photosim.core.data_folder import claim_data_folder
from photosim.core.deletion import TrashAction, action_to_undo, check_deletable, trash_actions
from photosim.core.duplicates import policy
from photosim.core.embedder import Embedder
from photosim.core.errors import (
    CatalogError,
    DamagedCatalogError,
    ModelNotAvailableError,
    PhotosimError,
    TrashError,
)
from photosim.core.fingerprint import FINGERPRINT_VERSION
from photosim.core.frame_search import FrameSearch, with_video_times
from photosim.core.health import (
    LibraryHealth,
    LibraryStatus,
    drop_damaged_vectors,
    index_problem,
    library_status,
)
from photosim.core.library_model import LibraryModel, choose_model
from photosim.core.lock import WriterLock
from photosim.core.models.runtime import gpu_available
from photosim.core.models.spec import ModelSpec, load_spec_file
from photosim.core.models.store import (
    DAMAGED,
    VERIFIED,
    ModelState,
    ModelStore,
    is_pinned_file,
    spec_for_file,
)
from photosim.core.paths import LibraryPaths, default_data_dir
from photosim.core.pictures import picture_to_embed, thumbnail, thumbnail_path, video_still
from photosim.core.pipeline import IndexPipeline, IndexReport
from photosim.core.types import (
    DuplicateGroup,
    DuplicateKind,
    Match,
    NotDuplicate,
    Photo,
    PhotoRow,
    Progress,
    ProgressCallback,
    Stage,
)
from photosim.core.words import cluster_namer, word_matches

if TYPE_CHECKING:  # loaded on first use: `status` and opening stay instant without them
    from photosim.core.duplicates.search import DuplicateSearch
    from photosim.core.index import VectorIndex
    from photosim.core.model_compare import ModelScore, load_results
    from photosim.core.models.adopt import (
        NORMALISATIONS,
        ModelFacts,
        Trial,
        adopt,
        inspect_model,
        normalisation,
        spec_for_unknown,
        try_model,
    )
    from photosim.core.pair_verdict import PairVerdict
    from photosim.core.watcher import LibraryWatcher  # loads watchdog

log = logging.getLogger(__name__)


# What the UI and the CLI may use; beside the library itself, what the UI's model pages, the
# model comparison chart and the list of unreadable files need.
__all__ = [
    "DAMAGED",
    "NORMALISATIONS",
    "PHOTO_SUFFIXES",
    "QUERY_SUFFIXES",
    "VERIFIED",
    "CancelToken",
    "CatalogSetAside",
    "Cluster",
    "IndexReport",
    "Library",
    "LibraryHealth",
    "LibraryStatus",
    "LibraryWatcher",
    "ModelFacts",
    "ModelScore",
    "ModelSpec",
    "ModelState",
    "ModelStore",
    "ScanProblem",
    "TrashAction",
    "Trial",
    "WriterLock",
    "adopt",
    "default_data_dir",
    "gpu_available",
    "inspect_model",
    "instance_lock",
    "load_results",
    "load_spec_file",
    "model_store",
    "normalisation",
    "readable",
    "set_aside_damaged_catalog",
    "spec_for_file",
    "spec_for_unknown",
    "try_model",
]

# Handed on from modules loaded on first use (onnx for a model's trial, image code for the
# comparison), so that importing the facade stays instant.
_LOADED_ON_USE = {
    **dict.fromkeys(("NORMALISATIONS", "ModelFacts", "Trial", "adopt", "inspect_model",
                     "normalisation", "spec_for_unknown", "try_model"),
                    "photosim.core.models.adopt"),
    **dict.fromkeys(("ModelScore", "load_results"), "photosim.core.model_compare"),
    "LibraryWatcher": "photosim.core.watcher",  # loads watchdog
}


def __getattr__(name: str) -> Any:
    module = _LOADED_ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

PHOTO_SUFFIXES = decode.SUPPORTED_SUFFIXES  # file names photosim reads as photos
VIDEO_SUFFIXES = video.VIDEO_SUFFIXES  # ... and as videos (indexed by their frames)
QUERY_SUFFIXES = PHOTO_SUFFIXES | VIDEO_SUFFIXES  # what "find similar" takes as its query
is_video = video.is_video
ScanProblem = scanner.ScanProblem  # a file or folder a scan could not look at

def model_store(data_dir: Path | None = None) -> ModelStore:
    """The model store of a data directory (for `photosim models ...` and the GUI's model page)."""
    return ModelStore(LibraryPaths(data_dir or default_data_dir()).models)


def instance_lock(data_dir: Path, holder: str) -> WriterLock:
    """The writer lock an app holds on the library in ``data_dir`` for as long as it runs
    (``holder`` names it to a refused second writer)."""
    return WriterLock(LibraryPaths(data_dir).lock, holder)


class Library:
    def __init__(self, data_dir: Path, spec: ModelSpec | None, model_path: Path | None,
                 provider: str | None, model_problem: str | None,
                 model_source: Path | None = None, read_only: bool = False) -> None:
        self.data_dir = data_dir
        self.paths = LibraryPaths(data_dir)
        self.read_only = read_only  # see ``open``
        self.catalog = Catalog(self.paths.catalog, read_only)
        self._writer: WriterLock | None = None
        self.spec = spec
        self._index: VectorIndex | None = None
        self._ranking: ranking.RankingFit | None = None  # learned on first use (core/ranking.py)
        self._duplicate_search: DuplicateSearch | None = None  # see _duplicates
        self._frames: FrameSearch | None = None  # see _frame_search
        # _lock guards the model, the index and caches for short moments; _run_lock lets one
        # indexing run at a time without blocking searches while it goes on.
        self._lock = threading.RLock()
        self._run_lock = threading.Lock()
        if spec is not None and read_only:
            self.spec = self._spec_for_reading(spec)
        elif spec is not None:
            self._claim_unkeyed_vectors(spec)
        self._model = LibraryModel(self.spec, model_path, provider, model_problem, model_source)

    def _spec_for_reading(self, spec: ModelSpec) -> ModelSpec:
        """``spec``, or, while vectors of an older photosim still wait under the bare id for
        a writer to claim them, ``spec`` keyed by that id: a reader sees the library as it
        was instead of an empty one."""
        try:
            waiting = self.catalog.unkeyed_vectors_wait(spec.id, spec.vector_key)
        except DamagedCatalogError:
            return spec
        return replace(spec, file_sha256=None) if waiting else spec

    def _claim_unkeyed_vectors(self, spec: ModelSpec) -> None:
        """See ``Catalog.claim_unkeyed_vectors``. A damaged catalog still opens (the GUI then
        offers its rebuild): the claim waits for a healthy one."""
        try:
            self.catalog.claim_unkeyed_vectors(spec.id, spec.vector_key, is_pinned_file(spec))
        except DamagedCatalogError as exc:
            log.warning("vectors of %s not claimed: %s", spec.id, exc.summary)

    @property
    def _duplicates(self) -> DuplicateSearch:
        with self._lock:
            if self._duplicate_search is None:
                from photosim.core.duplicates.search import DuplicateSearch

                self._duplicate_search = DuplicateSearch(self.catalog, self.spec,
                                                         self.visual_search, self.vector_index)
            return self._duplicate_search

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path | None = None, model: str | None = None,
             model_spec: str | None = None, provider: str | None = None, *,
             read_only: bool = False, holder: str = "photosim",
             reduced_on_error: bool = False) -> Library:
        """Open (or create) the library in ``data_dir``. Without a usable model the library
        still opens, in reduced mode: exact and perceptual-hash duplicates only, and says why.
        A ``model`` asked for by name that cannot be used is an error instead, unless
        ``reduced_on_error`` (the app, which never refuses to start over a model).

        A writer takes the library's writer lock (``LibraryLockedError`` names the process
        that holds it; ``holder`` is how this one is named). ``read_only`` opens for reading
        only, beside a writer: the catalog and the index files are never written."""
        root = Path(data_dir) if data_dir else default_data_dir()
        paths = LibraryPaths(root)
        writer = claim_data_folder(paths, read_only, holder)
        try:
            library = cls._open_locked(root, paths, model, model_spec, provider, read_only,
                                       reduced_on_error)
        except BaseException:
            if writer is not None:
                writer.release()
            raise
        library._writer = writer
        return library

    @classmethod
    def _open_locked(cls, root: Path, paths: LibraryPaths, model: str | None,
                     model_spec: str | None, provider: str | None, read_only: bool,
                     reduced_on_error: bool) -> Library:
        chosen = choose_model(ModelStore(paths.models), model, model_spec, reduced_on_error)
        return cls(root, chosen.spec, chosen.path, provider, chosen.problem, chosen.source,
                   read_only)

    def close(self) -> None:
        if self._duplicate_search is not None:
            self._duplicate_search.close()
        with self._lock:
            if self._index is not None and not self.read_only:
                self._index.save(self.paths.index_dir)
            self.catalog.close()
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model and index, loaded on first use ----------------------------------------------
    @property
    def visual_search(self) -> bool:
        return self._model.visual_search

    def embedder(self) -> Embedder | None:
        return self._model.embedder()

    def vector_index(self) -> VectorIndex | None:
        """The vector index, loaded from disk and reconciled with the catalog (which is the
        source of truth: a missing, corrupt or stale index is rebuilt from stored vectors)."""
        with self._lock:
            if self._index is None and self.spec is not None:
                from photosim.core.index_sync import load_index

                self._index = load_index(self.catalog, self.paths.index_dir, self.spec,
                                         self.read_only)
            return self._index

    def _index_add(self, ids: np.ndarray, vectors: np.ndarray,
                   keys: np.ndarray | None = None) -> None:
        with self._lock:
            index = self.vector_index()
            if index is not None:
                index.add(ids, vectors, keys)
            self._duplicates.forget()

    def _index_remove(self, ids: Sequence[int]) -> None:
        with self._lock:
            index = self.vector_index()
            if index is not None:
                index.remove(ids)
            self._duplicates.forget()

    def save_index(self) -> None:
        with self._lock:
            if self._index is not None and not self.read_only:
                self._index.save(self.paths.index_dir)

    # -- folders ---------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        return [f.path for f in self.catalog.folders()]

    def reference_folders(self) -> list[Path]:
        return [f.path for f in self.catalog.folders() if f.reference]

    def add_folder(self, path: Path, reference: bool = False) -> None:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise PhotosimError(f"{folder} is not a folder.")
        self.catalog.add_folder(folder, reference)

    def remove_folder(self, path: Path) -> None:
        self._index_remove(self.catalog.remove_folder(Path(path).expanduser().resolve()))

    def set_reference(self, path: Path, reference: bool) -> None:
        self.catalog.add_folder(Path(path).expanduser().resolve(), reference)

    # -- indexing --------------------------------------------------------------------------
    def _pipeline(self) -> IndexPipeline:
        embedder = self.embedder()
        head = self.classifier_head() if embedder else None
        classify = (lambda vectors, norms: head.top_classes(vectors, norms)) if head else None
        return IndexPipeline(self.catalog, embedder, self.spec.vector_key if embedder and self.spec
                             else None, self._index_add, self._index_remove, classify=classify,
                             infer_in_workers=self._model.runs_on_cpu())

    def classifier_head(self) -> labels.ClassifierHead | None:
        """The model's ImageNet classifier (names clusters, enables word search), if any."""
        return self._model.classifier_head()

    def index(self, folders: Sequence[Path] | None = None,
                      progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> IndexReport:
        """Bring the catalog and index up to date with ``folders`` (default: all)."""
        roots = [Path(f).expanduser().resolve() for f in folders] if folders else self.folders()
        for root in roots:
            if root not in self.folders():
                self.add_folder(root)
        with self._run_lock:
            repaired = [r for r in (self._check_catalog(), self._check_index()) if r]
            report = self._pipeline().index_folders(roots, progress, cancel)
            if repaired:
                report = replace(report, problems=(*report.problems, *repaired))
            if not report.cancelled and set(roots) >= set(self.folders()):
                # Vectors of content no photo has any more (changed or deleted files, also
                # after killed runs): dropped once every folder has been looked at.
                self.catalog.drop_orphan_vectors()
            self.save_index()
            if not report.cancelled:
                report = self._find_neighbour_lists(report, progress, cancel)
        return report

    def _check_catalog(self) -> str:
        """Before a run: stop with a clear message when SQLite finds the catalog damaged, and
        drop stored vectors that fail their checksum so that this run computes them again.
        Returns what was repaired, in words ("" when nothing was)."""
        self.catalog.db.check()
        if self.spec is None or not self.visual_search:
            return ""
        return drop_damaged_vectors(self.catalog, self.spec)

    def _check_index(self) -> str:
        """Before a run: read every vector index row, healing damaged ones from the catalog
        (the run saves them). Returns what was repaired, in words ("" when nothing was)."""
        index = self._index
        before = index.damaged_rows if index else 0
        self._verify_index()
        index = self._index
        if index and index.damaged_rows > before:
            return index_problem(index, self.read_only) or ""
        return ""

    def _find_neighbour_lists(self, report: IndexReport, progress: ProgressCallback | None,
                              cancel: CancelToken | None) -> IndexReport:
        """Find the neighbour lists indexing left missing, now, in the background, so that the
        next duplicate pass need not: those of what this run embedded, or all of them after an
        upgrade (at 100k photos, a check that finds none missing reads the lists in 0.3 s).
        Reported as ``Stage.PREPARING_DUPLICATES``; a cancel keeps the lists found so far."""
        def stage(found: Progress) -> None:
            if progress is not None:
                progress(replace(found, stage=Stage.PREPARING_DUPLICATES))

        try:
            self._duplicates.update_neighbour_lists(stage, cancel)
        except Cancelled:
            return replace(report, cancelled=True)
        return report

    def index_paths(self, paths: Sequence[Path], progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport:
        with self._run_lock:
            report = self._pipeline().index_files([Path(p) for p in paths], progress, cancel)
            self.save_index()
        return report

    def forget_paths(self, paths: Sequence[Path]) -> int:
        ids = [p.id for p in (self.catalog.photo_by_path(Path(x)) for x in paths) if p]
        if ids:
            self.catalog.delete_photos(ids)
            self._index_remove(ids)
        return len(ids)

    def move_path(self, old: Path, new: Path) -> bool:
        photo = self.catalog.photo_by_path(Path(old))
        if photo is None:
            return False
        st = Path(new).stat()
        with self.catalog.transaction() as conn:
            self.catalog.move_photo(conn, photo.id, Path(new), st.st_size, st.st_mtime_ns)
        return True

    def folder_offline(self, root: Path) -> None:
        self.catalog.set_folder_online(Path(root), False)

    def folder_online(self, root: Path) -> None:
        """A folder came back (a drive plugged in again): catch up with what changed."""
        self.catalog.set_folder_online(Path(root), True)
        self.index([Path(root)])

    def watcher(self, on_change: Callable[[str, list[Path]], None],
                on_error: Callable[[BaseException], None], polling: bool = False
                ) -> LibraryWatcher:
        """A watcher (not started) that keeps this library current with its folders, telling
        ``on_change`` what it did (a ``Change`` and the paths) and ``on_error`` of a bug, on
        its own thread."""
        from photosim.core.watcher import LibraryWatcher

        return LibraryWatcher(sink=self, roots=self.folders(), polling=polling,
                              on_change=on_change, on_error=on_error)

    # -- reading ---------------------------------------------------------------------------
    @staticmethod
    def video_still(path: Path, size: int = 1600) -> Image.Image:
        """A picture of a video file for showing it large (a comparison card, a preview): its
        frame a third of the way in, which is past any opening black. ``DecodeError`` when
        it is not a readable video."""
        return video_still(path, size)

    @staticmethod
    def known_words() -> list[str]:
        """Every word a text search understands, for completion in a search box."""
        return labels.known_words()

    def photos(self, folder: Path | None = None) -> list[Photo]:
        return self.catalog.photos(Path(folder) if folder else None)

    def photo_rows(self) -> list[PhotoRow]:
        """What ``photos()`` returns, as plain rows: for listing a large library quickly
        (``photo_from_row`` makes a row a Photo)."""
        return self.catalog.photo_rows()

    def photo(self, path: Path) -> Photo | None:
        return self.catalog.photo_by_path(Path(path).expanduser().resolve())

    def errors(self) -> list[Photo]:
        return self.catalog.errors()

    def scan_problems(self) -> list[ScanProblem]:
        """Files and folders the last scans could not look at (broken links, pipes, link
        loops, unreadable folders), kept until a scan finds them fixed."""
        return [ScanProblem(path, reason) for path, reason in self.catalog.scan_problems()]

    def check_health(self) -> LibraryHealth:
        """Check every stored byte that can be checked: SQLite's quick check over the whole
        catalog, then (when it passes) the checksum of every vector index row, healing
        damaged rows from the catalog (a writer saves them at once). Reads everything: run it
        in the background."""
        try:
            self.catalog.db.check()
        except DamagedCatalogError as exc:
            return LibraryHealth(exc.summary, 0, 0, 0, None)
        checked = self._verify_index()
        index = self._index
        damaged, healed = (index.damaged_rows, index.healed_rows) if index else (0, 0)
        return LibraryHealth(None, checked, damaged, healed, index_problem(index, self.read_only))

    def set_aside_damaged_catalog(self) -> Path:
        """The recovery for a damaged catalog, as its error message tells a CLI user: the
        catalog's files and the vector index move to ``<data>/damaged-<time>/`` (kept, not
        deleted), and a new catalog takes their place with the same folders as far as they
        can still be read. The caller then indexes: everything is computed again from the
        photos; "not a duplicate" decisions and the trash history stay in the old file.
        Returns the folder the damaged files went to."""
        if self.read_only:
            raise CatalogError("The catalog is open read-only here; close this photosim and "
                               "rebuild it from the app or as the damage message says.")
        with self._run_lock, self._lock:
            folders = self._readable_folders()
            if self._duplicate_search is not None:
                self._duplicate_search.close()
                self._duplicate_search = None
            self._index = None
            self.catalog.close()
            aside = move_catalog_aside(self.paths)
            self.paths.ensure()
            self.catalog = Catalog(self.paths.catalog)
            for folder in folders:
                self.catalog.add_folder(folder.path, folder.reference)
        log.warning("damaged catalog moved to %s; rebuilding", aside)
        return aside

    def _readable_folders(self) -> list[Folder]:
        try:
            return self.catalog.folders()
        except (CatalogError, sqlite3.DatabaseError) as exc:
            log.warning("the damaged catalog's folders could not be read: %s", exc)
            return []

    def _verify_index(self) -> int:
        """Check every row of the vector index; returns how many rows were read."""
        index = self.vector_index() if self.visual_search else None
        if index is None:
            return 0
        rows = len(index)
        if index.verify():
            self.save_index()  # the healed rows replace the damaged ones on disk
        return rows

    def status(self, check: bool = False) -> LibraryStatus:
        """Counts and model. ``check``: first run SQLite's quick check over the whole catalog
        (reads every page), raising ``CatalogError`` when it is damaged, then check every
        vector index row (``index_rows_checked``)."""
        checked: int | None = None
        if check:
            self.catalog.db.check()
            checked = self._verify_index()
        return library_status(self.catalog, self._model, self._index, checked, self.read_only)

    def photos_to_embed(self, model_id: str) -> int:
        """How many photos a switch to ``model_id`` (installed in the store) would embed:
        those without a vector from its file."""
        spec = ModelStore(self.paths.models).bound_spec(model_id)
        total, embedded, _ = self.catalog.counts(spec.vector_key)
        return total - embedded

    def thumbnail_path(self, photo: Photo, size: int = 256, time: float | None = None) -> Path:
        """Where the cached thumbnail of ``photo`` lives (made or not): keyed by content, so a
        moved or copied file keeps its thumbnail. ``time``: a video's frame at that time."""
        return thumbnail_path(self.paths.thumbnails, photo, size, time)

    def thumbnail(self, photo: Photo, size: int = 256, time: float | None = None) -> Path:
        """A photo's thumbnail; a video's poster frame, or its frame at ``time``."""
        return thumbnail(self.paths.thumbnails, self.catalog.videos, photo, size,
                                    time)

    def video_duration(self, photo: Photo) -> float | None:
        """A video's length in seconds (None for a photo, or a video not indexed yet)."""
        if not photo.content_hash or not video.is_video(photo.path):
            return None
        facts = self.catalog.videos.facts_of(photo.content_hash)
        return facts.duration if facts else None

    # -- search ----------------------------------------------------------------------------
    def _require_model(self) -> tuple[Embedder, VectorIndex]:
        embedder, index = self.embedder(), self.vector_index()
        if embedder is None or index is None:
            raise ModelNotAvailableError(self._model.reduced_mode_message())
        return embedder, index

    def vector_of(self, path: Path) -> tuple[np.ndarray, Photo | None]:
        """The vector of a library photo, or of any image file (embedded on the fly)."""
        vector, _, photo = self._query_of(path)
        return vector, photo

    def _query_of(self, path: Path) -> tuple[np.ndarray, float | None, Photo | None]:
        """The unit vector of ``path``, its length before normalising when the image was
        embedded just now (None for a stored vector), and its library photo if it is one."""
        embedder, _ = self._require_model()
        assert self.spec is not None
        photo = self.photo(path)
        if photo and photo.content_hash:
            stored = self.catalog.vector_for_hash(photo.content_hash, self.spec.vector_key,
                                                  self.spec.dim)
            if stored is not None:
                return stored, None, photo
        image = picture_to_embed(Path(path), self.spec.preprocess.resize_shorter)
        vectors, norms = embedder.embed_with_norms([embedder.prepare(image)])
        return vectors[0], float(norms[0]), photo

    def similar(self, path: Path, k: int = 20, min_score: float = 0.0) -> list[Match]:
        """The ``k`` most similar library photos to ``path`` (a library photo or any image)."""
        _, index = self._require_model()
        vector, norm, photo = self._query_of(path)
        exclude = {photo.id} if photo else set()
        with self._lock:
            pool_ids, pool_vectors = index.neighbourhood(vector, ranking.pool_size(k), exclude)
            fit = self._ranking_fit(index)
            classes = (self._pool_classes(vector, norm, photo, pool_ids)
                       if fit is not None and ranking.USE_CLASS_GUESSES and len(pool_ids)
                       else None)
            found, scores = ranking.rerank(vector, pool_ids, pool_vectors, fit, k, classes)
        hits = list(zip(found.tolist(), scores.tolist(), strict=True))
        frame_hits = self._frame_search().best_per_video(vector, k, exclude)
        photos = self.catalog.photos_by_ids([*(i for i, _ in hits),
                                             *(h.photo_id for h in frame_hits)])
        matches = [Match(photos[i], float(s)) for i, s in hits if i in photos]
        return [m for m in with_video_times(matches, frame_hits, photos, k)
                if m.score >= min_score]

    def _pool_classes(self, vector: np.ndarray, norm: float | None, photo: Photo | None,
                      pool_ids: np.ndarray) -> ranking.ClassGuesses | None:
        """The classifier's guesses for a query (first row) and its candidates, as the
        ranking takes them; None when the model has no classifier or any of them has no
        guesses (then the vectors alone rank)."""
        assert self.spec is not None
        head = self.classifier_head()
        if head is None:
            return None
        wanted = [int(i) for i in pool_ids] + ([photo.id] if photo else [])
        stored = self.catalog.classes_of(self.spec.vector_key, wanted)
        query = stored.get(photo.id) if photo else None
        if query is None and norm is not None:
            ids, probs = head.top_classes(vector[np.newaxis], np.array([norm], np.float32))
            query = ids[0], probs[0]
        return ranking.ClassGuesses.of_rows([query, *(stored.get(int(i)) for i in pool_ids)])

    def _frame_search(self) -> FrameSearch:
        """Videos by their frames (see photosim/core/frame_search.py)."""
        assert self.spec is not None
        with self._lock:
            if self._frames is None:
                self._frames = FrameSearch(self.catalog, self.spec.vector_key, self.spec.dim)
            return self._frames

    def _ranking_fit(self, index: VectorIndex) -> ranking.RankingFit | None:
        """The ranking learned on this library, refitted (and saved, by a writer) when the
        library has grown or shrunk enough; None while it is too small to learn from."""
        assert self.spec is not None
        photos = len(index)
        if photos < ranking.MIN_PHOTOS:
            return None
        if self._ranking is None:
            self._ranking = ranking.load_fit(self._ranking_path(), self.spec.dim)
        if self._ranking is None or self._ranking.stale(photos):
            ids = index.ids()
            sample = np.random.default_rng(0).choice(ids, min(len(ids), ranking.FIT_SAMPLE),
                                                     replace=False)
            self._ranking = ranking.fit(index.vectors(np.sort(sample))[1], photos)
            if not self.read_only:
                ranking.save_fit(self._ranking_path(), self._ranking)
        return self._ranking

    def _ranking_path(self) -> Path:
        assert self.spec is not None
        return self.paths.root / "ranking" / f"{self.spec.id.replace('/', '_')}.npz"

    def compare(self, a: Path, b: Path) -> float:
        va, _ = self.vector_of(a)
        vb, _ = self.vector_of(b)
        return float(np.dot(va, vb))

    # -- clusters and word search ------------------------------------------------------------
    def clusters(self, granularity: float = 0.5) -> list[Cluster]:
        """The library grouped by visual content; ids stay stable as photos come and go.
        ``granularity`` runs from 0 (broad) to 1 (tight); values beyond are taken as 0 or 1."""
        if not math.isfinite(granularity):  # NaN would pass the clamp and cut nowhere
            raise PhotosimError(f"The granularity must be a number from 0 to 1, not "
                                f"{granularity}.")
        if not self.visual_search or self.spec is None:
            return []
        ids, vectors = self.catalog.embedded_photos(self.spec.vector_key, self.spec.dim)
        if len(ids) == 0:
            return []
        key = round(float(granularity), 3)
        previous = self._cluster_state(key)
        namer = cluster_namer(self.catalog, self.spec)
        found, state = cluster_vectors(ids, vectors, key, previous, namer)
        self.catalog.save_cluster_state(self.spec.vector_key, key, state.to_bytes())
        return found

    def _cluster_state(self, granularity: float) -> ClusterState | None:
        assert self.spec is not None
        data = self.catalog.cluster_state(self.spec.vector_key, granularity)
        try:
            return ClusterState.from_bytes(data) if data else None
        except ClusterStateError:  # unreadable (older version): cluster afresh
            return None

    def search_words(self, text: str, limit: int = 200) -> list[Match]:
        """Photos whose ImageNet classes match a word ("dog", "castle"), best first."""
        if not self.visual_search or self.spec is None:
            raise ModelNotAvailableError(self._model.reduced_mode_message())
        return word_matches(self.catalog, self.spec, text, limit)

    # -- duplicates ------------------------------------------------------------------------
    def duplicates(self, threshold: float | None = None,
                   kinds: Collection[DuplicateKind] | None = None, *,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> list[DuplicateGroup]:
        """Duplicate groups of the library's readable photos; see
        :meth:`photosim.core.duplicates.search.DuplicateSearch.groups` for ``progress`` and
        ``cancel``."""
        return self._duplicates.groups(threshold, kinds, self.reference_folders(),
                                       progress=progress, cancel=cancel)

    def photos_awaiting_fingerprints(self) -> int:
        """Photos whose pixel fingerprint an older photosim computed: until the next index
        run computes it again, a duplicate pass cannot compare their pixels and offers only
        their byte-identical copies for the trash."""
        return len(self.catalog.ids_with_stale_fingerprint(FINGERPRINT_VERSION))

    def duplicate_verdict(self, a: Path, b: Path) -> PairVerdict | None:
        """The duplicate passes' own judge on two library photos (default settings), from
        what indexing stored; None when either is not in the library."""
        from photosim.core.pair_verdict import judge_pair

        first, second = self.photo(a), self.photo(b)
        if first is None or second is None:
            return None
        return judge_pair(self.catalog, self.spec if self.visual_search else None, first,
                          second)

    def mark_not_duplicate(self, photos: Sequence[Photo]) -> None:
        self.catalog.add_not_duplicate([p.content_hash for p in photos if p.content_hash])

    def not_duplicate_decisions(self) -> list[NotDuplicate]:
        """Every "not a duplicate" decision, with the files it is about, by their paths."""
        decisions = []
        for pair in self.catalog.not_duplicate_pairs():
            a, b = sorted(pair)
            decisions.append(NotDuplicate((a, b), tuple(self.catalog.photos_by_hash(a)),
                                          tuple(self.catalog.photos_by_hash(b))))
        return sorted(decisions, key=lambda d: [str(p.path) for p in d.first + d.second])

    def forget_not_duplicate(self, decisions: Sequence[NotDuplicate]) -> None:
        """Take decisions back: the photos may be grouped as duplicates again."""
        self.catalog.remove_not_duplicate([d.hashes for d in decisions])

    # -- deletion --------------------------------------------------------------------------
    def trash(self, photos: Sequence[Photo]) -> TrashAction:
        """Move photos to the system trash, after checking that each is safe to move."""
        for photo in photos:
            check_deletable(self.catalog, photo, self.reference_folders())
        items: list[ActionItem] = []
        try:
            for photo in photos:
                where = trash.move_to_trash(photo.path)
                items.append(ActionItem(photo.path, where, photo.size, photo.mtime_ns,
                                        photo.content_hash))
                self.forget_paths([photo.path])
        finally:
            action_id = self.catalog.record_action("trash", items) if items else None
            self.save_index()
        if action_id is None:
            raise TrashError("Nothing was moved to the trash.")
        return self._action(action_id)

    def undo(self, action_id: int | None = None) -> list[Path]:
        """Restore the files of a trash action (default: the latest not yet undone)."""
        chosen = action_to_undo(self.catalog, action_id)
        restored = []
        for item in chosen.items:
            trash.restore(item.trash_path, item.original_path)
            restored.append(item.original_path)
        self.catalog.mark_undone(chosen.id)
        self.index_paths(restored)
        return restored

    def actions(self) -> list[TrashAction]:
        return trash_actions(self.catalog)

    def _action(self, action_id: int) -> TrashAction:
        return next(a for a in self.actions() if a.id == action_id)


def with_keeper(group: DuplicateGroup, keeper: Photo) -> DuplicateGroup:
    """``group`` with the user's own choice of keeper, each member's suggestion following it
    (see :func:`photosim.core.duplicates.policy.with_keeper`)."""
    return policy.with_keeper(group, keeper)
