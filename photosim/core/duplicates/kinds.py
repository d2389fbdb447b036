"""What flows between the steps of a duplicate search: candidate photos, the verdict on a
pair and its level."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from photosim.core.fingerprint import Fingerprint
from photosim.core.types import DuplicateKind, Photo

FloatGrid = NDArray[np.float32]


class Level(IntEnum):
    """How close a pair is; lower is closer. Mirrors :class:`DuplicateKind`."""

    EXACT = 0
    SAME = 1
    EDITED = 2
    SIMILAR = 3


KIND_OF_LEVEL = {Level.EXACT: DuplicateKind.EXACT, Level.SAME: DuplicateKind.SAME,
                 Level.EDITED: DuplicateKind.EDITED, Level.SIMILAR: DuplicateKind.SIMILAR}


@dataclass(frozen=True)
class Candidate:
    """One photo as the grouping sees it."""

    photo: Photo
    fingerprint: Fingerprint | None
    vector_row: int | None  # row in `vectors`; None if not embedded


@dataclass(frozen=True)
class Relation:
    """The verdict on one pair: its level (None: unrelated) and a similarity in [0, 1]."""

    level: Level | None
    score: float
    reframed: bool = False  # one is a crop of the other, not the same framing
    mirrored: bool = False  # one is the other flipped left to right
    # one is a photo, the other a screenshot showing it, framed in interface (reframed too)
    shown_inside: bool = False

    def within(self, level: Level) -> bool:
        return self.level is not None and self.level <= level


@dataclass(frozen=True)
class Snapshot:
    """The photos one duplicate pass groups: ``candidates``, and the CNN ``vectors`` their
    ``vector_row`` indexes (None in reduced mode, without a model)."""

    candidates: Sequence[Candidate]
    vectors: np.ndarray | None = None
