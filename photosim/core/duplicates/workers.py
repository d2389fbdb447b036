"""Judging pairs on every core: the pixel comparisons of a duplicate pass in worker processes.

Comparing a pair's pixels (a crop search over scales and offsets, tone curves) is most of a
first duplicate pass on real photos, where look-alikes pass the pixel gate, and it is work per
pair. So the pairs whose verdict needs pixels are sent, in chunks, to a pool of processes, each
running the very same :class:`~photosim.core.duplicates.judge.PairJudge` on the few candidates
a chunk holds: verdicts are identical to judging them here. The verdicts, the crop side of
every reframed copy (grouping asks for it) and the pixel verdicts to keep come back and are
handed to the judge of the pass, which then groups as it always did.

A chunk holds the pairs of neighbouring candidates, so that a photo's own work (its grid
views, how it fits inside itself) is mostly done once. Between chunks the pass reports
progress and looks at its cancel token; what finished before a cancel is kept.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from photosim.core.cancel import CancelToken, check
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Level, Relation, Snapshot
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.duplicates.verdicts import CropSides, PixelCache
from photosim.core.types import Progress, ProgressCallback, Stage, no_progress

log = logging.getLogger(__name__)

# Fewer pairs than this are judged in the calling process: starting workers costs more.
POOL_ABOVE = 48
_CHUNK_MAX = 96  # pairs a worker judges at once (a few hundred ms of work)
_CHUNKS_PER_WORKER = 6  # at least, so that every worker stays busy to the end

Pair = tuple[int, int]
# Candidates, their vectors (rows as the candidates' vector_row), settings, whether pixel
# verdicts are kept (then also within a chunk, as the pass's judge does), pairs to judge,
# pairs whose crop side only is wanted.
_Job = tuple[list[Candidate], np.ndarray | None, DedupSettings, bool, list[Pair], list[Pair]]
# Verdicts, crop sides, pixel verdicts to keep.
_Done = tuple[dict[Pair, Relation], dict[Pair, int | None], PixelCache]

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def workers() -> int:
    """How many processes judge pairs: one per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def judge_pairs(judge: PairJudge, pairs: Sequence[Pair],
                report: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                pixel_cache: PixelCache | None = None) -> int:
    """Judge in worker processes the ``pairs`` whose verdict needs pixels, and hand their
    verdicts and crop sides to ``judge`` (pixel verdicts to ``pixel_cache``, the one ``judge``
    keeps its own in); how many were judged so. Nothing happens with one core or few such
    pairs: the caller judges them as it always does. ``report`` hears the pairs judged out
    of all ``pairs``."""
    wanted = [(i, j) for i, j in pairs if judge.needs_pixels(i, j)]
    return _run(judge, wanted, [], _Hooks(len(pairs), report, cancel, pixel_cache))


def find_crop_sides(judge: PairJudge, pairs: Sequence[Pair],
                    cancel: CancelToken | None = None, kept: CropSides | None = None) -> None:
    """Tell ``judge`` the crop side of each reframed copy among ``pairs`` (judged already), in
    worker processes: grouping asks for them, and each costs two crop searches.

    ``kept``: the sides known by content (from the catalog), told to ``judge`` without a
    search; every side found here is added to it, all of them found now (in this process
    when they are few), so that a later pass finds them all there."""
    kept = {} if kept is None else kept
    reframed = [(i, j) for i, j in pairs if _reframed_copy(judge.known(i, j))]
    contents = [_contents(judge, pair) for pair in reframed]
    judge.take({}, {pair: _position_of(judge, pair, kept[c])
                    for pair, c in zip(reframed, contents, strict=True)
                    if c is not None and c in kept and not judge.crop_side_known(*pair)})
    missing = [pair for pair in reframed if not judge.crop_side_known(*pair)]
    _run(judge, [], missing, _Hooks(len(missing), cancel=cancel))
    for pair, c in zip(reframed, contents, strict=True):
        if c is not None and c not in kept:
            check(cancel)
            side = judge.crop_side(*pair)  # found already (judging, workers), or else here
            kept[c] = None if side is None else judge.candidates[side].photo.content_hash


def _contents(judge: PairJudge, pair: Pair) -> tuple[str, str] | None:
    """The pair's two content hashes, lower first; None when either is not known."""
    a, b = (judge.candidates[p].photo.content_hash for p in pair)
    return None if not a or not b else (min(a, b), max(a, b))


def _position_of(judge: PairJudge, pair: Pair, crop: str | None) -> int | None:
    """Which of ``pair`` holds content ``crop`` (None: neither is the crop)."""
    for position in pair:
        if crop is not None and judge.candidates[position].photo.content_hash == crop:
            return position
    return None


def _reframed_copy(relation: Relation | None) -> bool:
    return relation is not None and relation.level == Level.EDITED and relation.reframed


@dataclass(frozen=True)
class _Hooks:
    """A run's ties to its pass: the count its progress is out of, who hears it, what stops
    it, and where the pixel verdicts to keep go (None: nowhere)."""

    out_of: int
    report: ProgressCallback = no_progress
    cancel: CancelToken | None = None
    pixel_cache: PixelCache | None = None


def _run(judge: PairJudge, to_judge: list[Pair], to_side: list[Pair], hooks: _Hooks) -> int:
    total = len(to_judge) + len(to_side)
    count = workers()
    if count < 2 or total < POOL_ABOVE:
        return 0
    size = max(8, min(_CHUNK_MAX, -(-total // (count * _CHUNKS_PER_WORKER))))
    keep = hooks.pixel_cache is not None
    jobs = [_job(judge, keep, to_judge[s:s + size], [])
            for s in range(0, len(to_judge), size)]
    jobs += [_job(judge, keep, [], to_side[s:s + size]) for s in range(0, len(to_side), size)]
    global _passes_running
    with _pool_lock:
        _passes_running += 1
    try:
        _judge_in(_shared_pool(count), judge, jobs, hooks)
    except BrokenProcessPool as exc:
        # A worker died (killed, out of memory, or a script that starts a pass on import
        # without a ``__main__`` guard): the caller judges what is left itself.
        log.warning("duplicate workers stopped (%s); judging in this process", exc)
        _drop_pool()
    finally:
        with _pool_lock:
            _passes_running -= 1
        _stop_when_idle()
    return total


def _judge_in(pool: ProcessPoolExecutor, judge: PairJudge, jobs: list[tuple[_Job, list[int]]],
              hooks: _Hooks) -> None:
    pending: dict[Future[_Done], list[int]] = {}
    for job, positions in jobs:
        pending[pool.submit(_judge_chunk, job)] = positions
    done_pairs = 0
    try:
        while pending:
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                positions = pending.pop(future)
                verdicts, sides, pixels = future.result()
                judge.take(_to_global(verdicts, positions),
                           {_pair(k, positions): None if s is None else positions[s]
                            for k, s in sides.items()})
                if hooks.pixel_cache is not None:
                    hooks.pixel_cache.update(pixels)
                done_pairs += len(verdicts) + len(sides)
            check(hooks.cancel)  # before the report: nothing is heard after a cancel
            if finished:
                hooks.report(Progress(Stage.COMPARING_PIXELS, min(done_pairs, hooks.out_of),
                                      hooks.out_of))
    finally:
        for future in pending:
            future.cancel()


def _to_global(verdicts: dict[Pair, Relation], positions: list[int]) -> dict[Pair, Relation]:
    return {_pair(k, positions): v for k, v in verdicts.items()}


def _pair(local: Pair, positions: list[int]) -> Pair:
    a, b = positions[local[0]], positions[local[1]]
    return (a, b) if a < b else (b, a)


def _job(judge: PairJudge, keep_pixels: bool, to_judge: list[Pair], to_side: list[Pair]
         ) -> tuple[_Job, list[int]]:
    """A chunk's job: its candidates alone (renumbered, with their vectors), and the global
    position of each local one."""
    positions = sorted({p for pair in (*to_judge, *to_side) for p in pair})
    local = {p: n for n, p in enumerate(positions)}
    candidates = [judge.candidates[p] for p in positions]
    vectors = None
    if judge.vectors is not None:
        rows = [c.vector_row for c in candidates]
        present = [r for r in rows if r is not None]
        vectors = np.asarray(judge.vectors[np.asarray(present, np.int64)]) if present else \
            np.zeros((0, judge.vectors.shape[1]), judge.vectors.dtype)
        row_of = {r: n for n, r in enumerate(present)}
        candidates = [Candidate(c.photo, c.fingerprint,
                                None if c.vector_row is None else row_of[c.vector_row])
                      for c in candidates]
    job: _Job = (candidates, vectors, judge.settings, keep_pixels,
                 [(local[a], local[b]) for a, b in to_judge],
                 [(local[a], local[b]) for a, b in to_side])
    return job, positions


def _judge_chunk(job: _Job) -> _Done:
    """In a worker: the verdicts of a chunk's pairs, the crop sides of its reframed copies
    (and of the pairs sent for that alone), and the pixel verdicts made on the way."""
    candidates, vectors, settings, keep_pixels, to_judge, to_side = job
    pixels: PixelCache = {}
    judge = PairJudge(Snapshot(candidates, vectors), settings, None,
                      pixels if keep_pixels else None)
    verdicts = {pair: judge(*pair) for pair in to_judge}
    sides = {pair: judge.crop_side(*pair) for pair in to_judge if _reframed_copy(verdicts[pair])}
    sides.update((pair, judge.crop_side(*pair)) for pair in to_side)
    return verdicts, sides, pixels


def _shared_pool(count: int) -> ProcessPoolExecutor:
    """One pool for the process, started on first use and kept for the next pass (starting a
    worker costs a few hundred ms). Spawned, never forked: the app runs threads (Qt, the file
    watcher, onnxruntime) that a fork would copy mid-flight."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_watch_parent, initargs=(os.getpid(),))
            atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
        return _pool


def _watch_parent(parent: int) -> None:
    """In a worker: leave when the app is gone (killed, it cannot stop its workers), instead
    of waiting for work forever."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


_PARENT_CHECK_S = 1.0
# Workers left idle this long stop: a desktop app should not keep a process per core, each
# holding numpy and the judge, for a duplicate pass that may never come again. The next pass
# that needs them starts them again (a few hundred ms).
IDLE_STOP_S = 120.0
_idle_timer: threading.Timer | None = None
_passes_running = 0  # passes using the pool now: it is never stopped under one


def _stop_when_idle() -> None:
    """(Re)arm the timer that stops the workers once no pass has used them for a while."""
    global _idle_timer
    with _pool_lock:
        if _idle_timer is not None:
            _idle_timer.cancel()
        _idle_timer = threading.Timer(IDLE_STOP_S, _stop_if_idle, args=(_pool,))
        _idle_timer.daemon = True
        _idle_timer.start()


def _stop_if_idle(pool: ProcessPoolExecutor | None) -> None:
    global _pool
    with _pool_lock:
        if pool is None or _pool is not pool or _passes_running:  # stopped, replaced, busy
            return
        _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the workers now (they start again on the next pass that needs them): their CPU
    time then counts as this process's children's."""
    _drop_pool(wait=True)


def _drop_pool(wait: bool = False) -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
        _pool = None
