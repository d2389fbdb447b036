"""The duplicate passes' own judge on two library photos, for `photosim compare`: from what
indexing stored (fingerprints, vectors), with the default settings.

Imported on first use (the judge's modules load image code): opening a library stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass

from photosim.core.catalog import Catalog
from photosim.core.duplicates.grouping import describe_copy
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import KIND_OF_LEVEL, Candidate, Snapshot
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import Fingerprint
from photosim.core.models.spec import ModelSpec
from photosim.core.types import DuplicateKind, Photo


@dataclass(frozen=True)
class PairVerdict:
    """How a duplicate pass judges two library photos: the kind of group it would put them
    in (None: not duplicates) and how the second differs from the first ("cropped")."""

    kind: DuplicateKind | None
    relation: str
    score: float


def judge_pair(catalog: Catalog, spec: ModelSpec | None, first: Photo, second: Photo
               ) -> PairVerdict:
    """``second`` judged against ``first``; ``spec``: the model whose stored vectors the
    judge reads (None: judged without vectors, as in reduced mode)."""
    ids = [first.id, second.id]
    prints = catalog.fingerprints_of(ids)
    vectors, rows = None, {}
    if spec is not None:
        found, vectors = catalog.vectors_for_ids(spec.vector_key, spec.dim, ids)
        rows = {int(i): row for row, i in enumerate(found)}
    candidates = [Candidate(p, _stored_fingerprint(prints.get(p.id)), rows.get(p.id))
                  for p in (first, second)]
    relation = PairJudge(Snapshot(candidates, vectors), DedupSettings())(0, 1)
    if relation.level is None:
        return PairVerdict(None, "", relation.score)
    return PairVerdict(KIND_OF_LEVEL[relation.level],
                       describe_copy(candidates[0].photo, candidates[1].photo, relation),
                       relation.score)


def _stored_fingerprint(data: bytes | None) -> Fingerprint | None:
    try:
        return Fingerprint.from_bytes(data) if data is not None else None
    except ValueError:  # written by an older version: judged without pixels
        return None
