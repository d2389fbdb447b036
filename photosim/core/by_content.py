"""The library by what its photos show, for the facade: clusters of look-alike photos
(named by their ImageNet classes) and word search over those classes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from photosim.core import labels
from photosim.core.catalog import Catalog
from photosim.core.cluster import Cluster, ClusterState, ClusterStateError, cluster_vectors
from photosim.core.errors import PhotosimError
from photosim.core.models.spec import ModelSpec
from photosim.core.types import Match


def check_granularity(granularity: float) -> None:
    if not math.isfinite(granularity):  # NaN would pass the clamp and cut nowhere
        raise PhotosimError(f"The granularity must be a number from 0 to 1, not "
                            f"{granularity}.")


def content_clusters(catalog: Catalog, spec: ModelSpec, granularity: float) -> list[Cluster]:
    """The photos with ``spec``'s vectors clustered at ``granularity`` (see
    ``Library.clusters``), starting from the state saved last time so that ids stay stable."""
    ids, vectors = catalog.embedded_photos(spec.vector_key, spec.dim)
    if len(ids) == 0:
        return []
    key = round(float(granularity), 3)
    previous = _cluster_state(catalog, spec, key)
    found, state = cluster_vectors(ids, vectors, key, previous, _cluster_namer(catalog, spec))
    catalog.save_cluster_state(spec.vector_key, key, state.to_bytes())
    return found


def _cluster_state(catalog: Catalog, spec: ModelSpec, granularity: float
                   ) -> ClusterState | None:
    data = catalog.cluster_state(spec.vector_key, granularity)
    try:
        return ClusterState.from_bytes(data) if data else None
    except ClusterStateError:  # unreadable (older version): cluster afresh
        return None


def _cluster_namer(catalog: Catalog, spec: ModelSpec) -> Callable[[np.ndarray], str] | None:
    ids, class_ids, probs = catalog.photo_classes(spec.vector_key)
    if len(ids) == 0:
        return None
    row_of = {int(i): row for row, i in enumerate(ids)}

    def name(member_ids: np.ndarray) -> str:
        rows = [row_of[int(i)] for i in member_ids if int(i) in row_of]
        if not rows:
            return labels.NEUTRAL_NAME
        return labels.cluster_name(labels.dense_probs(class_ids[rows], probs[rows]))
    return name


def word_matches(catalog: Catalog, spec: ModelSpec, text: str, limit: int) -> list[Match]:
    """Photos whose stored ImageNet classes match a word ("dog", "castle"), best first."""
    ids, class_ids, probs = catalog.photo_classes(spec.vector_key)
    if len(ids) == 0 and catalog.counts(spec.vector_key)[1] == 0:
        raise PhotosimError(f"No photos are indexed with {spec.name} yet: run "
                            "'photosim index FOLDER' first.")
    if len(ids) == 0:
        raise PhotosimError("Word search needs a model with an ImageNet classifier; "
                            "this library's model has none.")
    order = labels.rank_by_word_top(text, class_ids, probs)[:limit]
    scores = labels.word_scores_top(text, class_ids[order], probs[order])
    photos = catalog.photos_by_ids(int(ids[r]) for r in order)
    return [Match(photos[int(ids[r])], float(score))
            for r, score in zip(order, scores, strict=True) if int(ids[r]) in photos]
