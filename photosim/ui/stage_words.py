"""The words the UI shows for each stage of long work (the core reports stages, not text)."""

from __future__ import annotations

from photosim.core.types import Stage

STAGE_WORDS: dict[Stage, str] = {
    Stage.SCANNING: "Looking for photos",
    Stage.INDEXING: "Indexing",
    Stage.PREPARING_DUPLICATES: "Preparing the duplicate search",
    Stage.DOWNLOADING: "Downloading model",
    Stage.READING_LIBRARY: "Reading the library",
    Stage.FINDING_NEIGHBOURS: "Finding neighbours",
    Stage.COMPARING_PIXELS: "Comparing pixels",
    Stage.GROUPING: "Grouping",
    Stage.COMPARING_MODELS: "Comparing models",
}


def stage_words(stage: Stage) -> str:
    """What the user reads for ``stage``."""
    return STAGE_WORDS[stage]
