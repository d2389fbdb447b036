"""Every stage the core reports has words in the UI, and the CLI still prints its name."""

from __future__ import annotations

from photosim.cli.context import format_progress
from photosim.core.types import Progress, Stage
from photosim.ui.stage_words import STAGE_WORDS, stage_words


def test_every_stage_has_words() -> None:
    assert set(STAGE_WORDS) == set(Stage)
    assert all(stage_words(stage) and stage_words(stage)[0].isupper() for stage in Stage)


def test_the_cli_names_a_stage_as_before() -> None:
    assert format_progress(Progress(Stage.SCANNING, 12, None)) == "scanning: 12"
