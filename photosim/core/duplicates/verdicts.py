"""Pixel verdicts kept between groupings, in memory and (through the search) in the catalog."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from photosim.core.duplicates.kinds import Relation
from photosim.core.duplicates.settings import DedupSettings

PixelCache = dict[tuple[str, str], "Relation | None"]
# Which of a reframed copy's two contents (hash pair, lower first) is the crop: its hash, or
# None when neither fits inside the other better. Grouping asks it of every reframed copy, and
# each costs two crop searches: kept, a later pass asks the catalog instead.
CropSides = dict[tuple[str, str], "str | None"]


# Part of every stored verdict's key: raise it when PairJudge's pixel comparison changes, so
# that verdicts stored by an earlier version are not taken for this one's.
JUDGE_VERSION = 10


class PixelVerdicts:
    """Pixel verdicts kept between groupings, so that a moved similar-scene threshold regroups
    without comparing a single grid again (at 100k photos, most of a grouping's time); the
    library stores them in its catalog too, for the next session.

    Keyed by the two files' content hashes; valid for one model's vectors (the verdicts use its
    cosine) and one set of thresholds other than ``similar_cosine``, which only decides the
    similar-scene level and is applied afresh each time (see :meth:`key`).
    """

    def __init__(self) -> None:
        self._verdicts: PixelCache = {}
        self._sides: CropSides = {}
        self._valid_for: str | None = None
        self._saved = 0  # verdicts, in insertion order, that the owner has stored already
        self._sides_saved = 0  # likewise, crop sides

    @staticmethod
    def key(settings: DedupSettings, model_id: str | None) -> str:
        """What the verdicts hold for, in a few characters: judge, thresholds and model."""
        valid_for = repr((JUDGE_VERSION, replace(settings, similar_cosine=0.0), model_id))
        return hashlib.sha1(valid_for.encode()).hexdigest()[:16]

    def for_key(self, key: str) -> tuple[PixelCache, bool]:
        """(The verdicts for ``key``, whether they were just started empty)."""
        fresh = key != self._valid_for
        if fresh:
            self._verdicts, self._sides = {}, {}
            self._valid_for = key
            self._saved = self._sides_saved = 0
        return self._verdicts, fresh

    def crop_sides(self) -> CropSides:
        """The crop sides kept with the verdicts of the key last asked for."""
        return self._sides

    def all_saved(self) -> None:
        """Count every verdict and crop side held as stored (they came from the store)."""
        self._saved = len(self._verdicts)
        self._sides_saved = len(self._sides)

    def take_unsaved(self, key: str) -> list[tuple[tuple[str, str], Relation | None]]:
        """The verdicts for ``key`` judged, or whose crop side was found, since the last call,
        to be stored (with :meth:`crop_sides`); none when other settings have replaced them
        meanwhile."""
        if key != self._valid_for:
            return []
        # list() copies in one step, which a search adding verdicts meanwhile cannot break
        verdicts, sides = list(self._verdicts.items()), list(self._sides)
        unsaved = dict(verdicts[self._saved:])
        for pair in sides[self._sides_saved:]:
            if pair not in unsaved and pair in self._verdicts:
                unsaved[pair] = self._verdicts[pair]
        self._saved, self._sides_saved = len(verdicts), len(sides)
        return list(unsaved.items())
