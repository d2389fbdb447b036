"""Scale benchmark: all duplicate groups for a large synthetic library, the way the library
finds them: every photo's neighbours from the vector index, then grouping over those pairs.

    python benchmarks/dedup_scale.py [--photos 100000] [--decay 0.5] [--scene-weight 0]

The library: non-negative vectors shaped like pooled CNN features, as benchmarks/index_bench.py
makes them (per-feature scale (1 + j) ** -decay; ``--decay 0`` is a flat spectrum), optionally
grouped into scenes (``--scene-weight``: the share of a scene vector every member carries), and
``--family-share`` of the photos in families of 2-5 near copies of one photo (cosine ~0.98;
the copies' fingerprints are perturbed from the original's, DCT hashes 2 bits apart). All
other fingerprints are random, so a pair that is not a copy fails every pixel test.

Until now this benchmark planted the family pairs directly as the grouping's input and the
k-NN pass was timed on other vectors (index_bench's). That hid what the library really hands
the grouping: every neighbour above ``NEIGHBOUR_FLOOR``, copies or not. How many of those
reach the pixel judge depends on the features: with decay 0.5, two unrelated photos have
cosine ~0.37 and most of a photo's 16 nearest neighbours are above the judge's "edited" floor
(0.60), so each costs the judge a crop search (~3 ms); with a flat spectrum they stay below it.

Reported: the k-NN pass (the index query a duplicate pass makes when it must find every
neighbour list: ``VectorIndex.query_batch`` with the vectors in memory, here paired by
``neighbour_pairs_from_index`` instead of stored), grouping (``find_groups``) over its
pairs, how many pairs the pass gave and how many the grouping judged one by one, and recall:
the share of planted copy pairs among the pass's pairs, and of exact k-NN pairs (a sampled
photo and one of its exact k nearest at or above the floor). Wall and CPU seconds, load.

When more than ``--judge-limit`` pairs would reach the judge, grouping is not run: the judge's
cost is measured on a sample of those pairs and extrapolated, and the figure says so.

The index is built once per library shape (about 30-60 s at 100k) and kept in ``--work``.

``--library`` also times ``Library.duplicates`` on a real catalog and index holding the same
library (written once, a few minutes at 100k), three ways: with no neighbour list stored (every
list is found, gated and stored first, as once after an upgrade or a change of model), in a new
session with the lists stored (what a user meets after indexing, which keeps them up to date;
pixel verdicts stored by the first call are read back too), and again in that session.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from photosim.core.cancel import CancelToken
from photosim.core.catalog import Catalog
from photosim.core.duplicates.gate import pixel_gate
from photosim.core.duplicates.grouping import GroupingOptions, find_groups
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Snapshot
from photosim.core.duplicates.pairs import PairTable, hash_pairs, neighbour_pairs_from_index
from photosim.core.duplicates.prefilter import cosines_of_pairs, could_relate, pairs_to_judge
from photosim.core.duplicates.search import (
    NEIGHBOUR_CANDIDATES,
    NEIGHBOUR_EF,
    NEIGHBOUR_FLOOR,
    NEIGHBOURS_K,
)
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import Fingerprint
from photosim.core.index import VectorIndex
from photosim.core.library import Library as PhotoLibrary
from photosim.core.models.spec import ModelSpec
from photosim.core.paths import LibraryPaths
from photosim.core.types import ImageInfo, Photo

T = TypeVar("T")
SPARSITY = 0.3  # gamma shape of every feature, as benchmarks/index_bench.py
DECAY = 0.5  # feature j scaled by (1 + j) ** -decay, as benchmarks/index_bench.py
COPY_NOISE = 0.15  # scale of the noise a copy adds to its original's features
GRID = (21, 28)


@dataclass
class Library:
    candidates: list[Candidate]
    vectors: np.ndarray  # (n, dim) float32, L2-normalised; row i is candidate i
    families: list[np.ndarray]  # rows of each planted family of copies


def synthetic(n: int, dim: int, family_share: float, rng: np.random.Generator,
              scene_weight: float = 0.0, decay: float = DECAY, scene_size: int = 20) -> Library:
    """A library of ``n`` photos, ``family_share`` of them in families of 2-5 near copies."""
    scale = ((1.0 + np.arange(dim)) ** -decay).astype(np.float32)
    vectors = _scene_vectors(n, dim, scene_weight, scene_size, scale, rng)
    grids = rng.integers(0, 256, size=(n, *GRID), dtype=np.uint8)
    hashes = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    families = []
    start, family_end = 0, int(n * family_share)
    while start < family_end:
        members = np.arange(start, min(start + int(rng.integers(2, 6)), n))
        copies = members[1:]
        vectors[copies] = vectors[start] + rng.gamma(SPARSITY, COPY_NOISE, (len(copies), dim)) \
            * scale
        noise = rng.integers(-6, 7, size=(len(copies), *GRID))
        grids[copies] = np.clip(grids[start].astype(int) + noise, 0, 255)
        hashes[copies] = hashes[start] ^ np.uint64(0b101)
        families.append(members)
        start += len(members)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    candidates = [Candidate(
        Photo(i, Path(f"/lib/{i}.jpg"), 1000 + i, 0, f"h{i}", 4000, 3000, "JPEG"),
        Fingerprint(int(hashes[i]), int(hashes[i]), 0, 1.0, 4 / 3, grids[i],
                    np.zeros((8, 8, 3), np.uint8)), i) for i in range(n)]
    return Library(candidates, vectors, families)


def _scene_vectors(n: int, dim: int, weight: float, scene_size: int, scale: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Non-negative features: a photo's own plus ``weight`` times its scene's."""
    scenes = max(1, n // scene_size)
    centres = rng.gamma(SPARSITY, 1.0, (scenes, dim)).astype(np.float32) * scale
    out = np.empty((n, dim), np.float32)
    chunk = 20_000
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        out[start:start + rows] = weight * centres[rng.integers(scenes, size=rows)] + \
            rng.gamma(SPARSITY, 1.0, (rows, dim)) * scale
    return out


def planted_pairs(families: list[np.ndarray]) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for members in families
            for k, a in enumerate(members) for b in members[k + 1:]}


def cached_index(library: Library, folder: Path) -> VectorIndex:
    """The library's vector index, built once per library shape and kept in ``folder``."""
    dim = library.vectors.shape[1]
    index = VectorIndex.load(folder, "dedup-scale", dim)
    if index is None or len(index) != len(library.vectors):
        index = VectorIndex.build("dedup-scale", dim, np.arange(len(library.vectors)),
                                  library.vectors)
        index.save(folder)
    return index


@dataclass
class Timed:
    wall: float
    cpu: float
    load: float

    def __str__(self) -> str:
        return f"{self.wall:.1f} s ({self.cpu:.1f} s CPU, load {self.load:.1f})"


def timed(work: Callable[[], T]) -> tuple[T, Timed]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, Timed(time.perf_counter() - wall, time.process_time() - cpu,
                         os.getloadavg()[0])


def neighbour_pairs(index: VectorIndex, vectors: np.ndarray) -> PairTable:
    """Every photo's neighbours, asked of the index as a duplicate pass asks for them."""
    ids = np.arange(len(vectors), dtype=np.int64)
    query_batch = functools.partial(index.query_batch, known=(ids, vectors),
                                    candidates=NEIGHBOUR_CANDIDATES, ef=NEIGHBOUR_EF)
    return neighbour_pairs_from_index(query_batch, vectors, NEIGHBOURS_K,
                                            NEIGHBOUR_FLOOR, row_ids=ids)


def exact_knn_recall(vectors: np.ndarray, found: set[tuple[int, int]], sample: int,
                     rng: np.random.Generator) -> tuple[float, int]:
    """Share of (photo, one of its exact k nearest at or above the floor) pairs found, over a
    sample of photos; and how many such pairs the sample had."""
    rows = np.sort(rng.choice(len(vectors), min(sample, len(vectors)), replace=False))
    sims = vectors[rows] @ vectors.T
    sims[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-sims, NEIGHBOURS_K, axis=1)[:, :NEIGHBOURS_K]
    truth = {(min(int(r), int(c)), max(int(r), int(c)))
             for r, cols, s in zip(rows, top, np.take_along_axis(sims, top, 1), strict=True)
             for c in cols[s >= NEIGHBOUR_FLOOR]}
    return (len(truth & found) / len(truth) if truth else 1.0), len(truth)


def judged_pairs(library: Library, pairs: PairTable) -> tuple[np.ndarray, np.ndarray]:
    """The pairs grouping hands to the pixel judge: those the bulk CNN pre-filter keeps and,
    past ``pixel_gate_above`` pairs, whose coarse pixels may agree (``gate.pixel_gate``)."""
    settings = DedupSettings()
    table = pairs_to_judge(library.candidates, pairs, settings)
    lo, hi = table.a, table.b
    cosines = cosines_of_pairs(library.candidates, library.vectors, lo, hi, table.scores)
    keep = could_relate(Snapshot(library.candidates, library.vectors), lo, hi, settings,
                        cosines)
    lo, hi = lo[keep], hi[keep]
    if len(lo) > settings.pixel_gate_above:
        passed = pixel_gate(library.candidates, lo, hi, settings.pixel_gate_ncc)
        lo, hi = lo[passed], hi[passed]
    return lo, hi


def judge_seconds_per_pair(library: Library, lo: np.ndarray, hi: np.ndarray,
                           rng: np.random.Generator, sample: int = 1000) -> float:
    picked = rng.choice(len(lo), min(sample, len(lo)), replace=False)
    judge = PairJudge(Snapshot(library.candidates, library.vectors), DedupSettings())
    _, cost = timed(lambda: [judge(int(lo[k]), int(hi[k])) for k in picked])
    return cost.cpu / max(len(picked), 1)


@dataclass
class Figures:
    knn: Timed
    grouping: Timed | None  # None: too many pairs to judge; see extrapolated_s
    extrapolated_s: float | None
    pairs: int
    judged: int
    groups: int | None
    family_recall: float
    knn_recall: float
    knn_truth_pairs: int

    @property
    def total_s(self) -> float:
        grouping = self.grouping.wall if self.grouping else self.extrapolated_s
        return self.knn.wall + (grouping or 0.0)

    def summary(self) -> str:
        grouping = (f"grouping {self.grouping} ({self.groups} groups)" if self.grouping else
                    f"grouping ~{self.extrapolated_s:.0f} s EXTRAPOLATED from the judge's cost "
                    "on a sample")
        return (f"{self.total_s:.1f} s = k-NN pass {self.knn} + {grouping}; "
                f"{self.pairs} neighbour pairs, {self.judged} judged; recall: planted copy "
                f"pairs {self.family_recall:.4f}, exact {NEIGHBOURS_K}-NN pairs >= "
                f"{NEIGHBOUR_FLOOR} {self.knn_recall:.4f} (of {self.knn_truth_pairs})")


def measure(n: int, dim: int, work: Path, family_share: float = 0.2,
            scene_weight: float = 0.0, decay: float = DECAY, judge_limit: int = 200_000,
            recall_sample: int = 1000) -> Figures:
    rng = np.random.default_rng(0)
    library = synthetic(n, dim, family_share, rng, scene_weight, decay)
    index = cached_index(library, work / f"dedup-index-{n}-{dim}-{family_share}-{scene_weight}"
                                         f"-{decay}")
    pairs, knn = timed(lambda: neighbour_pairs(index, library.vectors))
    found = {(a, b) for a, b, _ in pairs.triples()}
    planted = planted_pairs(library.families)
    recall, truth = exact_knn_recall(library.vectors, found, recall_sample, rng)
    lo, hi = judged_pairs(library, pairs)
    grouping: Timed | None = None
    groups: int | None = None
    extrapolated: float | None = None
    if len(lo) <= judge_limit:
        found_groups, grouping = timed(lambda: find_groups(
            Snapshot(library.candidates, library.vectors), pairs, GroupingOptions()))
        groups = len(found_groups)
    else:
        extrapolated = len(lo) * judge_seconds_per_pair(library, lo, hi, rng)
    return Figures(knn, grouping, extrapolated, len(pairs), len(lo), groups,
                   len(planted & found) / max(len(planted), 1), recall, truth)


@dataclass
class LibraryFigures:
    groups: int
    without_lists: Timed  # no neighbour list stored: all found (and stored) first
    new_session: Timed  # a fresh Library: the lists read from the catalog
    regroup: Timed  # the same Library again: neighbours cached, pixel verdicts too


def library_duplicates(library: Library, folder: Path) -> LibraryFigures:
    """``Library.duplicates`` on a real catalog and index holding ``library`` (written once
    into ``folder``), three ways: with no neighbour list stored (the first pass after an
    upgrade or a model change: every list is found and stored), in a new session with the
    lists stored (what a user sees after indexing, which keeps them up to date), and again in
    that session. The index is loaded before each, as a session that has searched holds it."""
    spec = ModelSpec(id="dedup-scale", name="synthetic", dim=library.vectors.shape[1])
    if not (folder / "ready").exists():
        _write_catalog(library, LibraryPaths(folder), spec)
    with PhotoLibrary(folder, spec, folder / "no-model.onnx", None, None) as photos:
        photos.vector_index()
        if not (folder / "ready").exists():
            photos.save_index()
            (folder / "ready").touch()
        with photos.catalog.transaction() as conn:
            conn.execute("DELETE FROM neighbours")
        # With a cancel token, as the GUI asks: the lists are then found in chunks.
        _, without_lists = timed(lambda: photos.duplicates(cancel=CancelToken()))
    with PhotoLibrary(folder, spec, folder / "no-model.onnx", None, None) as photos:
        photos.vector_index()
        groups, new_session = timed(lambda: photos.duplicates(cancel=CancelToken()))
        _, regroup = timed(lambda: photos.duplicates(cancel=CancelToken()))
    return LibraryFigures(len(groups), without_lists, new_session, regroup)


def _write_catalog(library: Library, paths: LibraryPaths, spec: ModelSpec) -> None:
    paths.ensure()
    catalog = Catalog(paths.catalog)
    info = ImageInfo(4000, 3000, "JPEG")
    with catalog.transaction() as conn:
        for candidate, vector in zip(library.candidates, library.vectors, strict=True):
            photo, fp = candidate.photo, candidate.fingerprint
            assert photo.content_hash is not None and fp is not None
            catalog.upsert_photo(conn, photo.path, photo.size, photo.mtime_ns,
                                 photo.content_hash, info, fp.to_bytes(), None)
            catalog.put_vector(conn, photo.content_hash, spec.id, vector)
    catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--family-share", type=float, default=0.2)
    parser.add_argument("--scene-weight", type=float, default=0.0)
    parser.add_argument("--decay", type=float, default=DECAY)
    parser.add_argument("--judge-limit", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/photosim-bench"))
    parser.add_argument("--library", action="store_true",
                        help="also time Library.duplicates on a real catalog (written once)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load {os.getloadavg()}", flush=True)
    figures = measure(args.photos, args.dim, args.work, args.family_share, args.scene_weight,
                      args.decay, args.judge_limit)
    print(f"all duplicate groups, {args.photos} photos, scene weight {args.scene_weight}, decay "
          f"{args.decay}: {figures.summary()}")
    library = synthetic(args.photos, args.dim, args.family_share, np.random.default_rng(0),
                        args.scene_weight, args.decay)
    found, cost = timed(lambda: hash_pairs([c.fingerprint for c in library.candidates], 8))
    print(f"hash_pairs (reduced mode, <= 8 bits): {len(found)} pairs in {cost}")
    if args.library:
        folder = args.work / (f"dedup-library-{args.photos}-{args.dim}-{args.family_share}-"
                              f"{args.scene_weight}-{args.decay}")
        app = library_duplicates(library, folder)
        print(f"Library.duplicates: {app.groups} groups; no neighbour lists stored "
              f"{app.without_lists}; new session, lists stored {app.new_session}; "
              f"regroup {app.regroup}")


if __name__ == "__main__":
    main()
