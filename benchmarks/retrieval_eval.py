"""Find-similar quality: plain cosine against the library-adapted ranking (core/ranking.py).

    python scripts/build_photo_set.py          # once: the labelled real photos, offline
    python benchmarks/retrieval_eval.py [--photos DIR] [--overhead 100000]
    python benchmarks/retrieval_eval.py --pooling avg,gem2,gem3,gem3+flip [--parts tune]
            [--pooling-cost 3]

On the labelled set (``<cache>/photos/manifest.csv``, see scripts/build_photo_set.py) every
photo is embedded and classified (top 10 classes, as the catalog keeps them) with the shared
EfficientNet-Lite0, and the whole set is the library. Each photo of the ``tune`` labels, then
of the ``heldout`` labels, queries all others; reported: mAP and P@10 at fine and coarse
labels, for plain cosine, the ranking on the vectors alone (the app's default) and with the
classifier's guesses (``ranking.USE_CLASS_GUESSES``). The ranking is fitted on the library's
own vectors (no labels), as the app does; its parameters were chosen on ``tune`` only.
``lists``: a variant the app does not use (yet): each candidate of the pool is first averaged with
its nearest photos over the whole library, as the catalog's stored neighbour lists hold them
(core/duplicates/neighbours.py: each photo's 16 nearest, written by indexing), then ranked by
centred cosine and query expansion as the default does (``list_ranked``); the lists here are
exact, over the whole set, so a library photo that queries is in its candidates' lists, as in
the app.
Near-duplicate hit@5: an edited copy of each photo (cropped, downscaled, JPEG) queries the
library of originals; a hit when its original ranks in the top 5.
``--overhead N``: per-query CPU time of the index's plain query against the ranked ones (pool,
re-ranking; with classes also the pool's guesses read from a catalog of N photos) on N
synthetic 1280-d vectors, single thread (OMP_NUM_THREADS=1).

Measured (467 photos, 71 fine / 13 coarse labels; shared 2-core VM at load ~15):

    method     part      fine mAP   P@10  coarse mAP   P@10  dup hit@5
    cosine     tune         0.423  0.402       0.464  0.641      1.000
    cosine     heldout      0.579  0.467       0.592  0.748      1.000
    vectors    tune         0.456  0.406       0.491  0.656      1.000
    vectors    heldout      0.594  0.471       0.616  0.765      1.000
    classes    tune         0.472  0.426       0.502  0.677      1.000
    classes    heldout      0.597  0.473       0.621  0.771      1.000
    lists      tune         0.470  0.431       0.503  0.677      1.000
    lists      heldout      0.600  0.472       0.623  0.775      1.000

    ``lists`` (5 neighbours weighted by cosine cubed, chosen on tune among 1-16 neighbours,
    uniform / linear / cosine-power weights, with and without the pool's own augmentation):
    +11 % fine mAP over cosine on tune but +3.6 % held out, against +2.6 % for the default
    (0.594 -> 0.600: +1 % relative), so the app keeps the default.

``--pooling``: instead of the methods above, plain cosine and the default ranking on vectors
pooled another way from the model's last feature map (benchmarks/pooling.py): GeM of power p
(``gemP``; ``avg`` is p = 1, today's vectors), optionally averaged with the mirrored picture
(``+flip``); the class guesses stay the model's own. ``--pooling-cost P``: model-only CPU time
per image with GeM as graph nodes against the model as it is, alternating in one process.
Measured (load 4-6; variants compared on tune, gem1.5 chosen there, held out run once):

    method             part      fine mAP   P@10  coarse mAP   P@10  dup hit@5
    avg cosine         tune         0.423  0.402       0.464  0.641      1.000
    avg vectors        tune         0.456  0.406       0.491  0.656      1.000
    gem0.5 vectors     tune         0.415  0.395       0.483  0.637      0.985
    gem1.5 cosine      tune         0.424  0.404       0.455  0.641      1.000
    gem1.5 vectors     tune         0.461  0.417       0.483  0.656      1.000
    gem2 vectors       tune         0.461  0.414       0.480  0.659      1.000
    gem3 vectors       tune         0.457  0.409       0.471  0.650      1.000
    gem4 vectors       tune         0.457  0.409       0.469  0.650      1.000
    avg+flip vectors   tune         0.453  0.403       0.488  0.651      1.000
    gem2+flip vectors  tune         0.456  0.409       0.479  0.653      1.000
    gem3+flip vectors  tune         0.455  0.409       0.472  0.649      1.000
    avg cosine         heldout      0.579  0.467       0.592  0.748      1.000
    avg vectors        heldout      0.594  0.471       0.616  0.765      1.000
    gem1.5 cosine      heldout      0.583  0.472       0.590  0.752      1.000
    gem1.5 vectors     heldout      0.598  0.472       0.616  0.772      1.000

    Held out, gem1.5 with the default ranking is +3.3 % fine mAP over plain (average-pooled)
    cosine against +2.6 % today: 0.7 points, short of the 3 that would justify re-embedding
    every library; coarse mAP does not move (lower on tune for every p > 1). Flip averaging
    lowers tune mAP at twice the model's cost. GeM as graph nodes (products and a square root
    for p = 1.5, 2, 3) cost +2.9 % and -2.1 % (p = 1.5), +1.7 % (p = 3) model CPU per image
    in three runs of 24 alternating rounds, i.e. within the shared machine's noise; a general
    Pow measured +2 % to +8 %. In the app GeM vectors would also need the average-pooled ones
    kept beside them: the classifier head (word search, cluster names) reads the stored
    vectors and was trained on average pooling. Why GeM gains little here: EfficientNet-Lite0's
    last map is a ReLU6 output, 90 % zeros, half of the channels zero over a whole photo, and
    trained for average pooling without retrieval fine-tuning, so large p mostly amplifies the
    few active cells.

    --overhead 100000 (load ~15, second of two passes): plain k=20 CPU p50 0.64 / p99 1.11 ms;
    ranked on vectors 1.27 / 2.17 ms (the former implementation, in the same run: 1.72 /
    2.38 ms); ranked with classes 4.11 / 5.54 ms.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pooling import Pooling, model_cost, pooled_features
from benchmarks.pooling import feature_map_model as pooling_map_model
from benchmarks.pooling import session as pooling_session
from photosim.core import ranking
from photosim.core.catalog import Catalog
from photosim.core.embedder import to_input
from photosim.core.index import VectorIndex
from photosim.core.labels import ClassifierHead
from photosim.core.model_compare import edited_copy
from photosim.core.models.spec import builtin_specs

SHARED = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", Path(__file__).parents[2] / "shared"
                             / "models"))
DEFAULT_PHOTOS = Path(os.environ.get("PHOTOSIM_PHOTO_SET", Path.home() / ".cache"
                                     / "photosim-photoset")) / "photos"


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def embed(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of the images and their lengths (the classifier head needs both)."""
    pre = builtin_specs()["efficientnet-lite0"].preprocess
    session = ort.InferenceSession(str(SHARED / "efficientnet_lite0_embed.onnx"),
                                   providers=["CPUExecutionProvider"])
    raw = np.vstack([
        session.run(None, {"input": np.stack([to_input(i, pre) for i in images[s:s + 32]])})[0]
        for s in range(0, len(images), 32)])
    return unit(raw).astype(np.float32), np.linalg.norm(raw, axis=1).astype(np.float32)


@dataclass(frozen=True)
class PhotoSet:
    """Manifest rows; unit vectors of the photos and of their edited copies; the classifier's
    guesses for each, as the app stores them (top 10)."""

    rows: list[dict[str, str]]
    photos: np.ndarray
    copies: np.ndarray
    photo_classes: ranking.ClassGuesses
    copy_classes: ranking.ClassGuesses


def load_set(folder: Path) -> PhotoSet:
    """The labelled set, embedded and classified once (cached beside the manifest)."""
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"{manifest} not found: run scripts/build_photo_set.py first")
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    cache = folder / "retrieval_vectors.npz"
    if not (cache.is_file() and cache.stat().st_mtime > manifest.stat().st_mtime
            and "photo_class_ids" in np.load(cache).files):
        images = [Image.open(folder / row["path"]).convert("RGB") for row in rows]
        started = time.perf_counter()
        photos, photo_norms = embed(images)
        print(f"embedded {len(images)} photos in {time.perf_counter() - started:.0f} s")
        copies, copy_norms = embed([edited_copy(image, seed) for seed, image in enumerate(images)])
        head = ClassifierHead.from_onnx(SHARED / "efficientnet_lite0_logits.onnx")
        assert head is not None
        photo_ids, photo_probs = head.top_classes(photos, photo_norms)
        copy_ids, copy_probs = head.top_classes(copies, copy_norms)
        np.savez(cache, photos=photos, copies=copies, photo_class_ids=photo_ids,
                 photo_probs=photo_probs, copy_class_ids=copy_ids, copy_probs=copy_probs)
    with np.load(cache) as stored:
        return PhotoSet(rows, stored["photos"], stored["copies"],
                        ranking.ClassGuesses(stored["photo_class_ids"], stored["photo_probs"]),
                        ranking.ClassGuesses(stored["copy_class_ids"], stored["copy_probs"]))


def cosine_order(query: np.ndarray, library: np.ndarray, skip: int | None) -> np.ndarray:
    sims = library @ query
    if skip is not None:
        sims[skip] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return order[:-1] if skip is not None else order


# The ``lists`` variant: how many of a candidate's stored neighbours it is averaged with, each
# weighted by its cosine to the candidate to this power (1-16 neighbours, uniform, linear and
# powers 1-6 tried on tune: 5 to 8 neighbours with power 3 best, within 0.2 points).
STORED_LIST = 16  # what indexing stores per photo (duplicates.search.NEIGHBOURS_K)
LIST_NEIGHBOURS = 5
LIST_WEIGHT_POWER = 3


def stored_lists(library: np.ndarray) -> np.ndarray:
    """Each photo's ``STORED_LIST`` nearest others by cosine (rows of photo indices, best
    first), as the catalog's neighbour lists hold them."""
    sims = library @ library.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :STORED_LIST]


@dataclass(frozen=True)
class Method:
    """How a query is ranked: plain cosine (no fit), the app's ranking with or without the
    classifier's guesses, or the pool averaged with the stored neighbour lists (``lists``)."""

    name: str
    fit: ranking.RankingFit | None = None
    guesses: ranking.ClassGuesses | None = None  # of the library's photos
    lists: np.ndarray | None = None  # stored_lists of the library


def list_averaged(pool: np.ndarray, library: np.ndarray, lists: np.ndarray,
                  mean: np.ndarray) -> np.ndarray:
    """The pool's vectors (centred) each plus its first ``LIST_NEIGHBOURS`` stored neighbours
    (centred), weighted by their cosine to it to the power ``LIST_WEIGHT_POWER``: the members
    of one kind drawn together by the whole library, not only by the pool."""
    owners = library[pool]
    neighbours = library[lists[pool, :LIST_NEIGHBOURS]]  # (pool, neighbours, dim)
    weights = np.maximum(np.einsum("pd,pnd->pn", owners, neighbours), 0.0) ** LIST_WEIGHT_POWER
    averaged: np.ndarray = owners - mean + np.einsum("pn,pnd->pd", weights, neighbours - mean)
    return averaged


def list_ranked(query: np.ndarray, pool: np.ndarray, library: np.ndarray, lists: np.ndarray,
                fit: ranking.RankingFit) -> np.ndarray:
    """The pool in the ``lists`` order: centred cosine of the query to the averaged
    candidates, plus query expansion (``ranking.QUERY_NEIGHBOURS``), with the same rule as
    the app for copies and the first ``ranking.KEEP_FIRST`` by cosine."""
    averaged = unit(list_averaged(pool, library, lists, fit.mean))
    to_query = averaged @ unit(query - fit.mean)
    best = np.argsort(-to_query, kind="stable")[:ranking.QUERY_NEIGHBOURS]
    adapted = to_query + (averaged @ averaged[best].T).sum(axis=1)
    cosine = library[pool] @ query
    copies = cosine >= ranking.NEAR_DUPLICATE
    copies[np.argsort(-cosine, kind="stable")[:ranking.KEEP_FIRST]] = True
    return pool[np.argsort(-np.where(copies, 10.0 + cosine, adapted), kind="stable")]


def ranked_order(query: np.ndarray, library: np.ndarray, skip: int | None, method: Method,
                 query_guesses: ranking.ClassGuesses | None) -> np.ndarray:
    """The pool re-ranked as the app ranks it, then the rest by cosine."""
    plain = cosine_order(query, library, skip)
    if method.fit is None:
        return plain
    pool = plain[:ranking.pool_size(0)]
    if method.lists is not None:
        return np.concatenate([list_ranked(query, pool, library, method.lists, method.fit),
                               plain[len(pool):]])
    classes = None
    if method.guesses is not None and query_guesses is not None:
        classes = ranking.ClassGuesses(
            np.vstack([query_guesses.ids, method.guesses.ids[pool]]),
            np.vstack([query_guesses.probs, method.guesses.probs[pool]]))
    ranked, _ = ranking.rerank(query, pool, library[pool], method.fit, len(pool), classes)
    return np.concatenate([ranked, plain[len(pool):]])


def row(guesses: ranking.ClassGuesses, index: int) -> ranking.ClassGuesses:
    return ranking.ClassGuesses(guesses.ids[index:index + 1], guesses.probs[index:index + 1])


def scores(orders: dict[int, np.ndarray], labels: np.ndarray) -> tuple[float, float]:
    """(mAP, P@10) over the queries that have something to find."""
    aps, p10 = [], []
    for query, order in orders.items():
        hits = labels[order] == labels[query]
        relevant = int(hits.sum())
        if relevant == 0:
            continue
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.mean(np.arange(1, relevant + 1) / ranks)))
        p10.append(float(hits[:10].mean()))
    return float(np.mean(aps)), float(np.mean(p10))


def hit_at_5(data: PhotoSet, method: Method) -> float:
    hits = []
    for source, copy in enumerate(data.copies):
        order = ranked_order(copy, data.photos, None, method, row(data.copy_classes, source))
        hits.append(source in order[:5].tolist())
    return float(np.mean(hits))


def print_header() -> None:
    print(f"{'method':<18} {'part':<8} {'fine mAP':>9} {'P@10':>6} {'coarse mAP':>11} "
          f"{'P@10':>6} {'dup hit@5':>10}")


def print_scores(data: PhotoSet, methods: list[Method], parts: list[str]) -> None:
    """One line per method and part: fine and coarse mAP and P@10, near-duplicate hit@5."""
    fine = np.array([row["fine"] for row in data.rows])
    coarse = np.array([row["coarse"] for row in data.rows])
    split = np.array([row["split"] for row in data.rows])
    for method in methods:
        dup = hit_at_5(data, method)
        for part in parts:
            queries = np.flatnonzero(split == part).tolist()
            orders = {q: ranked_order(data.photos[q], data.photos, q, method,
                                      row(data.photo_classes, q)) for q in queries}
            (fm, fp), (cm, cp) = scores(orders, fine), scores(orders, coarse)
            print(f"{method.name:<18} {part:<8} {fm:9.3f} {fp:6.3f} {cm:11.3f} {cp:6.3f} "
                  f"{dup:10.3f}", flush=True)


def describe(data: PhotoSet) -> None:
    fine = {row["fine"] for row in data.rows}
    coarse = {row["coarse"] for row in data.rows}
    split = [row["split"] for row in data.rows]
    print(f"{len(data.rows)} photos, {len(fine)} fine / {len(coarse)} coarse labels; "
          f"tune {split.count('tune')}, held out {split.count('heldout')}")


def quality(folder: Path, parts: list[str]) -> None:
    data = load_set(folder)
    photos = data.photos
    fit = ranking.fit(photos, len(photos))
    describe(data)
    print_header()
    print_scores(data, [Method("cosine"), Method("vectors", fit),
                        Method("classes", fit, data.photo_classes),
                        Method("lists", fit, lists=stored_lists(photos))], parts)


def pooled_sets(folder: Path, poolings: list[Pooling], cache: Path) -> dict[Pooling, PhotoSet]:
    """The labelled set embedded with each pooling (photos and edited copies), cached in
    ``cache`` (one file per pooling). The class guesses stay those of the model as it is
    (average pooling): its classifier was trained on them."""
    base = load_set(folder)
    manifest = folder / "manifest.csv"
    files = {pooling: cache / f"pooled-{pooling.name}.npz" for pooling in poolings}
    missing = [pooling for pooling, file in files.items()
               if not (file.is_file() and file.stat().st_mtime > manifest.stat().st_mtime)]
    if missing:
        embed_poolings(folder, base.rows, missing, files)
    sets = {}
    for pooling, file in files.items():
        with np.load(file) as stored:
            sets[pooling] = PhotoSet(base.rows, unit(stored["photos"]).astype(np.float32),
                                     unit(stored["copies"]).astype(np.float32),
                                     base.photo_classes, base.copy_classes)
    return sets


def preprocessed_batches(images: list[Image.Image], size: int = 32) -> list[np.ndarray]:
    pre = builtin_specs()["efficientnet-lite0"].preprocess
    return [np.stack([to_input(i, pre) for i in images[s:s + size]])
            for s in range(0, len(images), size)]


def embed_poolings(folder: Path, rows: list[dict[str, str]], poolings: list[Pooling],
                   files: dict[Pooling, Path]) -> None:
    """One pass of the model cut before its pooling over the photos and their copies; every
    pooling is taken from the same maps."""
    images = [Image.open(folder / r["path"]).convert("RGB") for r in rows]
    copies = [edited_copy(image, seed) for seed, image in enumerate(images)]
    cut = pooling_session(pooling_map_model(SHARED / "efficientnet_lite0_embed.onnx"))

    def run_map(batch: np.ndarray) -> np.ndarray:
        maps: np.ndarray = cut.run(None, {"input": batch})[0]
        return maps

    started = time.perf_counter()
    photo_features = pooled_features(run_map, preprocessed_batches(images), poolings)
    copy_features = pooled_features(run_map, preprocessed_batches(copies), poolings)
    print(f"pooled {len(images)} photos and their copies {len(poolings)} ways in "
          f"{time.perf_counter() - started:.0f} s")
    for pooling in poolings:
        files[pooling].parent.mkdir(parents=True, exist_ok=True)
        np.savez(files[pooling], photos=photo_features[pooling], copies=copy_features[pooling])


def pooling_quality(folder: Path, poolings: list[Pooling], parts: list[str],
                    cache: Path) -> None:
    """Plain cosine and the app's default ranking on the vectors of each pooling."""
    sets = pooled_sets(folder, poolings, cache)
    describe(next(iter(sets.values())))
    print_header()
    for pooling, data in sets.items():
        fit = ranking.fit(data.photos, len(data.photos))
        print_scores(data, [Method(f"{pooling.name} cosine"),
                            Method(f"{pooling.name} vectors", fit)], parts)


def pooling_cost(folder: Path, p: float) -> None:
    """Model-only CPU time per image: the model as it is against GeM as graph nodes."""
    rows = list(csv.DictReader((folder / "manifest.csv").open(encoding="utf-8")))
    images = [Image.open(folder / r["path"]).convert("RGB") for r in rows[:32]]
    batch = preprocessed_batches(images)[0]
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    plain, gem = model_cost(SHARED / "efficientnet_lite0_embed.onnx", batch, p)
    print(f"model CPU per image (process time, median of alternating rounds, batch 32): "
          f"average pooling {plain * 1e3:.1f} ms, GeM p={p:g} as graph nodes "
          f"{gem * 1e3:.1f} ms: ratio {gem / plain:.3f} (load {' '.join(load_before)} -> "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])})")


def synthetic_catalog(folder: Path, count: int, seed: int = 0) -> Catalog:
    """A catalog of ``count`` photos (ids 1..count) with made-up top-10 class guesses, for
    timing the guesses' lookup at a library's size."""
    rng = np.random.default_rng(seed)
    catalog = Catalog(folder / "catalog.sqlite3")
    with catalog.db.transaction() as conn:
        for number in range(count):
            content = f"{number:040x}"
            catalog.upsert_photo(conn, Path(f"/photos/{number}.jpg"), 1, 1, content, None, None,
                                 None)
            probs = np.sort(rng.dirichlet(np.full(10, 0.3)))[::-1]
            catalog.put_classes(conn, content, "synthetic", rng.choice(1000, 10, replace=False),
                                probs)
    return catalog


def overhead(count: int, dim: int = 1280, queries: int = 300) -> None:
    """Per-query CPU time of the plain query and of the ranked ones, single thread."""
    from benchmarks.cluster_eval import synthetic

    vectors, _ = synthetic(count + queries, groups=300, dim=dim)
    started = time.perf_counter()
    index = VectorIndex.build("synthetic", dim, np.arange(1, count + 1), vectors[:count])
    with tempfile.TemporaryDirectory() as folder:
        catalog = synthetic_catalog(Path(folder), count)
        print(f"overhead: {count} x {dim}-d synthetic vectors, index and catalog built in "
              f"{time.perf_counter() - started:.0f} s")
        fit = ranking.fit(vectors[:20_000], count)
        probes = vectors[count:]

        def with_classes(query: np.ndarray) -> None:
            ids, pool = index.neighbourhood(query, ranking.pool_size(20))
            stored = catalog.classes_of("synthetic", [*ids.tolist(), 1])
            rows = [stored[1], *(stored[int(i)] for i in ids)]
            guesses = ranking.ClassGuesses(np.stack([r[0] for r in rows]),
                                           np.stack([r[1] for r in rows]))
            ranking.rerank(query, ids, pool, fit, 20, guesses)

        timed = (("plain query k=20", lambda q: index.query(q, 20)),
                 ("ranked k=20, vectors", lambda q: ranking.rerank(
                     q, *index.neighbourhood(q, ranking.pool_size(20)), fit, 20)),
                 ("ranked k=20, + classes", with_classes))
        for name, run in timed:
            wall, cpu = [], []
            for probe in probes:
                began, began_cpu = time.perf_counter(), time.thread_time()
                run(probe)
                wall.append(time.perf_counter() - began)
                cpu.append(time.thread_time() - began_cpu)
            print(f"  {name}: CPU p50 {np.percentile(cpu, 50) * 1e3:.2f} ms, p99 "
                  f"{np.percentile(cpu, 99) * 1e3:.2f} ms (wall p50 "
                  f"{np.percentile(wall, 50) * 1e3:.2f} ms; the thread's CPU time is what a "
                  "query costs on a machine not shared with other work)")
        catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--overhead", type=int, default=0, metavar="N",
                        help="also time queries on N synthetic vectors (0: skip)")
    parser.add_argument("--skip-quality", action="store_true",
                        help="time queries only (no photo set needed)")
    parser.add_argument("--parts", default="tune,heldout",
                        help="which labels query (tune, heldout or both, comma-separated)")
    parser.add_argument("--pooling", default="",
                        help="score these poolings of the model's last feature map instead of "
                             "the methods above, e.g. avg,gem2,gem3,gem3+flip")
    parser.add_argument("--pooling-cache", type=Path, default=DEFAULT_PHOTOS.parent / "pooling",
                        help="where the pooled vectors are kept between runs")
    parser.add_argument("--pooling-cost", type=float, default=0, metavar="P",
                        help="time the model with GeM of power P as graph nodes against the "
                             "model as it is (0: skip)")
    args = parser.parse_args()
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if args.pooling and not args.skip_quality:
        poolings = [Pooling.parse(text) for text in args.pooling.split(",")]
        pooling_quality(args.photos, poolings, parts, args.pooling_cache)
    elif not args.skip_quality:
        quality(args.photos, parts)
    if args.pooling_cost:
        pooling_cost(args.photos, args.pooling_cost)
    if args.overhead:
        overhead(args.overhead)


if __name__ == "__main__":
    main()
