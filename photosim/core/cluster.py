"""Visual clusters over the library's vectors: automatic count, stable ids, an outlier bucket.

How (chosen by measurement, see ``benchmarks/cluster_eval.py``):

1. Centre the vectors and project them on their top principal directions (128-d, fitted on a
   sample with a randomised SVD), then L2-normalise. CNN features are all positive and share
   a big common component; removing it makes cosine distances tell content apart.
2. Group them with average-linkage agglomeration on cosine distance, cut at a distance set
   by ``granularity``. Above a few thousand photos the linkage runs over spherical k-means
   micro-clusters instead of single photos, which keeps 100k photos at a few seconds.
   The cut, not a cluster count, decides how many clusters there are.
3. A photo farther than the cut from its cluster's centre, or in a cluster too small to be
   worth showing, goes to the "Miscellaneous" bucket (id `MISC_ID`) instead.
4. Stability: the state keeps each cluster's centre (in the original vector space) and id.
   The next run assigns every photo to the nearest kept centre within the cut, so existing
   photos keep their cluster; only photos that fit no cluster are grouped afresh into new
   clusters with new ids. A changed granularity regroups everything and hands old ids to
   the new clusters that resemble old ones.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from photosim.core.errors import PhotosimError

MISC_ID = 0
MISC_NAME = "Miscellaneous"
REPRESENTATIVES = 6
REDUCED_DIM = 128
PCA_SAMPLE = 3000
# Up to this many photos the linkage runs over the photos themselves; above, over micro-clusters.
DIRECT_LINKAGE_LIMIT = 3000
KMEANS_SAMPLE = 20000
KMEANS_ITERATIONS = 15
KMEANSPP_POOL = 5000
# Cosine-distance cut (in the reduced space) at granularity 0 (coarse), 0.5 (the default) and
# 1 (fine). Measured on the photo set's tune labels (benchmarks/cluster_eval.py --split tune):
# 0.70 gives the best purity and NMI; below about 0.6 real photos stop splitting into more
# clusters and fall out as groups too small to show, so "Finer" would show fewer clusters
# and a big Miscellaneous (0.35, the old finest cut, put 84 % of the tune photos there).
COARSEST_CUT = 0.95
DEFAULT_CUT = 0.70
FINEST_CUT = 0.60
# A regrouped cluster inherits an old id when their centres are at least this similar.
INHERIT_SIMILARITY = 0.8
# Representatives this similar (cosine of the original vectors) to one already picked are
# copies of it (frames of one burst, a stereo pair, a crop, a recoloured copy): the mosaic
# skips them. On the photo set (EfficientNet-Lite0) such pairs lie at 0.80-0.97 (OpenCV's
# left/right stereo views 0.797, Leuven A/B 0.82, MATE's cold/warm wallpaper 0.83, mirrored
# stamps 0.91+); at the old 0.85, 19 mosaics over three granularities showed a pair. Two
# different photos of one kind can also reach 0.80 (a crow and a blackbird): skipping one of
# them only makes the mosaic more varied.
NEAR_DUPLICATE_SIMILARITY = 0.78
# A photo left over (in a group too small to show, or at a cluster's edge) still joins the
# nearest cluster when it is within this multiple of the cut from that cluster's centre:
# "Miscellaneous" is for photos like nothing else, not for a cluster's outskirts.
ABSORB_CUT_FACTOR = 1.3
# ... but never farther than this: a photo almost orthogonal to every cluster is like nothing
# else, however coarse the grouping.
ABSORB_MAX_DISTANCE = 0.85
# Only this many of the most central members are considered as representatives.
REPRESENTATIVE_POOL = 200
# Refit the projection when the library has grown this many times since it was fitted.
REFIT_GROWTH = 2.0
STATE_FORMAT = 1
SEED = 20240607


class ClusterStateError(PhotosimError):
    """Saved cluster state could not be read; clusters will be recomputed from scratch."""


@dataclass(frozen=True)
class Cluster:
    id: int
    member_ids: tuple[int, ...]
    representative_ids: tuple[int, ...]  # central members, no two near-duplicates, up to 6
    name: str
    size: int

    @property
    def is_misc(self) -> bool:
        return self.id == MISC_ID


@dataclass(frozen=True, eq=False)
class ClusterState:
    """What must persist between runs for stable ids: the projection and each cluster's
    centre and id. Opaque to callers; store ``to_bytes()`` and pass ``from_bytes()`` back."""

    mean: np.ndarray  # (d,) the vectors' mean when the projection was fitted
    basis: np.ndarray  # (d, r) principal directions
    fitted_on: int  # how many photos the projection was fitted on
    cluster_ids: np.ndarray  # (k,) int64
    centres: np.ndarray  # (k, d) mean vector of each cluster's members
    granularity: float
    next_id: int

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, format=np.int64(STATE_FORMAT), mean=self.mean, basis=self.basis,
                 fitted_on=np.int64(self.fitted_on), cluster_ids=self.cluster_ids,
                 centres=self.centres, granularity=np.float64(self.granularity),
                 next_id=np.int64(self.next_id))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ClusterState:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                if int(saved["format"]) != STATE_FORMAT:
                    raise ClusterStateError("The saved clusters come from another version.")
                return cls(saved["mean"].astype(np.float32), saved["basis"].astype(np.float32),
                           int(saved["fitted_on"]), saved["cluster_ids"].astype(np.int64),
                           saved["centres"].astype(np.float32), float(saved["granularity"]),
                           int(saved["next_id"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ClusterStateError(f"The saved clusters could not be read ({exc}).") from exc


NameFor = Callable[[np.ndarray], str]


def cluster_vectors(ids: np.ndarray, vectors: np.ndarray, granularity: float = 0.5,
                    previous: ClusterState | None = None,
                    names: NameFor | None = None) -> tuple[list[Cluster], ClusterState]:
    """Group photos by their (L2-normalised) vectors.

    ``granularity`` 0 gives few broad clusters, 1 many tight ones. ``names(member_ids)`` names
    a cluster (default "Cluster N"). Returns the clusters, biggest first and Miscellaneous
    last, and the state to pass as ``previous`` next time.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"need one vector per id, got {vectors.shape} for {len(ids)} ids")
    granularity = float(min(max(granularity, 0.0), 1.0))
    cut = cut_distance(granularity)
    projection = _projection_for(vectors, previous)
    reduced = projection.reduce(vectors)
    labels, next_id = _labels(reduced, vectors, projection, cut, granularity, previous)
    centres, cluster_ids = _centres(vectors, labels)
    clusters = _build_clusters(ids, vectors, reduced, labels, projection, centres,
                               cluster_ids, names)
    state = ClusterState(projection.mean, projection.basis, projection.fitted_on, cluster_ids,
                         centres, granularity, next_id)
    return clusters, state


def cut_distance(granularity: float) -> float:
    """The cosine distance at which groups stop merging, for a granularity in [0, 1]: linear
    from the coarsest cut to the default at 0.5 and from there to the finest."""
    if granularity <= 0.5:
        return COARSEST_CUT + (DEFAULT_CUT - COARSEST_CUT) * granularity * 2
    return DEFAULT_CUT + (FINEST_CUT - DEFAULT_CUT) * (granularity - 0.5) * 2


def min_cluster_size(count: int) -> int:
    """Smaller groups go to Miscellaneous: 3 photos in a small library, ~30 in 100k."""
    return max(3, int(np.sqrt(count) / 10))


# -- projection ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Projection:
    mean: np.ndarray
    basis: np.ndarray
    fitted_on: int

    def reduce(self, vectors: np.ndarray) -> np.ndarray:
        """Centre, project and L2-normalise (without materialising the centred copy)."""
        if len(vectors) == 0:
            return np.zeros((0, self.basis.shape[1]), np.float32)
        projected = vectors @ self.basis - self.mean @ self.basis
        return _unit_rows(projected)


def _projection_for(vectors: np.ndarray, previous: ClusterState | None) -> _Projection:
    """Reuse the previous projection unless the vectors changed shape or the library grew a
    lot since it was fitted (a projection fitted on 10 photos cannot describe 10,000)."""
    if previous is not None and previous.dim == vectors.shape[1] and \
            len(vectors) <= previous.fitted_on * REFIT_GROWTH:
        return _Projection(previous.mean, previous.basis, previous.fitted_on)
    return _fit_projection(vectors)


def _fit_projection(vectors: np.ndarray) -> _Projection:
    rng = np.random.default_rng(SEED)
    dim = vectors.shape[1]
    if len(vectors) == 0:
        return _Projection(np.zeros(dim, np.float32), np.zeros((dim, 1), np.float32), 0)
    sample = vectors[_sample_rows(len(vectors), PCA_SAMPLE, rng)]
    mean = sample.mean(axis=0)
    rank = max(1, min(REDUCED_DIM, len(sample) - 1, dim))
    basis = _top_directions(sample - mean, rank, rng)
    return _Projection(mean.astype(np.float32), basis.astype(np.float32), len(vectors))


def _top_directions(centred: np.ndarray, rank: int, rng: np.random.Generator) -> np.ndarray:
    """(d, rank) top right-singular vectors by a randomised SVD with two power iterations:
    far cheaper than a full SVD of a 2048-d matrix and as good for clustering."""
    width = min(rank + 10, min(centred.shape))
    probe = rng.standard_normal((centred.shape[1], width), dtype=np.float32)
    q = _orthonormal_columns(centred @ probe)
    for _ in range(2):
        q = _orthonormal_columns(centred @ (centred.T @ q))
    small = q.T @ centred  # (width, d): the data's action on its dominant subspace
    values, vectors = np.linalg.eigh((small @ small.T).astype(np.float64))
    top = np.argsort(-values)[:rank]
    basis = small.T @ vectors[:, top].astype(np.float32)
    return _unit_rows(basis.T).T


def _orthonormal_columns(matrix: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column space from the eigenvectors of the small Gram
    matrix: only matrix products on the tall side (LAPACK's QR of a tall matrix is slow
    when the cores are busy)."""
    values, vectors = np.linalg.eigh((matrix.T @ matrix).astype(np.float64))
    keep = values > values.max() * 1e-8
    scaled = vectors[:, keep] / np.sqrt(values[keep])
    basis: np.ndarray = matrix @ scaled.astype(np.float32)
    return basis


# -- labelling -------------------------------------------------------------------------------

def _labels(reduced: np.ndarray, vectors: np.ndarray, projection: _Projection, cut: float,
            granularity: float, previous: ClusterState | None) -> tuple[np.ndarray, int]:
    """A cluster id per photo (MISC_ID for outliers) and the next free id."""
    if previous is None or len(previous.cluster_ids) == 0 or previous.dim != vectors.shape[1]:
        first_id = previous.next_id if previous is not None else MISC_ID + 1
        return _fresh_labels(reduced, cut, first_id)
    if abs(previous.granularity - granularity) > 1e-9:
        labels, next_id = _fresh_labels(reduced, cut, previous.next_id)
        return _inherit_ids(reduced, labels, projection, previous), next_id
    return _incremental_labels(reduced, projection, cut, previous)


def _incremental_labels(reduced: np.ndarray, projection: _Projection, cut: float,
                        previous: ClusterState) -> tuple[np.ndarray, int]:
    """Photos join the nearest kept centre within the cut; the rest are grouped afresh."""
    centres = projection.reduce(previous.centres)
    nearest, similarity = _nearest(reduced, centres)
    labels = np.where(1.0 - similarity <= cut, previous.cluster_ids[nearest], MISC_ID)
    loose = np.flatnonzero(labels == MISC_ID)
    fresh, next_id = _fresh_labels(reduced[loose], cut, previous.next_id,
                                   min_size=min_cluster_size(len(reduced)))
    labels[loose] = fresh
    return _absorb(reduced, labels.astype(np.int64), cut), next_id


def _fresh_labels(reduced: np.ndarray, cut: float, first_id: int,
                  min_size: int | None = None) -> tuple[np.ndarray, int]:
    """Group from scratch; ids are handed out biggest group first, from ``first_id``."""
    count = len(reduced)
    min_size = min_cluster_size(count) if min_size is None else min_size
    if count < max(2, min_size):
        return np.full(count, MISC_ID, np.int64), first_id
    groups = _group(reduced, cut)
    groups = _drop_far_members(reduced, groups, cut)
    labels, next_id = _number_groups(groups, min_size, first_id)
    return _absorb(reduced, labels, cut), next_id


def _absorb(reduced: np.ndarray, labels: np.ndarray, cut: float) -> np.ndarray:
    """Miscellaneous photos join the nearest cluster within ``ABSORB_CUT_FACTOR`` × cut of
    its centre, at most ``ABSORB_MAX_DISTANCE`` (measured against the clusters as they were
    before any joined)."""
    loose = np.flatnonzero(labels == MISC_ID)
    cluster_ids = np.unique(labels[labels != MISC_ID])
    if len(loose) == 0 or len(cluster_ids) == 0:
        return labels
    index = np.searchsorted(cluster_ids, labels[labels != MISC_ID])
    centres = _unit_rows(_group_sums(reduced[labels != MISC_ID], index, len(cluster_ids)))
    nearest, similarity = _nearest(reduced[loose], centres)
    joined = labels.copy()
    close = 1.0 - similarity <= min(cut * ABSORB_CUT_FACTOR, ABSORB_MAX_DISTANCE)
    joined[loose[close]] = cluster_ids[nearest[close]]
    return joined


def _group(reduced: np.ndarray, cut: float) -> np.ndarray:
    """Average-linkage groups (0-based) cut at ``cut``, over photos or micro-clusters."""
    if len(reduced) <= DIRECT_LINKAGE_LIMIT:
        return _linkage_groups(reduced, cut)
    micro = _spherical_kmeans(reduced, _micro_count(len(reduced)))
    micro_centres = _unit_rows(_group_sums(reduced, micro, int(micro.max()) + 1))
    groups: np.ndarray = _linkage_groups(micro_centres, cut)[micro]
    return groups


def _micro_count(count: int) -> int:
    return int(min(600, max(50, 2 * np.sqrt(count))))


def _linkage_groups(points: np.ndarray, cut: float) -> np.ndarray:
    # Imported here, not at the top: scipy took a fifth of the app's start-up.
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(points) < 2:
        return np.zeros(len(points), np.int64)
    tree = linkage(points.astype(np.float64), method="average", metric="cosine")
    groups: np.ndarray = fcluster(tree, t=cut, criterion="distance").astype(np.int64) - 1
    return groups


def _drop_far_members(reduced: np.ndarray, groups: np.ndarray, cut: float) -> np.ndarray:
    """Members farther than the cut from their group's centre become outliers (-1)."""
    centres = _unit_rows(_group_sums(reduced, groups, int(groups.max()) + 1))
    similarity = np.einsum("ij,ij->i", reduced, centres[groups])
    return np.where(1.0 - similarity <= cut, groups, -1)


def _number_groups(groups: np.ndarray, min_size: int,
                   first_id: int) -> tuple[np.ndarray, int]:
    """Groups of at least ``min_size`` get ids (biggest first); the rest go to MISC_ID."""
    labels = np.full(len(groups), MISC_ID, np.int64)
    kept = groups >= 0
    if not kept.any():
        return labels, first_id
    sizes = np.bincount(groups[kept])
    next_id = first_id
    for group in np.argsort(-sizes, kind="stable"):
        if sizes[group] < min_size:
            break
        labels[groups == group] = next_id
        next_id += 1
    return labels, next_id


def _inherit_ids(reduced: np.ndarray, labels: np.ndarray, projection: _Projection,
                 previous: ClusterState) -> np.ndarray:
    """After regrouping, new clusters take the ids of the old clusters they resemble most."""
    new_ids = np.unique(labels[labels != MISC_ID])
    if len(new_ids) == 0:
        return labels
    new_centres = _unit_rows(np.stack([reduced[labels == i].sum(axis=0) for i in new_ids]))
    similarity = new_centres @ projection.reduce(previous.centres).T
    mapping: dict[int, int] = {}
    for flat in np.argsort(-similarity, axis=None):
        new, old = np.unravel_index(flat, similarity.shape)
        if similarity[new, old] < INHERIT_SIMILARITY:
            break
        old_id = int(previous.cluster_ids[old])
        if int(new_ids[new]) not in mapping and old_id not in mapping.values():
            mapping[int(new_ids[new])] = old_id
    renamed = labels.copy()
    for new_id, old_id in mapping.items():
        renamed[labels == new_id] = old_id
    return renamed


# -- k-means for micro-clusters --------------------------------------------------------------

def _spherical_kmeans(points: np.ndarray, k: int) -> np.ndarray:
    """Labels of every point for k unit centres fitted on a sample (deterministic seed)."""
    rng = np.random.default_rng(SEED)
    sample = points[_sample_rows(len(points), KMEANS_SAMPLE, rng)]
    k = min(k, len(sample))
    centres = _kmeans_plus_plus(sample, k, rng)
    for _ in range(KMEANS_ITERATIONS):
        nearest, _ = _nearest(sample, centres)
        sums = _group_sums(sample, nearest, k)
        empty = ~sums.any(axis=1)
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()), replace=False)]
        centres = _unit_rows(sums)
    return _nearest(points, centres)[0]


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Spread-out starting centres, seeded on a subsample (k-means++ is sequential in k)."""
    pool = points[_sample_rows(len(points), max(KMEANSPP_POOL, k), rng)]
    chosen = [int(rng.integers(len(pool)))]
    distance = np.maximum(1.0 - pool @ pool[chosen[0]], 0.0)
    for _ in range(1, k):
        cumulative = np.cumsum(distance.astype(np.float64) ** 2)
        if cumulative[-1] <= 0:
            break
        pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        pick = min(pick, len(pool) - 1)
        chosen.append(pick)
        distance = np.minimum(distance, np.maximum(1.0 - pool @ pool[pick], 0.0))
    centres: np.ndarray = pool[chosen].copy()
    return centres


# -- results ---------------------------------------------------------------------------------

def _centres(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's mean vector, uncentred so that a refitted projection (a new mean)
    still places it right. Miscellaneous has none."""
    cluster_ids = np.unique(labels[labels != MISC_ID]).astype(np.int64)
    if len(cluster_ids) == 0:
        return np.zeros((0, vectors.shape[1]), np.float32), cluster_ids
    # Row 0 collects Miscellaneous and is dropped, so the big matrix is never copied.
    index = np.where(labels == MISC_ID, 0, np.searchsorted(cluster_ids, labels) + 1)
    sums = _group_sums(vectors, index, len(cluster_ids) + 1)[1:]
    counts = np.bincount(index, minlength=len(cluster_ids) + 1)[1:].astype(np.float32)
    centres: np.ndarray = sums / counts[:, None]
    return centres, cluster_ids


def _build_clusters(ids: np.ndarray, vectors: np.ndarray, reduced: np.ndarray,
                    labels: np.ndarray,
                    projection: _Projection, centres: np.ndarray, cluster_ids: np.ndarray,
                    names: NameFor | None) -> list[Cluster]:
    reduced_centres = projection.reduce(centres) if len(centres) else centres
    clusters = []
    for cluster_id, centre in zip(cluster_ids, reduced_centres, strict=True):
        rows = np.flatnonzero(labels == cluster_id)
        order = np.argsort(-(reduced[rows] @ centre), kind="stable")
        member_ids = ids[rows[order]]
        name = names(member_ids) if names is not None else f"Cluster {cluster_id}"
        picks = _diverse(_unit_rows(vectors[rows[order[:REPRESENTATIVE_POOL]]]),
                         REPRESENTATIVES)
        clusters.append(_cluster(int(cluster_id), member_ids, name,
                                 tuple(int(member_ids[p]) for p in picks)))
    clusters.sort(key=lambda c: (-c.size, c.id))
    clusters = _distinct_names(clusters)
    misc_rows = np.flatnonzero(labels == MISC_ID)
    if len(misc_rows):
        picks = _diverse(_unit_rows(vectors[misc_rows[:REPRESENTATIVE_POOL]]), REPRESENTATIVES)
        clusters.append(_cluster(MISC_ID, ids[misc_rows], MISC_NAME,
                                 tuple(int(ids[misc_rows[p]]) for p in picks)))
    return clusters


def _distinct_names(clusters: list[Cluster]) -> list[Cluster]:
    """Two clusters of ladybugs (close-ups and wide shots) are told apart as "ladybugs" and
    "ladybugs 2", biggest first, so a list of names never repeats one."""
    seen: dict[str, int] = {}
    named = []
    for cluster in clusters:
        seen[cluster.name] = seen.get(cluster.name, 0) + 1
        count = seen[cluster.name]
        named.append(cluster if count == 1 else replace(cluster, name=f"{cluster.name} {count}"))
    return named


def _cluster(cluster_id: int, member_ids: np.ndarray, name: str,
             representatives: tuple[int, ...] | None = None) -> Cluster:
    members = tuple(int(i) for i in member_ids)
    shown = members[:REPRESENTATIVES] if representatives is None else representatives
    return Cluster(cluster_id, members, shown, name, len(members))


def _diverse(central_first: np.ndarray, count: int) -> list[int]:
    """Rows of ``central_first`` (unit vectors, most central first) for a mosaic: the most
    central, then each next central one that is no near-duplicate of those picked. A
    cluster of six copies of one shot shows it once, not six times."""
    picked: list[int] = []
    for row in range(len(central_first)):
        if len(picked) == count:
            break
        if not picked or float(np.max(central_first[picked] @ central_first[row])) < \
                NEAR_DUPLICATE_SIMILARITY:
            picked.append(row)
    return picked


# -- small numeric helpers -------------------------------------------------------------------

def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return unit


def _nearest(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and cosine similarity to the nearest centre, in chunks to bound memory."""
    nearest = np.empty(len(points), np.int64)
    similarity = np.empty(len(points), np.float32)
    for start in range(0, len(points), 8192):
        block = points[start:start + 8192] @ centres.T
        nearest[start:start + 8192] = block.argmax(axis=1)
        similarity[start:start + 8192] = block.max(axis=1)
    return nearest, similarity


def _group_sums(points: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """Row sums per group as one sparse product (fast for 100k rows)."""
    from scipy.sparse import csr_matrix  # here, not at the top: see _linkage_groups

    indicator = csr_matrix((np.ones(len(groups), np.float32), (groups, np.arange(len(groups)))),
                           shape=(count, len(groups)))
    sums: np.ndarray = np.asarray(indicator @ points, dtype=np.float32)
    return sums


def _sample_rows(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, limit, replace=False))
