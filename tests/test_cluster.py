"""Clusters over synthetic clustered vectors: purity, outliers, stable ids, saved state."""

from __future__ import annotations

import numpy as np
import pytest

from photosim.core.cluster import (
    MISC_ID,
    MISC_NAME,
    Cluster,
    ClusterState,
    ClusterStateError,
    cluster_vectors,
)

DIM = 256


def clustered_vectors(count: int, groups: int, outliers: int = 0,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``groups`` centres on top of a shared positive component (as CNN
    features are), plus ``outliers`` scattered vectors labelled -1."""
    rng = np.random.default_rng(seed)
    shared = np.abs(rng.standard_normal(DIM)) * 2
    centres = rng.standard_normal((groups, DIM))
    labels = rng.integers(0, groups, count)
    vectors = shared + centres[labels] + 0.5 * rng.standard_normal((count, DIM))
    scattered = shared + 1.5 * rng.standard_normal((outliers, DIM))
    vectors = np.vstack([vectors, scattered]).astype(np.float32)
    labels = np.concatenate([labels, np.full(outliers, -1)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


def by_id(clusters: list[Cluster]) -> dict[int, set[int]]:
    return {c.id: set(c.member_ids) for c in clusters}


def purity(clusters: list[Cluster], labels: np.ndarray) -> float:
    real = [c for c in clusters if c.id != MISC_ID]
    majority = sum(np.bincount(labels[list(c.member_ids)] + 1).max() for c in real)
    return majority / sum(c.size for c in real)


def test_finds_the_groups_without_being_told_how_many() -> None:
    vectors, labels = clustered_vectors(400, groups=6)
    clusters, _ = cluster_vectors(np.arange(400), vectors)
    real = [c for c in clusters if c.id != MISC_ID]
    assert len(real) == 6
    assert purity(clusters, labels) == 1.0
    assert sum(c.size for c in clusters) == 400


def test_scattered_photos_go_to_miscellaneous_not_into_clusters() -> None:
    vectors, labels = clustered_vectors(300, groups=4, outliers=15)
    clusters, _ = cluster_vectors(np.arange(315), vectors)
    misc = [c for c in clusters if c.id == MISC_ID]
    assert misc and misc[0].name == MISC_NAME and clusters[-1] is misc[0]
    assert set(misc[0].member_ids) == set(np.flatnonzero(labels == -1).tolist())


def test_granularity_is_the_coarser_finer_knob() -> None:
    # Two families of three close groups each: coarse sees 2, fine sees 6.
    rng = np.random.default_rng(3)
    families = rng.standard_normal((2, DIM))
    groups = np.repeat(families, 3, axis=0) + 0.7 * rng.standard_normal((6, DIM))
    labels = rng.integers(0, 6, 600)
    vectors = (groups[labels] + 0.35 * rng.standard_normal((600, DIM))).astype(np.float32)
    ids = np.arange(600)
    counts = [len([c for c in cluster_vectors(ids, vectors, g)[0] if c.id != MISC_ID])
              for g in (0.0, 0.5, 1.0)]
    assert counts[0] <= counts[1] <= counts[2]
    assert counts[0] < counts[2]


def test_representatives_are_members_nearest_the_centre() -> None:
    vectors, _ = clustered_vectors(200, groups=2)
    clusters, _ = cluster_vectors(np.arange(200) + 1000, vectors)
    for cluster in clusters:
        assert set(cluster.representative_ids) <= set(cluster.member_ids)
        assert 1 <= len(cluster.representative_ids) <= min(6, cluster.size)
        assert cluster.representative_ids[0] == cluster.member_ids[0]  # the most central
        centre = vectors[np.asarray(cluster.member_ids) - 1000].mean(axis=0)
        closeness = vectors[np.asarray(cluster.member_ids) - 1000] @ centre
        assert closeness[0] >= np.median(closeness)


def test_adding_photos_keeps_existing_cluster_ids() -> None:
    vectors, labels = clustered_vectors(700, groups=5, seed=7)
    first, state = cluster_vectors(np.arange(500), vectors[:500])
    second, _ = cluster_vectors(np.arange(700), vectors, previous=state)
    before, after = by_id(first), by_id(second)
    for cluster_id, members in before.items():
        if cluster_id != MISC_ID:
            assert members <= after[cluster_id], f"cluster {cluster_id} lost members"
    # the new photos joined the cluster of their own group
    for cluster_id, members in after.items():
        if cluster_id != MISC_ID:
            assert len(set(labels[list(members)])) == 1


def test_a_new_kind_of_photo_gets_a_new_id_and_old_ids_stay() -> None:
    vectors, _ = clustered_vectors(400, groups=4, seed=11)
    newcomers, _ = clustered_vectors(60, groups=1, seed=99)
    first, state = cluster_vectors(np.arange(400), vectors)
    second, _ = cluster_vectors(np.arange(460), np.vstack([vectors, newcomers]),
                                previous=state)
    old = {k: v for k, v in by_id(first).items() if k != MISC_ID}
    new = by_id(second)
    assert all(new[k] == v for k, v in old.items())
    added = set(new) - set(old) - {MISC_ID}
    assert len(added) == 1 and min(added) >= state.next_id
    assert new[added.pop()] == set(range(400, 460))


def test_same_input_gives_the_same_clusters() -> None:
    vectors, _ = clustered_vectors(300, groups=3)
    assert cluster_vectors(np.arange(300), vectors)[0] == \
        cluster_vectors(np.arange(300), vectors)[0]


def test_changing_granularity_hands_old_ids_to_matching_clusters() -> None:
    vectors, _ = clustered_vectors(300, groups=3, seed=5)
    first, state = cluster_vectors(np.arange(300), vectors, 0.5)
    second, _ = cluster_vectors(np.arange(300), vectors, 0.6, previous=state)
    assert by_id(first) == by_id(second)


def test_state_round_trips_through_bytes() -> None:
    vectors, _ = clustered_vectors(200, groups=2)
    _, state = cluster_vectors(np.arange(200), vectors)
    restored = ClusterState.from_bytes(state.to_bytes())
    assert np.array_equal(restored.centres, state.centres)
    assert np.array_equal(restored.cluster_ids, state.cluster_ids)
    assert restored.next_id == state.next_id
    with pytest.raises(ClusterStateError):
        ClusterState.from_bytes(b"not a state")


def test_tiny_and_empty_libraries() -> None:
    assert cluster_vectors(np.arange(0), np.zeros((0, DIM), np.float32))[0] == []
    two, _ = cluster_vectors(np.arange(2), np.eye(2, DIM, dtype=np.float32))
    assert [c.id for c in two] == [MISC_ID]


def test_names_come_from_the_callback() -> None:
    vectors, labels = clustered_vectors(200, groups=2)
    clusters, _ = cluster_vectors(np.arange(200), vectors,
                                  names=lambda ids: f"group {labels[ids[0]]}")
    assert sorted(c.name for c in clusters) == ["group 0", "group 1"]


def test_ids_survive_the_library_growing_manyfold() -> None:
    # The projection is refitted when the library grows a lot; old clusters must still match.
    vectors, labels = clustered_vectors(900, groups=4, seed=21)
    first, state = cluster_vectors(np.arange(150), vectors[:150])
    second, _ = cluster_vectors(np.arange(900), vectors, previous=state)
    after = by_id(second)
    for cluster_id, members in by_id(first).items():
        if cluster_id != MISC_ID:
            assert members <= after[cluster_id]
    assert purity(second, labels) == 1.0


def test_a_mosaic_shows_different_members_not_one_burst_four_times() -> None:
    """A burst of near-identical frames right at a cluster's centre would fill the mosaic
    if representatives were just the most central members."""
    rng = np.random.default_rng(3)
    shared = np.abs(rng.standard_normal(DIM)) * 0.5
    centres = rng.standard_normal((2, DIM))
    labels = rng.integers(0, 2, 300)
    vectors = shared + centres[labels] + 0.9 * rng.standard_normal((300, DIM))
    group = np.flatnonzero(labels == 0)
    centre = vectors[group].mean(axis=0)
    for row in group[:8]:  # eight frames of one shot, each nearer the centre than the rest
        vectors[row] = centre + 0.01 * rng.standard_normal(DIM)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    clusters, _ = cluster_vectors(np.arange(len(vectors)), vectors)
    burst = set(group[:8].tolist())
    holding = next(c for c in clusters if burst & set(c.member_ids))
    assert len(holding.representative_ids) == 6
    assert len(burst & set(holding.representative_ids)) == 1


def test_photos_at_a_clusters_edge_join_it_instead_of_miscellaneous() -> None:
    """A couple of photos a little outside a big cluster (too few to be a cluster of
    their own) belong to it, not to Miscellaneous."""
    vectors, labels = clustered_vectors(300, groups=3, seed=5)
    first = vectors[labels == 0].mean(axis=0)
    rng = np.random.default_rng(6)
    stragglers = first + 0.045 * rng.standard_normal((2, DIM))
    stragglers /= np.linalg.norm(stragglers, axis=1, keepdims=True)
    vectors = np.vstack([vectors, stragglers.astype(np.float32)])
    clusters, _ = cluster_vectors(np.arange(len(vectors)), vectors)
    home = next(c for c in clusters if int(np.flatnonzero(labels == 0)[0]) in c.member_ids)
    misc = next((c for c in clusters if c.id == MISC_ID), None)
    assert {300, 301} <= set(home.member_ids)
    assert misc is None or not {300, 301} & set(misc.member_ids)


def test_clusters_that_share_a_name_are_told_apart() -> None:
    vectors, _ = clustered_vectors(300, groups=3, seed=8)
    clusters, _ = cluster_vectors(np.arange(300), vectors, names=lambda members: "ladybugs")
    assert [c.name for c in clusters] == ["ladybugs", "ladybugs 2", "ladybugs 3"]


def test_miscellaneous_shows_no_copy_twice_either() -> None:
    rng = np.random.default_rng(9)
    loners = rng.standard_normal((4, DIM))
    copies = loners[[0, 0, 1, 2, 3]] + 0.001 * rng.standard_normal((5, DIM))
    vectors = (copies / np.linalg.norm(copies, axis=1, keepdims=True)).astype(np.float32)
    clusters, _ = cluster_vectors(np.arange(5), vectors, granularity=1.0)
    misc = next(c for c in clusters if c.id == MISC_ID)
    assert misc.size == 5  # two copies are too few for a cluster
    assert len({0, 1} & set(misc.representative_ids)) == 1
    assert {2, 3, 4} <= set(misc.representative_ids)


def burst_library(seed: int) -> np.ndarray:
    """Three groups of eight photos; the first group also holds two frames of one burst
    (rows 24 and 25, cosine 0.8 apart: as close as a stereo pair with a real model)."""
    rng = np.random.default_rng(seed)
    shared = np.abs(rng.standard_normal(DIM)) * 0.5
    centres = rng.standard_normal((3, DIM)) * 1.5
    rows = [shared + centres[g] + rng.standard_normal(DIM) for g in range(3) for _ in range(8)]
    first = shared + centres[0] + 0.6 * rng.standard_normal(DIM)
    first /= np.linalg.norm(first)
    other = shared + centres[0] + 0.6 * rng.standard_normal(DIM)
    other -= (other @ first) * first
    second = 0.8 * first + 0.6 * other / np.linalg.norm(other)
    vectors = np.vstack([*rows, first, second]).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(3))
def test_a_mosaic_shows_one_frame_of_a_burst(seed: int) -> None:
    vectors = burst_library(seed)
    assert float(vectors[24] @ vectors[25]) == pytest.approx(0.8, abs=1e-4)
    clusters, _ = cluster_vectors(np.arange(len(vectors)), vectors)
    home = next(c for c in clusters if 24 in c.member_ids)
    assert 25 in home.member_ids
    assert len({24, 25} & set(home.representative_ids)) == 1
    assert len(home.representative_ids) >= 3  # other photos of the group still show


def test_finer_never_shows_fewer_clusters_or_empties_them_into_miscellaneous() -> None:
    # Loose groups, as real photos of one kind are: at the old finest cut (0.35) they fell
    # apart into groups too small to show: 6 clusters and 61 % Miscellaneous.
    rng = np.random.default_rng(0)
    shared = np.abs(rng.standard_normal(DIM)) * 2
    centres = rng.standard_normal((12, DIM))
    labels = rng.integers(0, 12, 300)
    vectors = shared + centres[labels] + 0.9 * rng.standard_normal((300, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    counts, misc = [], []
    for granularity in (0.0, 0.5, 1.0):
        clusters, _ = cluster_vectors(np.arange(300), vectors, granularity)
        counts.append(sum(1 for c in clusters if c.id != MISC_ID))
        misc.append(sum(c.size for c in clusters if c.id == MISC_ID))
    assert counts == sorted(counts)
    assert max(misc) <= 0.2 * 300
