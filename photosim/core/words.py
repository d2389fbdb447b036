"""What the stored ImageNet classes of photos say, for the facade: the photos that match a
word (word search), and a name for a cluster of photos."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from photosim.core import labels
from photosim.core.catalog import Catalog
from photosim.core.errors import PhotosimError
from photosim.core.models.spec import ModelSpec
from photosim.core.types import Match


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


def cluster_namer(catalog: Catalog, spec: ModelSpec) -> Callable[[np.ndarray], str] | None:
    """A function naming a cluster by its members' classes (None: no photo has classes)."""
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
