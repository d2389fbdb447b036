"""Scan → hash → decode → embed → store, with bounded work in flight and clean cancellation.

Decoding (the expensive part on a CPU) runs in a small thread pool while the calling thread
batches tensors through the model, so both cores stay busy. Results are written to the catalog
one batch per transaction: a crash loses at most the batch in flight, and the next run resumes
because unchanged files (same size and mtime, vector present) are skipped without reading them.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photosim.core import decode, scanner
from photosim.core.blas import one_blas_thread
from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.catalog import Catalog
from photosim.core.embedder import Embedder, l2_normalise
from photosim.core.errors import DecodeError
from photosim.core.fingerprint import FINGERPRINT_VERSION, fingerprint, is_current
from photosim.core.index import content_key
from photosim.core.scanner import FileStat, ScanProblem
from photosim.core.types import ImageInfo, Progress, ProgressCallback, Stage
from photosim.core.units import clock
from photosim.core.video import is_video
from photosim.core.video_index import PreparedVideo, prepare_video

# (photo ids, vectors, content keys of the bytes they were made from) → index
VectorSink = Callable[[np.ndarray, np.ndarray, np.ndarray], None]
RemovalSink = Callable[[Sequence[int]], None]
# (unit vectors, their raw lengths) → top-k ImageNet (class ids, probabilities) per row
Classifier = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class IndexReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    embedded: int = 0  # how many pictures went through the model
    cancelled: bool = False
    problems: tuple[str, ...] = ()  # folders that could not be read, in words
    # Files that had not changed but were read again: the model in use had no vector for
    # them, or their pixel fingerprint was an older photosim's.
    refreshed: int = 0


@dataclass
class _Counts:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    embedded: int = 0
    refreshed: int = 0
    problems: list[str] = field(default_factory=list)
    scan_problems: list[tuple[Path, str]] = field(default_factory=list)  # kept in the catalog

    def report(self, cancelled: bool) -> IndexReport:
        return IndexReport(self.added, self.updated, self.moved, self.removed, self.unchanged,
                           self.failed, self.embedded, cancelled, tuple(self.problems),
                           self.refreshed)


@dataclass
class _Job:
    stat: FileStat
    is_new: bool
    content_hash: str | None = None
    refresh: bool = False  # the file has not changed: only what photosim derives from it


@dataclass
class _Result:
    job: _Job
    content_hash: str | None = None
    info: ImageInfo | None = None
    fingerprint: bytes | None = None
    tensor: np.ndarray | None = None  # set when the picture still needs the model
    vector: np.ndarray | None = None  # raw features, when the worker already ran the model
    error: str | None = None
    video: PreparedVideo | None = None  # set for a video file: its frames and facts


class IndexPipeline:
    """One indexing run over folders or files. Not thread-safe; one run at a time."""

    def __init__(self, catalog: Catalog, embedder: Embedder | None, model_id: str | None,
                 on_vectors: VectorSink, on_removed: RemovalSink,
                 workers: int | None = None, batch_size: int = 16,
                 classify: Classifier | None = None, infer_in_workers: bool = False) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.model_id = model_id
        self.on_vectors = on_vectors
        self.on_removed = on_removed
        self.classify = classify
        self._cancel: CancelToken | None = None
        self._progress: tuple[ProgressCallback, _Meter] | None = None  # for long videos
        self._lacking: set[int] | None = None  # readable photos without a vector, loaded once
        self._stale_prints: set[int] | None = None  # photos with an older fingerprint, likewise
        # Each worker runs the model on its own picture (batch of 1) right after decoding it.
        # With a single-threaded session (intra_op_num_threads=1) this beats one thread pool
        # decoding for a multi-threaded model on 2 cores: no core waits for the other at the
        # end of every batch (ResNet-50 fp32, 12-MP JPEGs: ~11 -> ~16 images/s).
        self.infer_in_workers = infer_in_workers
        self.workers = workers or default_workers()
        self.batch_size = batch_size
        self.min_side = embedder.spec.preprocess.resize_shorter if embedder else 256
        self.min_side = max(self.min_side, 256)  # fingerprints want at least 256 px

    # -- entry points ----------------------------------------------------------------------
    def index_folders(self, roots: Sequence[Path], progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> IndexReport:
        counts = _Counts()
        jobs: list[_Job] = []
        vanished: dict[str, int] = {}
        # one walk for every root: a file reachable from two library folders is one photo
        walk = scanner.PhotoWalk(self._problem_recorder(counts), cancel,
                                 [*roots, *(f.path for f in self.catalog.folders())])
        found: set[str] = set()  # nested roots share files; none of them has vanished
        for root in roots:
            known = self.catalog.stat_map(root)
            for stat in walk.root(root):
                found.add(str(stat.path))
                self._classify(stat, known.pop(str(stat.path), None), jobs, counts)
                _report(progress, Stage.SCANNING, len(jobs) + counts.unchanged, None)
            vanished.update({path: row[0] for path, row in known.items()})
        vanished = {path: photo_id for path, photo_id in vanished.items() if path not in found}
        if cancel is not None and cancel.cancelled:
            return counts.report(cancelled=True)
        jobs = self._apply_moves(jobs, vanished, counts)
        self._process(jobs, counts, progress, cancel)
        cancelled = bool(cancel and cancel.cancelled)
        if not cancelled:
            self._forget(vanished, counts)
            self.catalog.replace_scan_problems(roots, counts.scan_problems)
        return counts.report(cancelled)

    def index_files(self, paths: Sequence[Path], progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport:
        """Index specific files (the watcher's way in); missing paths are forgotten."""
        counts = _Counts()
        jobs: list[_Job] = []
        gone: dict[str, int] = {}
        library = [scanner.real_path(f.path) for f in self.catalog.folders()]
        for path in paths:
            if _another_name_inside(path, library):
                continue  # recorded under its real name, like a scan does (scanner.py)
            row = self.catalog.photo_by_path(path)
            known = (row.id, row.size, row.mtime_ns) if row else None
            try:
                st = path.stat()
            except FileNotFoundError:
                if row is not None:
                    gone[str(path)] = row.id
                continue
            except OSError as exc:
                counts.problems.append(f"{path}: {exc.strerror}")
                counts.scan_problems.append((path, str(exc.strerror or exc)))
                continue
            self._classify(FileStat(path, st.st_size, st.st_mtime_ns), known, jobs, counts)
        self._process(jobs, counts, progress, cancel)
        self._forget(gone, counts)
        if counts.scan_problems:
            self.catalog.add_scan_problems(counts.scan_problems)
        return counts.report(bool(cancel and cancel.cancelled))

    # -- planning --------------------------------------------------------------------------
    def _classify(self, stat: FileStat, known: tuple[int, int, int] | None, jobs: list[_Job],
                  counts: _Counts) -> None:
        if known is None:
            jobs.append(_Job(stat, is_new=True))
        elif (known[1], known[2]) != (stat.size, stat.mtime_ns):
            jobs.append(_Job(stat, is_new=False))
        elif self._lacks_vector(known[0]) or self._has_stale_print(known[0]):
            jobs.append(_Job(stat, is_new=False, refresh=True))
        else:
            counts.unchanged += 1

    def _lacks_vector(self, photo_id: int) -> bool:
        """An unchanged file still needs work if the current model has no vector for it.

        Answered from one query per run, not two per file: a catch-up scan of a large,
        unchanged library must stay a matter of stat calls."""
        if self.model_id is None:
            return False
        if self._lacking is None:
            self._lacking = self.catalog.ids_lacking_vector(self.model_id)
        return photo_id in self._lacking

    def _has_stale_print(self, photo_id: int) -> bool:
        """An unchanged file still needs decoding if its fingerprint is of an older version
        (a library from before the last change to fingerprints): the duplicate finder never
        compares fingerprints of two versions, so until then the photo has no pixel evidence.
        Answered from one query per run, like :meth:`_lacks_vector`."""
        if self._stale_prints is None:
            self._stale_prints = self.catalog.ids_with_stale_fingerprint(FINGERPRINT_VERSION)
            if self._stale_prints:
                # What the duplicate finder derived from the old fingerprints (neighbour lists'
                # gate scores, pixel verdicts) must not outlive them; it is found again.
                self.catalog.drop_pixel_evidence()
        return photo_id in self._stale_prints

    def _apply_moves(self, jobs: list[_Job], vanished: dict[str, int],
                     counts: _Counts) -> list[_Job]:
        """A new path whose bytes match a vanished row is a move: keep the row, its vector and
        its decisions, and only update the path."""
        if not vanished:
            return jobs
        vanished_rows = self.catalog.photos_by_ids(vanished.values())
        by_hash: dict[str, list[int]] = collections.defaultdict(list)
        for photo in vanished_rows.values():
            if photo.content_hash:
                by_hash[photo.content_hash].append(photo.id)
        remaining = []
        for job in jobs:
            photo_id = self._match_move(job, by_hash)
            if photo_id is None:
                remaining.append(job)
                continue
            with self.catalog.transaction() as conn:
                self.catalog.move_photo(conn, photo_id, job.stat.path, job.stat.size,
                                        job.stat.mtime_ns)
            vanished.pop(str(vanished_rows[photo_id].path), None)
            counts.moved += 1
        return remaining

    @staticmethod
    def _match_move(job: _Job, by_hash: dict[str, list[int]]) -> int | None:
        if not job.is_new:
            return None
        try:
            job.content_hash = scanner.content_hash(job.stat.path)
        except OSError:
            return None
        candidates = by_hash.get(job.content_hash)
        return candidates.pop() if candidates else None

    # -- the work --------------------------------------------------------------------------
    def _process(self, jobs: list[_Job], counts: _Counts, progress: ProgressCallback | None,
                 cancel: CancelToken | None) -> None:
        if not jobs:
            return
        meter = _Meter(len(jobs))
        batch: list[_Result] = []
        self._cancel = cancel  # read by the workers' hashing, between 1 MiB chunks
        self._progress = (progress, meter) if progress is not None else None
        with ThreadPoolExecutor(self.workers, thread_name_prefix="photosim-decode") as pool:
            try:
                for result in _bounded_map(pool, self._prepare, jobs, 2 * self.batch_size,
                                           cancel):
                    batch.append(result)
                    if sum(r.tensor is not None for r in batch) >= self.batch_size:
                        self._flush(batch, counts)
                        meter.advance(len(batch), progress)
                        batch = []
            except Cancelled:  # a worker stopped hashing a huge file: keep what is done
                pool.shutdown(wait=True, cancel_futures=True)
        self._flush(batch, counts)
        meter.advance(len(batch), progress)

    def _prepare(self, job: _Job) -> _Result:
        """Runs in a worker thread: hash, and decode only what the catalog does not know yet."""
        result = _Result(job)
        data: bytes | None = None  # the file's bytes, kept from hashing for the decoder
        try:
            if job.content_hash is None:
                keep = 0 if is_video(job.stat.path) else scanner.KEEP_BYTES_UP_TO  # ffmpeg reads
                result.content_hash, data = scanner.content_hash_and_bytes(
                    job.stat.path, self._cancel, keep)
            else:
                result.content_hash = job.content_hash
            known_info, known_print = self.catalog.known_info(result.content_hash)
            needs_vector = self.embedder is not None and self.model_id is not None and \
                not self.catalog.has_vector(result.content_hash, self.model_id)
            if known_info is not None and not needs_vector and is_current(known_print):
                result.info, result.fingerprint = known_info, known_print
                return result
            if is_video(job.stat.path):
                self._prepare_video(result, needs_vector)
                return result
            decoded = decode.load_rgb(job.stat.path, self.min_side, self._cancel, data)
            result.info = decoded.info
            result.fingerprint = fingerprint(decoded.image).to_bytes()
            if needs_vector and self.embedder is not None:
                result.tensor = self.embedder.prepare(decoded.image)
                if self.infer_in_workers:
                    result.vector = self.embedder.runner.run(result.tensor[np.newaxis])[0]
        except DecodeError as exc:
            result.error = str(exc)
        except OSError as exc:
            result.error = f"cannot read the file: {exc.strerror or exc}"
        return result

    def _prepare_video(self, result: _Result, needs_vector: bool) -> None:
        """A video is sampled and its frames embedded here; its poster frame then goes through
        the batch like a photo, so the video has a vector, a fingerprint and a thumbnail."""
        video = prepare_video(result.job.stat.path, self.embedder if needs_vector else None,
                              self._cancel, self._video_progress(result.job.stat.path))
        result.video, result.info, result.fingerprint = video, video.info, video.fingerprint
        if video.poster_tensor is not None:
            result.tensor = video.poster_tensor
            if self.infer_in_workers:
                result.vector = video.poster_features

    def _video_progress(self, path: Path) -> Callable[[float], None] | None:
        """Progress from inside a long video (heard on its worker thread): the count of
        files stays, the message says which video and how far in."""
        if self._progress is None:
            return None
        progress, meter = self._progress

        def report(at: float) -> None:
            _report(progress, Stage.INDEXING, meter.done, meter.total,
                    message=f"{path.name} at {clock(at)}")
        return report

    def _flush(self, batch: list[_Result], counts: _Counts) -> None:
        if not batch:
            return
        vectors, classes = self._embed(batch)
        counts.embedded += len(vectors)
        to_index: list[tuple[int, str | None, np.ndarray | None]] = []
        with self.catalog.transaction() as conn:
            for result in batch:
                job = result.job
                photo_id = self.catalog.upsert_photo(
                    conn, job.stat.path, job.stat.size, job.stat.mtime_ns, result.content_hash,
                    result.info, result.fingerprint, result.error)
                _count(result, counts)
                vector = vectors.get(id(result))
                if vector is not None and result.content_hash and self.model_id:
                    self.catalog.put_vector(conn, result.content_hash, self.model_id, vector)
                    if id(result) in classes:
                        self.catalog.put_classes(conn, result.content_hash, self.model_id,
                                                 *classes[id(result)])
                if result.video is not None and result.content_hash:
                    self.catalog.videos.put(conn, result.content_hash, result.video.facts,
                                            self.model_id, result.video.times,
                                            result.video.vectors)
                if result.error is None:
                    to_index.append((photo_id, result.content_hash, vector))
        self._publish(to_index)

    def _embed(self, batch: list[_Result]
               ) -> tuple[dict[int, np.ndarray], dict[int, tuple[np.ndarray, np.ndarray]]]:
        """Vectors (and class guesses, when the model has a classifier head) by result id."""
        pending = [r for r in batch if r.tensor is not None]
        if not pending or self.embedder is None:
            return {}, {}
        if self.infer_in_workers:
            raw = np.stack([r.vector for r in pending if r.vector is not None])
            vectors, norms = l2_normalise(raw), np.linalg.norm(raw, axis=1).astype(np.float32)
        else:
            vectors, norms = self.embedder.embed_with_norms(
                [r.tensor for r in pending if r.tensor is not None])
        by_result = {id(r): v for r, v in zip(pending, vectors, strict=True)}
        if self.classify is None:
            return by_result, {}
        with one_blas_thread():  # see photosim/core/blas.py
            class_ids, probs = self.classify(vectors, norms)
        classes = {id(r): (class_ids[i], probs[i]) for i, r in enumerate(pending)}
        return by_result, classes

    def _publish(self, items: list[tuple[int, str | None, np.ndarray | None]]) -> None:
        """Hand vectors to the index; a file whose bytes were embedded before reuses that."""
        if self.model_id is None or self.embedder is None:
            return
        ids, vectors, keys = [], [], []
        for photo_id, content_hash, vector in items:
            if vector is None and content_hash:
                vector = self.catalog.vector_for_hash(content_hash, self.model_id,
                                                      self.embedder.spec.dim)
            if vector is not None:
                ids.append(photo_id)
                vectors.append(vector)
                keys.append(content_key(content_hash))
        if ids:
            self.on_vectors(np.asarray(ids, np.int64), np.stack(vectors).astype(np.float32),
                            np.asarray(keys, np.int64))

    def _forget(self, vanished: dict[str, int], counts: _Counts) -> None:
        """Drop rows of files that are gone, and of second names (through a link) of files
        the scan records under their real names: a catalog from before links were
        recognised would otherwise pair a file with itself forever. A file still there that
        the scan did not reach (an unreadable folder) keeps its row."""
        library = [scanner.real_path(f.path) for f in self.catalog.folders()]
        ids = [photo_id for path, photo_id in vanished.items()
               if not os.path.lexists(path) or _another_name_inside(Path(path), library)]
        if ids:
            self.catalog.delete_photos(ids)
            self.on_removed(ids)
            counts.removed += len(ids)

    @staticmethod
    def _problem_recorder(counts: _Counts) -> Callable[[ScanProblem], None]:
        def record(problem: ScanProblem) -> None:
            counts.problems.append(f"{problem.path}: {problem.reason}")
            counts.scan_problems.append((problem.path, problem.reason))
        return record


def default_workers() -> int:
    """Decode (and, on a CPU, inference) threads a run uses: one a core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def _another_name_inside(path: Path, library: Sequence[str]) -> bool:
    """Whether ``path`` reaches, through a link, a file whose real name is in the library."""
    real = scanner.real_path(path)
    return real != os.path.abspath(path) and scanner.is_within(real, library)


def _count(result: _Result, counts: _Counts) -> None:
    if result.error is not None:
        counts.failed += 1
    elif result.job.is_new:
        counts.added += 1
    elif result.job.refresh:
        counts.refreshed += 1
    else:
        counts.updated += 1


def _bounded_map(pool: ThreadPoolExecutor, func: Callable[[_Job], _Result], jobs: Iterable[_Job],
                 in_flight: int, cancel: CancelToken | None) -> Iterable[_Result]:
    """``pool.map`` in submission order with at most ``in_flight`` jobs queued: a slow model
    throttles decoding instead of letting decoded pictures pile up in memory."""
    queue: collections.deque[Future[_Result]] = collections.deque()
    for job in jobs:
        if cancel is not None and cancel.cancelled:
            break
        queue.append(pool.submit(func, job))
        if len(queue) >= in_flight:
            yield queue.popleft().result()
    while queue:
        future = queue.popleft()
        if cancel is not None and cancel.cancelled:
            future.cancel()
            continue
        yield future.result()


class _Meter:
    """Rate and ETA for progress reports."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()

    def advance(self, n: int, progress: ProgressCallback | None) -> None:
        self.done += n
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        _report(progress, Stage.INDEXING, self.done, self.total, rate, eta)


def _report(progress: ProgressCallback | None, stage: Stage, done: int, total: int | None,
            rate: float | None = None, eta: float | None = None, message: str = "") -> None:
    if progress is not None:
        progress(Progress(stage=stage, done=done, total=total, rate=rate, eta_s=eta,
                          message=message))
