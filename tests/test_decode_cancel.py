"""Ctrl-C / Cancel during the decode of a huge picture takes effect within a block of the file
or a strip of the conversion, not when the decode ends (issue 17; the figure before and after
is benchmarks/cancel_latency.py's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core import decode
from photosim.core.cancel import Cancelled, CancelToken


class CancelledAtCheck(CancelToken):
    """A token the user cancels while the work goes on: at its ``at``-th look."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.looks = at, 0

    @property
    def cancelled(self) -> bool:
        self.looks += 1
        if self.looks >= self.at:
            self.cancel()
        return super().cancelled


def _gradient(side: int) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)
    return (ramp[:, None] * 0.5 + ramp[None, :] * 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def grey16_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cancel") / "grey16.png"
    Image.fromarray((_gradient(4000) * 65535).astype(np.uint16)).save(path, compress_level=6)
    return path


@pytest.fixture(scope="module")
def float_tiff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cancel") / "float.tif"
    Image.fromarray(_gradient(3000)).save(path, compression="tiff_adobe_deflate")
    return path


def test_a_cancel_stops_a_png_decode_between_reads(grey16_png: Path) -> None:
    token = CancelledAtCheck(at=3)  # after the header, while the pixels are being inflated
    with pytest.raises(Cancelled):
        decode.load_rgb(grey16_png, 256, token)
    assert token.looks == 3


def test_a_cancel_stops_the_conversion_between_strips(float_tiff: Path) -> None:
    """libtiff decodes in one call; the strip-by-strip conversion after it checks."""
    token = CancelledAtCheck(at=2)
    with pytest.raises(Cancelled):
        decode.load_rgb(float_tiff, 256, token)


def test_a_token_never_cancelled_changes_nothing(grey16_png: Path, float_tiff: Path) -> None:
    for path in (grey16_png, float_tiff):
        plain = decode.load_rgb(path, 256)
        watched = decode.load_rgb(path, 256, CancelToken())
        assert plain.info == watched.info
        assert np.array_equal(np.asarray(plain.image), np.asarray(watched.image))
