"""Library-adapted ranking for "find similar": what the library's own vectors, and the model's
class guesses, teach beyond cosine.

Measured with benchmarks/retrieval_eval.py on 467 labelled real photos (Tux Paint's photo
stamps, wallpapers, sample photos; EfficientNet-Lite0), mAP on the tuning / held-out labels:

    fine    plain cosine 0.423 / 0.579, vectors alone 0.456 / 0.594, with classes 0.472 / 0.597
    coarse  plain cosine 0.464 / 0.592, vectors alone 0.491 / 0.616, with classes 0.502 / 0.621

so with classes +12 % / +3 % fine and +8 % / +5 % coarse over cosine; near-duplicate hit@5
1.000 for all. Short of the +10 % hoped for on held-out labels: the class guesses gained 3.5 %
on the tuning labels but 0.5 % on the held-out ones, so they are off by default
(``USE_CLASS_GUESSES``). What was tried and dropped:
PCA whitening fitted on the library (64-1280 dims, power 0.25-0.5, shrinkage 0-1: at best
+1 % on tuning, -4 % to -90 % on held-out: a few hundred vectors cannot fit a 1280-d
covariance), flip pooling at embed time (+0.0 %, twice the model time), GeM pooling of the
last feature map (p 1.5-4, ``retrieval_eval.py --pooling``: p 1.5 +0.7 points over the
default held out, the others lower on tuning; this model was trained for the mean and its
map is mostly zeros), signed square-root
features (-1 %), the classifier's metric W^T W (-1 % to -7 %), the flat similarity of the
class distributions (dot, Bhattacharyya or cosine of the probabilities, blended with cosine:
+0 % to +2 % on tuning; only spreading them over WordNet gained). Database-side augmentation
over the whole library scored +7 % on held-out but needs every photo's neighbours kept
current; done inside the candidate pool (below) it needs no state beyond the library's mean.

Cost: see benchmarks/retrieval_eval.py (``--overhead``). The pool does not grow with the
library, so the ranking adds the same time to a query at 1M photos as at 100k: the pool's
Gram matrix, and with classes the pool's guesses read from the catalog (one query by id) and
a sparse product over WordNet.

A query is ranked in four steps over a pool of the nearest candidates by cosine:

1. centring: vectors minus the library's mean. Pooled CNN features share a large common
   component (all non-negative); removing it lets the distinguishing directions count.
2. class features (only with ``USE_CLASS_GUESSES``, where the model has an ImageNet head and
   the photos' guesses are stored):
   each photo's ``CLASS_GUESSES`` most likely classes spread over the WordNet words above them
   (``_class_spread``), set beside the centred vector with weight ``CLASS_WEIGHT``; then the
   whole is renormalised. Two photos guessed as different terriers still share "terrier",
   "dog", "mammal", which the penultimate-layer vectors only partly know.
3. database-side augmentation inside the pool: each candidate becomes the sum of itself and its
   nearest other candidate (α = 0), which pulls members of one kind together.
4. query expansion (αQE, α = 0): the query plus its ``QUERY_NEIGHBOURS`` best augmented
   candidates, scored again against the pool.

All four are worked out on dot products (the pool's Gram matrix), never on the wide vectors.
The order changes, the score shown stays the plain cosine (what "similarity" means elsewhere
in the app). The first ``KEEP_FIRST`` by cosine, and any candidate at least ``NEAR_DUPLICATE``
alike, keep the top places in cosine order, so a copy's original is never pushed down by its
neighbours, whatever the guesses say.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from photosim.core import labels
from photosim.core.blas import one_blas_thread
from photosim.core.fsutil import atomic_write_bytes

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

POOL = 100  # candidates re-ranked; 50 lost the gain, 200 added nothing (retrieval_eval)
# Database-side augmentation adds one neighbour: 2 or 3 lowered held-out mAP by 1-3 %.
QUERY_NEIGHBOURS = 3
NEAR_DUPLICATE = 0.9  # cosine at which a candidate is a copy: ranked first, in cosine order
# The first five by cosine keep their places: a copy's original, when cosine ranks it in the
# top 5, stays there (keeping 1 or 2 lost 5 or 1 of 467 copies; 5 costs 1 % of the gain).
KEEP_FIRST = 5
MIN_PHOTOS = 50  # a mean of fewer photos says little about the library: plain cosine below
FIT_SAMPLE = 20_000  # photos the mean is taken over
REFIT_GROWTH = 1.25  # refit when the library has grown (or shrunk) by this factor
FIT_FORMAT = 1
# Weight of the class part against the centred vector (squared): 0.1 and 0.3 scored alike on
# the tuning labels, 1.0 lost the gain (the class guesses then outvote what the photo shows).
CLASS_WEIGHT = 0.1
# Whether "find similar" adds the classifier's guesses (step 2 below). Off: on the held-out
# labels they gained 0.5 % mAP (0.594 -> 0.597, within the noise of 164 queries) for 2-3 ms
# more CPU per query (the catalog read of the pool's guesses and the product over WordNet),
# against 3.5 % on the tuning labels they were chosen on. Kept, tested and measured by
# benchmarks/retrieval_eval.py, to be switched on when a larger labelled set shows a gain.
USE_CLASS_GUESSES = False
# The most likely classes of each photo that count (the catalog keeps 10): the rest hold little
# probability and as much work again.
CLASS_GUESSES = 5


@dataclass(frozen=True)
class RankingFit:
    """What ranking learned from one library: the mean of its vectors, at a size."""

    mean: FloatArray
    photos: int

    def stale(self, photos: int) -> bool:
        """True when the library has grown or shrunk enough since the fit to refit."""
        return photos >= self.photos * REFIT_GROWTH or photos * REFIT_GROWTH <= self.photos

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, format=np.int64(FIT_FORMAT), photos=np.int64(self.photos),
                 mean=self.mean.astype(np.float32))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, dim: int) -> RankingFit | None:
        """The fit, or None when the bytes are not a fit of this format and size."""
        try:
            with np.load(io.BytesIO(data)) as stored:
                if int(stored["format"]) != FIT_FORMAT or stored["mean"].shape != (dim,):
                    return None
                return cls(np.asarray(stored["mean"], np.float32), int(stored["photos"]))
        except (OSError, ValueError, KeyError):
            return None


@dataclass(frozen=True)
class ClassGuesses:
    """The classifier head's most likely classes for some photos (rows), as the catalog keeps
    them (``labels.top_classes``): class indices (n, k) and their probabilities (n, k)."""

    ids: np.ndarray
    probs: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of_rows(cls, rows: list[tuple[np.ndarray, np.ndarray] | None]) -> ClassGuesses | None:
        """The guesses of photos given one by one as (class indices, probabilities); None
        when any photo has none or they differ in length (the vectors then rank alone)."""
        present = [row for row in rows if row is not None]
        if not present or len(present) < len(rows) or \
                len({ids.shape for ids, _ in present}) != 1:
            return None
        return cls(np.stack([ids for ids, _ in present]),
                   np.stack([probs for _, probs in present]))


def fit(sample: np.ndarray, photos: int) -> RankingFit:
    """Learn the ranking from a sample of the library's unit vectors (``photos`` in all)."""
    return RankingFit(np.asarray(sample, np.float64).mean(axis=0).astype(np.float32), photos)


def load_fit(path: Path, dim: int) -> RankingFit | None:
    try:
        return RankingFit.from_bytes(path.read_bytes(), dim)
    except FileNotFoundError:
        return None


def save_fit(path: Path, ranking: RankingFit) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, ranking.to_bytes())


def pool_size(k: int) -> int:
    return max(POOL, k)


def _unit_rows(vectors: np.ndarray) -> FloatArray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: FloatArray = vectors / np.maximum(norms, 1e-12)
    return unit


@functools.cache
def _class_spread() -> Any:
    """The (1000 x columns) sparse matrix that spreads a class over the class feature's
    columns: its own column, and one per WordNet word above it.

    A word's weight is the square root of its specificity, log(1000 / classes under it) /
    log(1000): 1 for a single class, 0.56 for "dog" (118 breeds), 0 for "entity". Two photos'
    class features then have as dot product the expected specificity of what their guesses
    share, so "both terriers" counts more than "both dogs", which counts more than "both
    animals", and a breed mistaken for its neighbour still counts as a dog."""
    from scipy import sparse

    sizes, above = labels.class_ancestry()
    specificity = np.log(labels.CLASS_COUNT / np.asarray(sizes, np.float64)) / np.log(
        labels.CLASS_COUNT)
    rows, columns, weights = [], [], []
    for cls, covering in enumerate(above):
        rows += [cls] * (1 + len(covering))
        columns += [len(sizes) + cls, *covering]
        weights += [1.0, *np.sqrt(specificity[list(covering)])]
    return sparse.csr_array((np.asarray(weights, np.float32), (rows, columns)),
                            shape=(labels.CLASS_COUNT, len(sizes) + labels.CLASS_COUNT))


def class_gram(guesses: ClassGuesses) -> FloatArray:
    """(n, n) dot products of the rows' class features (see `_class_spread`)."""
    from scipy import sparse

    ids = np.asarray(guesses.ids, np.int64)[:, :CLASS_GUESSES]
    probs = np.asarray(guesses.probs, np.float32)[:, :CLASS_GUESSES]
    per_row = ids.shape[1]
    spread = sparse.csr_array(
        (probs.ravel(), ids.ravel(),
         np.arange(len(ids) + 1) * per_row), shape=(len(ids), labels.CLASS_COUNT)) @ _class_spread()
    gram: FloatArray = (spread @ spread.T).toarray().astype(np.float32)
    return gram


def adapted_scores(query: np.ndarray, candidates: np.ndarray, ranking: RankingFit,
                   classes: ClassGuesses | None = None) -> FloatArray:
    """The ranking score of each candidate (rows) for ``query``: higher is more alike.
    ``classes``: the query's guesses (first row) and the candidates' (rows after), or None."""
    with one_blas_thread():  # waking OpenBLAS's threads costs more than the products
        return _adapted_scores(query, candidates, ranking, classes)


def _adapted_scores(query: np.ndarray, candidates: np.ndarray, ranking: RankingFit,
                    classes: ClassGuesses | None) -> FloatArray:
    """Worked out on the Gram matrix of the query and the candidates: every step below is a
    sum of rows and a renormalisation, so only their dot products are needed, and the class
    features (thousands of sparse columns) enter as one more small Gram matrix."""
    rows = np.vstack([query[np.newaxis], candidates]) - ranking.mean
    gram = rows @ rows.T
    if classes is not None:
        gram += np.float32(CLASS_WEIGHT) * class_gram(classes)
    lengths = np.sqrt(np.maximum(np.diag(gram), 1e-12))
    cosines = gram / np.outer(lengths, lengths)
    to_query, among = cosines[1:, 0], cosines[1:, 1:]
    if len(among) > 1:
        # database-side augmentation: each candidate plus its nearest other candidate
        others = among.copy()
        np.fill_diagonal(others, -np.inf)
        nearest = np.argmax(others, axis=1)
        length = np.sqrt(2.0 + 2.0 * among[np.arange(len(among)), nearest])
        to_query = (to_query + to_query[nearest]) / length
        summed = among + among[:, nearest]
        among = (summed + summed[nearest]) / np.outer(length, length)
    # query expansion: the query plus its best augmented candidates (its length is left out:
    # it scales every score alike)
    best = np.argsort(-to_query, kind="stable")[:QUERY_NEIGHBOURS]
    scores: FloatArray = (to_query + among[:, best].sum(axis=1)).astype(np.float32)
    return scores


def rerank(query: np.ndarray, ids: np.ndarray, vectors: np.ndarray, ranking: RankingFit | None,
           k: int, classes: ClassGuesses | None = None) -> tuple[IdArray, FloatArray]:
    """The best ``k`` of the candidates (``ids`` with their full ``vectors``) for ``query``,
    in the adapted order (plain cosine without a fit), each with its plain cosine.
    ``classes``: the classifier's guesses for the query (first row) and for each candidate
    (in ``ids`` order); without them (no head, or a photo not classified) the vectors alone
    rank."""
    ids = np.asarray(ids, np.int64)
    unit = _unit_rows(vectors)
    query = _unit_rows(np.asarray(query, np.float32).reshape(-1))
    cosine = (unit @ query).astype(np.float32)
    if ranking is None or len(ids) == 0:
        order = np.argsort(-cosine, kind="stable")[:k]
        return ids[order], cosine[order]
    if classes is not None and len(classes) != len(ids) + 1:
        classes = None
    scores = adapted_scores(query, unit, ranking, classes)
    copies = cosine >= NEAR_DUPLICATE
    copies[np.argsort(-cosine, kind="stable")[:KEEP_FIRST]] = True
    # Copies first (by cosine), then everything else by the adapted score.
    keys = np.where(copies, 10.0 + cosine, scores)
    order = np.argsort(-keys, kind="stable")[:k]
    return ids[order], cosine[order]
