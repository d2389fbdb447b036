"""The vector index as the facade loads it: from disk, reconciled with the catalog (which is
the source of truth: a missing, corrupt or stale index is rebuilt from stored vectors).

Imported on first use (it loads hnswlib): opening a library stays instant.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from photosim.core.catalog import Catalog
from photosim.core.index import VectorIndex, content_keys
from photosim.core.models.spec import ModelSpec


def load_index(catalog: Catalog, index_dir: Path, spec: ModelSpec, read_only: bool
               ) -> VectorIndex:
    """The index of ``spec``'s vectors in ``index_dir``, brought in line with ``catalog``
    (and saved when that changed it, unless ``read_only``)."""
    index = VectorIndex.load(index_dir, spec.vector_key, spec.dim)
    if index is None:
        ids, vectors = catalog.embedded_photos(spec.vector_key, spec.dim)
        index = VectorIndex.build(spec.vector_key, spec.dim, ids, vectors)
    index.repair = functools.partial(catalog_vectors, catalog, spec)
    # Reconcile by id and by content: an entry whose photo is gone is dropped, and one made
    # from bytes the catalog no longer has for its photo (a crash after the catalog took a
    # changed file's new vector but before the index was saved) is replaced. Only the
    # vectors that are missing or stale are fetched: at a million photos, all vectors as
    # float32 would not fit in memory.
    wanted, hashes = catalog.embedded_hashes(spec.vector_key)
    present = index.ids()
    orphans = np.setdiff1d(present, wanted)
    index.remove(orphans.tolist())
    refresh = np.union1d(np.setdiff1d(wanted, present),
                         index.stale_ids(wanted, content_keys(hashes)))
    if len(refresh):
        index.add(*catalog_vectors(catalog, spec, refresh.tolist()))
    changed = len(refresh) or len(orphans) or not index.saved_in(index_dir)
    if changed and not read_only:
        # Saved at once: until its first save the index keeps new vectors in memory.
        index.save(index_dir)
    return index


def catalog_vectors(catalog: Catalog, spec: ModelSpec, ids: list[int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, vectors, content keys) of these photos from the catalog, for the index."""
    found, vectors, hashes = catalog.vectors_and_hashes_for_ids(spec.vector_key, spec.dim, ids)
    return found, vectors, content_keys(hashes)
