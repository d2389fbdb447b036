"""Decoding is bounded in memory by the pixels it produces: no full-size working copies."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks import decode_memory
from photosim.core import decode

SIDE = 4000  # 16 MP: big enough that full-size float64 copies dwarf the interpreter
# The decoded picture itself (Pillow keeps at most 4 bytes a pixel), a strip, and the
# decoders' own buffers (~100 MB for libtiff at this size). Before strips: 12-31 B a pixel
# (16-bit grey 497 MB, float 449 MB, RGBA 208 MB over the interpreter at 16 MP).
BUDGET = 5 * SIDE * SIDE + (96 << 20)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc VmHWM")


@pytest.fixture(scope="module")
def worst_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return decode_memory.make_cases(tmp_path_factory.mktemp("bombs"), SIDE)


@linux_only
@pytest.mark.parametrize("case", ["16-bit grey PNG", "float TIFF", "palette PNG + transparency",
                                  "CMYK TIFF", "RGBA PNG"])
def test_peak_memory_is_bounded_by_the_decoded_picture(worst_cases: dict[str, Path],
                                                       case: str) -> None:
    result = decode_memory.measure(worst_cases[case])
    assert result["peak"] - result["base"] <= BUDGET, \
        f"{case}: {(result['peak'] - result['base']) / 1e6:.0f} MB over the interpreter"


@pytest.mark.parametrize("mode", ["I;16", "F", "P", "RGBA", "CMYK"])
def test_strips_give_the_same_picture_as_one_piece(tmp_path: Path, mode: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    if mode == "I;16":
        source = Image.fromarray(rng.integers(0, 65535, (301, 517), dtype=np.uint16))
    elif mode == "F":
        source = Image.fromarray(rng.random((301, 517), dtype=np.float32))
    else:
        source = Image.fromarray(rng.integers(0, 255, (301, 517, 4), dtype=np.uint8), "RGBA")
        source = source.convert(mode) if mode != "P" else source.convert("RGB").quantize(200)
    path = tmp_path / ("x.tif" if mode in ("F", "CMYK") else "x.png")
    source.save(path, **({"transparency": 3} if mode == "P" else {}))
    whole = decode.load_rgb(path, 60).image
    monkeypatch.setattr(decode, "_STRIP_PIXELS", 517 * 7)  # strips of 5 or 7 rows
    strips = decode.load_rgb(path, 60).image
    assert strips.size == whole.size == (517 // 5 + 1, 301 // 5 + 1)
    assert np.array_equal(np.asarray(strips), np.asarray(whole))
