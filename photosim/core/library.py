"""The facade: the one API that the GUI and the CLI use.

A ``Library`` is one data directory: its catalog, its vector index and the model that fills it.
Heavy parts (the ONNX session, the index) load on first use so that opening is instant.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from photosim.core import decode, labels, ranking, scanner, trash, video
from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.catalog import ActionItem, Catalog, Folder
from photosim.core.catalog.pathcodec import from_db, readable
from photosim.core.cluster import Cluster, ClusterState, ClusterStateError, cluster_vectors
from photosim.core.duplicates import policy
from photosim.core.embedder import Embedder
from photosim.core.errors import (
    CatalogError,
    DamagedCatalogError,
    DecodeError,
    FileChangedError,
    ModelError,
    ModelNotAvailableError,
    NotInLibraryError,
    PhotosimError,
    ProtectedFileError,
    TrashError,
)
from photosim.core.frame_search import FrameSearch, with_video_times
from photosim.core.fsutil import atomic_writer
from photosim.core.lock import WriterLock
from photosim.core.models.runtime import (
    ModelSession,
    available_providers,
    choose_providers,
    gpu_available,
)
from photosim.core.models.spec import ModelSpec, load_spec_file
from photosim.core.models.store import (
    DAMAGED,
    VERIFIED,
    ModelState,
    ModelStore,
    is_pinned_file,
    resolve_model,
    spec_for_file,
)
from photosim.core.paths import LibraryPaths, default_data_dir
from photosim.core.pipeline import IndexPipeline, IndexReport
from photosim.core.scanner import ScanProblem
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

if TYPE_CHECKING:  # loaded on first use: `status` and opening stay instant without them
    from photosim.core.duplicates.search import DuplicateSearch
    from photosim.core.fingerprint import Fingerprint
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
    from photosim.core.watcher import LibraryWatcher  # loads watchdog

log = logging.getLogger(__name__)


# What the UI and the CLI may use; beside the library itself, what the UI's model pages, the
# model comparison chart and the list of unreadable files need.
__all__ = [
    "DAMAGED",
    "NORMALISATIONS",
    "PHOTO_SUFFIXES",
    "VERIFIED",
    "CancelToken",
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


@dataclass(frozen=True)
class PairVerdict:
    """How a duplicate pass judges two library photos: the kind of group it would put them
    in (None: not duplicates) and how the second differs from the first ("cropped")."""

    kind: DuplicateKind | None
    relation: str
    score: float


@dataclass(frozen=True)
class TrashAction:
    id: int
    when: str
    paths: tuple[Path, ...]
    undone: bool


def model_store(data_dir: Path | None = None) -> ModelStore:
    """The model store of a data directory (for `photosim models ...` and the GUI's model page)."""
    return ModelStore(LibraryPaths(data_dir or default_data_dir()).models)


def _create_data_folder(paths: LibraryPaths, read_only: bool) -> None:
    """The data folder and, for a reader of a library not made yet, an empty catalog (as
    any two processes may, at once: see ``Database._migrate``)."""
    try:
        paths.ensure()
    except OSError as exc:
        raise PhotosimError(f"Cannot use the data folder {paths.root}: {exc.strerror}") from exc
    if read_only:
        Catalog(paths.catalog).close()


def instance_lock(data_dir: Path, holder: str) -> WriterLock:
    """The writer lock an app holds on the library in ``data_dir`` for as long as it runs
    (``holder`` names it to a refused second writer)."""
    return WriterLock(LibraryPaths(data_dir).lock, holder)


@dataclass(frozen=True)
class CatalogSetAside:
    """What the rebuild of a catalog too damaged to open did: where its files went, and the
    folders the new catalog kept. ``folders_read`` is False when the old folder list could not
    be read at all: the user adds the folders again."""

    aside: Path
    folders: list[Path]
    folders_read: bool


def set_aside_damaged_catalog(data_dir: Path, holder: str = "photosim") -> CatalogSetAside:
    """The recovery for a catalog that ``Library.open`` cannot open (``DamagedCatalogError``
    at start, e.g. a damaged header), without a Library: as ``Library.set_aside_damaged_catalog``
    does, its files and the vector index move to ``<data>/damaged-<time>/`` (kept, not
    deleted) and a new catalog keeps the folders that a read of a copy still finds. An intact
    catalog is refused: a rebuild would only leave its decisions behind."""
    paths = LibraryPaths(data_dir)
    if not paths.catalog.is_file():
        raise CatalogError(f"There is no catalog in {paths.root} to rebuild.")
    with WriterLock(paths.lock, holder):
        intact, folders = _read_a_copy(paths.catalog)
        if intact:
            raise CatalogError(f"The catalog {paths.catalog} is not damaged (SQLite's check "
                               "finds nothing wrong): there is nothing to rebuild.")
        try:
            aside = _move_catalog_aside(paths)
        except OSError as exc:
            raise CatalogError(f"The damaged catalog could not be moved aside in {paths.root}: "
                               f"{exc.strerror or exc}. Nothing was deleted.") from exc
        paths.ensure()
        catalog = Catalog(paths.catalog)
        try:
            for folder in folders or []:
                catalog.add_folder(folder.path, folder.reference)
        finally:
            catalog.close()
    log.warning("damaged catalog moved to %s; %s folder(s) kept", aside,
                len(folders) if folders is not None else "no")
    return CatalogSetAside(aside, [f.path for f in folders or []], folders is not None)


def _read_a_copy(catalog: Path) -> tuple[bool, list[Folder] | None]:
    """SQLite's quick check and the folder list (None: unreadable) of a copy of ``catalog``
    and its log: the damaged files stay byte for byte as they were, for a restore by hand."""
    with tempfile.TemporaryDirectory(prefix=".salvage-", dir=catalog.parent) as temp:
        for source in (catalog, catalog.with_name(catalog.name + "-wal")):
            if source.exists():
                shutil.copyfile(source, Path(temp) / source.name)
        conn = sqlite3.connect(Path(temp) / catalog.name)
        try:
            return _quick_check_passes(conn), _salvaged_folders(conn)
        finally:
            conn.close()


def _quick_check_passes(conn: sqlite3.Connection) -> bool:
    try:
        return [tuple(r) for r in conn.execute("PRAGMA quick_check(1)")] == [("ok",)]
    except sqlite3.DatabaseError:
        return False


def _salvaged_folders(conn: sqlite3.Connection) -> list[Folder] | None:
    try:
        rows = conn.execute("SELECT path, reference FROM folders").fetchall()
    except sqlite3.DatabaseError as exc:
        log.warning("the damaged catalog's folders could not be read: %s", exc)
        return None
    return [Folder(from_db(path), bool(reference), True) for path, reference in rows
            if isinstance(path, (str, bytes)) and path]


def _move_catalog_aside(paths: LibraryPaths) -> Path:
    """Move the catalog's files and the vector index (built from it) into a new
    ``damaged-<time>`` folder of the data folder, and return that folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = paths.root / f"damaged-{stamp}"
    for again in itertools.count(2):  # two rebuilds in one second: never mix their files
        try:
            aside.mkdir(mode=0o700)
            break
        except FileExistsError:
            aside = paths.root / f"damaged-{stamp}-{again}"
    catalog = paths.catalog
    for path in (catalog, *(catalog.with_name(catalog.name + s) for s in ("-wal", "-shm")),
                 paths.index_dir):
        if path.exists():
            os.replace(path, aside / path.name)
    return aside


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
        self._model_path = model_path
        self._provider = provider
        self._model_problem = model_problem
        self._model_source = model_source  # the file as given (before any feature cut)
        self._head: labels.ClassifierHead | bool | None = False  # False: not looked for yet
        self._embedder: Embedder | None = None
        self._session: ModelSession | None = None
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
        if not (read_only and paths.catalog.is_file()):
            _create_data_folder(paths, read_only)
        writer = None if read_only else WriterLock(paths.lock, holder)
        if writer is not None:
            writer.acquire()
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
        spec: ModelSpec | None = None
        model_path: Path | None = None
        problem: str | None = None
        store = ModelStore(paths.models)
        source: Path | None = None
        try:
            spec, model_path = resolve_model(store, model, model_spec)
            source = Path(model) if model and Path(model).is_file() else \
                store.model_path(spec.id)
        except ModelError as exc:
            if model is not None and not reduced_on_error:
                raise
            spec, model_path, problem = None, None, str(exc)
        return cls(root, spec, model_path, provider, problem, source, read_only)

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
        return self.spec is not None and self._model_path is not None

    def embedder(self) -> Embedder | None:
        with self._lock:
            if self._embedder is None and self.spec is not None and self._model_path:
                # On the CPU, workers that each decode and infer with one thread beat one
                # multi-threaded session fed by a decode pool (benchmarks/run_all.py).
                threads = 1 if self._runs_on_cpu() else None
                try:
                    self._session = ModelSession(self._model_path, self.spec, self._provider,
                                                 threads)
                except ModelError as exc:  # a model that will not start: reduced mode, say why
                    log.warning("model %s failed to start: %s", self.spec.id, exc)
                    self._model_path, self._model_problem = None, str(exc)
                    return None
                self._embedder = Embedder(self.spec, self._session)
                log.info("model %s on %s", self.spec.id, self._session.provider)
            return self._embedder

    def _expected_provider(self) -> str | None:
        """The provider a session would ask for first, without starting one (which loads the
        model): `status` stays instant. The session's own answer replaces it once it runs."""
        if not self.visual_search:
            return None
        return choose_providers(available_providers(), self._provider)[0]

    def _runs_on_cpu(self) -> bool:
        return choose_providers(available_providers(), self._provider)[0] == \
            "CPUExecutionProvider"

    def vector_index(self) -> VectorIndex | None:
        """The vector index, loaded from disk and reconciled with the catalog (which is the
        source of truth: a missing, corrupt or stale index is rebuilt from stored vectors)."""
        with self._lock:
            if self._index is None and self.spec is not None:
                self._index = self._load_index(self.spec)
            return self._index

    def _load_index(self, spec: ModelSpec) -> VectorIndex:
        from photosim.core.index import VectorIndex, content_keys

        index = VectorIndex.load(self.paths.index_dir, spec.vector_key, spec.dim)
        if index is None:
            ids, vectors = self.catalog.embedded_photos(spec.vector_key, spec.dim)
            index = VectorIndex.build(spec.vector_key, spec.dim, ids, vectors)
        index.repair = functools.partial(self._catalog_vectors, spec)
        # Reconcile by id and by content: an entry whose photo is gone is dropped, and one made
        # from bytes the catalog no longer has for its photo (a crash after the catalog took a
        # changed file's new vector but before the index was saved) is replaced. Only the
        # vectors that are missing or stale are fetched: at a million photos, all vectors as
        # float32 would not fit in memory.
        wanted, hashes = self.catalog.embedded_hashes(spec.vector_key)
        present = index.ids()
        orphans = np.setdiff1d(present, wanted)
        index.remove(orphans.tolist())
        refresh = np.union1d(np.setdiff1d(wanted, present),
                             index.stale_ids(wanted, content_keys(hashes)))
        if len(refresh):
            index.add(*self._catalog_vectors(spec, refresh.tolist()))
        changed = len(refresh) or len(orphans) or not index.saved_in(self.paths.index_dir)
        if changed and not self.read_only:
            # Saved at once: until its first save the index keeps new vectors in memory.
            index.save(self.paths.index_dir)
        return index

    def _catalog_vectors(self, spec: ModelSpec, ids: list[int]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, vectors, content keys) of these photos from the catalog, for the index."""
        from photosim.core.index import content_keys

        found, vectors, hashes = self.catalog.vectors_and_hashes_for_ids(spec.vector_key, spec.dim,
                                                                     ids)
        return found, vectors, content_keys(hashes)

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
                             infer_in_workers=self._runs_on_cpu())

    def classifier_head(self) -> labels.ClassifierHead | None:
        """The model's ImageNet classifier (names clusters, enables word search), if it has
        one: in the model file itself (the zoo's ResNet-50) or in the spec's ``head_file``."""
        with self._lock:
            if self._head is False:
                self._head = self._find_head()
            return self._head if isinstance(self._head, labels.ClassifierHead) else None

    def _find_head(self) -> labels.ClassifierHead | None:
        if self.spec is None or self.spec.labels != "imagenet" or self._model_source is None:
            return None
        candidates = [self._model_source]
        if self.spec.head_file:
            candidates.append(self._model_source.parent / self.spec.head_file)
        for path in candidates:
            if path.is_file():
                head = labels.ClassifierHead.from_onnx(path)
                if head is not None and head.feature_dim == self.spec.dim:
                    return head
        return None

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
        damaged = self.catalog.drop_damaged_vectors(self.spec.vector_key, self.spec.dim)
        if not damaged:
            return ""
        log.warning("%d damaged stored vector(s) dropped; computing them again", damaged)
        return f"catalog: {damaged} damaged stored vector(s) found; computed again from the photos"

    def _check_index(self) -> str:
        """Before a run: read every vector index row, healing damaged ones from the catalog
        (the run saves them). Returns what was repaired, in words ("" when nothing was)."""
        index = self._index
        before = index.damaged_rows if index else 0
        self._verify_index()
        index = self._index
        return (self._index_problem() or "") if index and index.damaged_rows > before else ""

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
        return video.thumbnail(path, video.duration_s(path) / 3, size)

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
        return LibraryHealth(None, checked, damaged, healed, self._index_problem())

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
            aside = _move_catalog_aside(self.paths)
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

    def _index_problem(self) -> str | None:
        index = self._index
        if index is None or not index.damaged_rows:
            return None
        dropped = index.damaged_rows - index.healed_rows
        text = (f"vector index: {index.damaged_rows} damaged row(s) found (checksum); "
                f"{index.healed_rows} fetched again from the catalog")
        if dropped:
            text += f", {dropped} left out until 'photosim index' computes them again"
        if self.read_only:
            text += "; run 'photosim index' to rewrite the index file"
        return text

    def status(self, check: bool = False) -> LibraryStatus:
        """Counts and model. ``check``: first run SQLite's quick check over the whole catalog
        (reads every page), raising ``CatalogError`` when it is damaged, then check every
        vector index row (``index_rows_checked``)."""
        checked: int | None = None
        if check:
            self.catalog.db.check()
            checked = self._verify_index()
        model_id = self.spec.id if self.spec else None
        total, embedded, errors = self.catalog.counts(self.spec.vector_key if self.spec
                                                      else None)
        folders = self.catalog.folders()
        provider = self._session.provider if self._session else self._expected_provider()
        return LibraryStatus(
            photos=total, embedded=embedded if self.visual_search else 0, errors=errors,
            folders=[f.path for f in folders],
            reference_folders=[f.path for f in folders if f.reference],
            model_id=model_id if self.visual_search else None,
            model_name=self.spec.name if self.spec and self.visual_search else None,
            provider=provider, visual_search=self.visual_search,
            message=self._status_message(), scan_problems=len(self.catalog.scan_problems()),
            model_problem=None if self.visual_search else self._model_problem,
            index_damaged_rows=self._index.damaged_rows if self._index else 0,
            index_healed_rows=self._index.healed_rows if self._index else 0,
            index_rows_checked=checked, index_problem=self._index_problem())

    def photos_to_embed(self, model_id: str) -> int:
        """How many photos a switch to ``model_id`` (installed in the store) would embed:
        those without a vector from its file."""
        spec = ModelStore(self.paths.models).bound_spec(model_id)
        total, embedded, _ = self.catalog.counts(spec.vector_key)
        return total - embedded

    def _status_message(self) -> str:
        if self.visual_search:
            return ""
        return ("Reduced mode: exact and look-alike (perceptual hash) duplicates only. "
                + (self._model_problem or "Visual search needs the ResNet-50 model: run "
                                          "'photosim models download'."))

    def thumbnail_path(self, photo: Photo, size: int = 256, time: float | None = None) -> Path:
        """Where the cached thumbnail of ``photo`` lives (made or not): keyed by content, so a
        moved or copied file keeps its thumbnail. ``time``: a video's frame at that time."""
        key = photo.content_hash or f"id{photo.id}-{photo.mtime_ns}"
        at = "" if time is None else f"-t{round(time * 1000)}"
        return self.paths.thumbnails / key[:2] / f"{key}{at}-{size}.jpg"

    def thumbnail(self, photo: Photo, size: int = 256, time: float | None = None) -> Path:
        """A photo's thumbnail; a video's poster frame, or its frame at ``time``."""
        if video.is_video(photo.path):  # the poster by its time: a new model may pick another
            time = self._video_time(photo, time)
        target = self.thumbnail_path(photo, size, time)
        if not target.exists():
            image = (video.thumbnail(photo.path, time, size)
                     if video.is_video(photo.path) and time is not None
                     else decode.make_thumbnail(photo.path, size))
            with atomic_writer(target) as handle:
                image.save(handle, "JPEG", quality=85)
        return target

    def _video_time(self, photo: Photo, time: float | None) -> float:
        facts = self.catalog.videos.facts_of(photo.content_hash) if photo.content_hash else None
        return time if time is not None else facts.poster_time if facts else 0.0

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
            raise ModelNotAvailableError(self._status_message())
        return embedder, index

    def vector_of(self, path: Path) -> tuple[np.ndarray, Photo | None]:
        """The vector of a library photo, or of any image file (embedded on the fly)."""
        embedder, _ = self._require_model()
        assert self.spec is not None
        photo = self.photo(path)
        if photo and photo.content_hash:
            stored = self.catalog.vector_for_hash(photo.content_hash, self.spec.vector_key,
                                                  self.spec.dim)
            if stored is not None:
                return stored, photo
        if not Path(path).exists():  # decoding would call it "vanished while reading"
            raise DecodeError(f"{path}: no such file.")
        try:
            image = (self.video_still(Path(path)) if video.is_video(Path(path)) else
                     decode.load_rgb(Path(path), self.spec.preprocess.resize_shorter).image)
        except DecodeError as exc:  # decode's reasons ("not an image") do not name the file
            raise DecodeError(f"{path}: {exc}") from exc
        return embedder.embed_images([image])[0], photo

    def similar(self, path: Path, k: int = 20, min_score: float = 0.0) -> list[Match]:
        """The ``k`` most similar library photos to ``path`` (a library photo or any image)."""
        _, index = self._require_model()
        vector, photo = self.vector_of(path)
        exclude = {photo.id} if photo else set()
        with self._lock:
            pool_ids, pool_vectors = index.neighbourhood(vector, ranking.pool_size(k), exclude)
            found, scores = ranking.rerank(vector, pool_ids, pool_vectors,
                                           self._ranking_fit(index), k)
        hits = list(zip(found.tolist(), scores.tolist(), strict=True))
        frame_hits = self._frame_search().best_per_video(vector, k, exclude)
        photos = self.catalog.photos_by_ids([*(i for i, _ in hits),
                                             *(h.photo_id for h in frame_hits)])
        matches = [Match(photos[i], float(s)) for i, s in hits if i in photos]
        return [m for m in with_video_times(matches, frame_hits, photos, k)
                if m.score >= min_score]

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
        found, state = cluster_vectors(ids, vectors, key, previous, self._cluster_namer())
        self.catalog.save_cluster_state(self.spec.vector_key, key, state.to_bytes())
        return found

    def _cluster_state(self, granularity: float) -> ClusterState | None:
        assert self.spec is not None
        data = self.catalog.cluster_state(self.spec.vector_key, granularity)
        try:
            return ClusterState.from_bytes(data) if data else None
        except ClusterStateError:  # unreadable (older version): cluster afresh
            return None

    def _cluster_namer(self) -> Callable[[np.ndarray], str] | None:
        assert self.spec is not None
        ids, class_ids, probs = self.catalog.photo_classes(self.spec.vector_key)
        if len(ids) == 0:
            return None
        row_of = {int(i): row for row, i in enumerate(ids)}

        def name(member_ids: np.ndarray) -> str:
            rows = [row_of[int(i)] for i in member_ids if int(i) in row_of]
            if not rows:
                return labels.NEUTRAL_NAME
            return labels.cluster_name(labels.dense_probs(class_ids[rows], probs[rows]))
        return name

    def search_words(self, text: str, limit: int = 200) -> list[Match]:
        """Photos whose ImageNet classes match a word ("dog", "castle"), best first."""
        if not self.visual_search or self.spec is None:
            raise ModelNotAvailableError(self._status_message())
        ids, class_ids, probs = self.catalog.photo_classes(self.spec.vector_key)
        if len(ids) == 0 and self.catalog.counts(self.spec.vector_key)[1] == 0:
            raise PhotosimError(f"No photos are indexed with {self.spec.name} yet: run "
                                "'photosim index FOLDER' first.")
        if len(ids) == 0:
            raise PhotosimError("Word search needs a model with an ImageNet classifier; "
                                "this library's model has none.")
        order = labels.rank_by_word_top(text, class_ids, probs)[:limit]
        scores = labels.word_scores_top(text, class_ids[order], probs[order])
        photos = self.catalog.photos_by_ids(int(ids[r]) for r in order)
        return [Match(photos[int(ids[r])], float(score)) for r, score in zip(order, scores,
                                                                            strict=True)
                if int(ids[r]) in photos]

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

    def duplicate_verdict(self, a: Path, b: Path) -> PairVerdict | None:
        """The duplicate passes' own judge on two library photos (default settings), from
        what indexing stored; None when either is not in the library."""
        from photosim.core.duplicates.grouping import describe_copy
        from photosim.core.duplicates.judge import PairJudge
        from photosim.core.duplicates.kinds import KIND_OF_LEVEL, Candidate, Snapshot
        from photosim.core.duplicates.settings import DedupSettings

        photos = [self.photo(a), self.photo(b)]
        if photos[0] is None or photos[1] is None:
            return None
        ids = [p.id for p in photos if p is not None]
        prints = self.catalog.fingerprints_of(ids)
        vectors, rows = None, {}
        if self.visual_search and self.spec is not None:
            found, vectors = self.catalog.vectors_for_ids(self.spec.vector_key, self.spec.dim,
                                                          ids)
            rows = {int(i): row for row, i in enumerate(found)}
        candidates = [Candidate(p, _stored_fingerprint(prints.get(p.id)), rows.get(p.id))
                      for p in photos if p is not None]
        relation = PairJudge(Snapshot(candidates, vectors), DedupSettings())(0, 1)
        if relation.level is None:
            return PairVerdict(None, "", relation.score)
        return PairVerdict(KIND_OF_LEVEL[relation.level],
                           describe_copy(candidates[0].photo, candidates[1].photo, relation),
                           relation.score)

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
            self._check_deletable(photo)
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

    def _check_deletable(self, photo: Photo) -> None:
        if (ref := policy.protecting_folder(photo, self.reference_folders())) is not None:
            raise ProtectedFileError(f"{readable(photo.path)} is in the reference folder "
                                     f"{readable(ref)}; "
                                     "photosim never deletes from it.")
        try:
            st = photo.path.stat()
        except FileNotFoundError as exc:
            raise FileChangedError(f"{readable(photo.path)} is no longer there.") from exc
        current = self.catalog.photo_by_path(photo.path)
        if current is None:
            raise NotInLibraryError(f"{readable(photo.path)} is not in the library.")
        if (st.st_size, st.st_mtime_ns) != (current.size, current.mtime_ns) or \
                (photo.size, photo.mtime_ns) != (current.size, current.mtime_ns):
            raise FileChangedError(f"{readable(photo.path)} changed since it was shown; "
                                   "it was left alone. Review it again.")
        self._check_not_another_name(photo, st)
        self._check_content(photo, current)

    def _check_not_another_name(self, photo: Photo, st: os.stat_result) -> None:
        """Trashing one name of a file takes every name with it: the "copy" would go too."""
        if not photo.content_hash:
            return
        for other in self.catalog.photos_by_hash(photo.content_hash):
            if other.path == photo.path:
                continue
            try:
                other_st = other.path.stat()
            except OSError:
                continue
            if (other_st.st_dev, other_st.st_ino) == (st.st_dev, st.st_ino):
                raise ProtectedFileError(
                    f"{readable(photo.path)} and {readable(other.path)} are the same file "
                    "(a link); trashing one would remove both. It was left alone.")

    @staticmethod
    def _check_content(photo: Photo, current: Photo) -> None:
        """Size and mtime can be kept by an edit; the bytes cannot."""
        try:
            now = scanner.content_hash(photo.path)
        except OSError as exc:
            raise FileChangedError(f"{readable(photo.path)} cannot be read now "
                                   f"({exc.strerror}); it was left alone.") from exc
        if now != current.content_hash or now != (photo.content_hash or now):
            raise FileChangedError(f"{readable(photo.path)}: its content changed since it was "
                                   "shown (same size and date); it was left alone. "
                                   "Review it again.")

    def undo(self, action_id: int | None = None) -> list[Path]:
        """Restore the files of a trash action (default: the latest not yet undone)."""
        open_actions = [a for a in self.catalog.actions() if not a.undone]
        chosen = next((a for a in open_actions if action_id in (None, a.id)), None)
        if chosen is None:
            raise PhotosimError("There is nothing to undo.")
        restored = []
        for item in chosen.items:
            trash.restore(item.trash_path, item.original_path)
            restored.append(item.original_path)
        self.catalog.mark_undone(chosen.id)
        self.index_paths(restored)
        return restored

    def actions(self) -> list[TrashAction]:
        return [TrashAction(a.id, a.at, tuple(i.original_path for i in a.items), a.undone)
                for a in self.catalog.actions()]

    def _action(self, action_id: int) -> TrashAction:
        return next(a for a in self.actions() if a.id == action_id)


def _stored_fingerprint(data: bytes | None) -> Fingerprint | None:
    from photosim.core.fingerprint import Fingerprint

    try:
        return Fingerprint.from_bytes(data) if data is not None else None
    except ValueError:  # written by an older version: judged without pixels
        return None


def with_keeper(group: DuplicateGroup, keeper: Photo) -> DuplicateGroup:
    """``group`` with the user's own choice of keeper, each member's suggestion following it
    (see :func:`photosim.core.duplicates.policy.with_keeper`)."""
    return policy.with_keeper(group, keeper)
