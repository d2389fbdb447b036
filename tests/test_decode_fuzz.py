"""Fuzz the decode path with mutated real image bytes: no crash, no hang, only DecodeErrors.

Each example starts from a small valid file in one of the supported formats and damages it
(flipped bytes, cut short, junk spliced in, header fields overwritten). Whatever comes out,
``read_info``, ``load_rgb`` and ``make_thumbnail`` must either succeed with RGB pixels or raise
DecodeError with a non-empty reason. The example budget keeps the whole run near 20 s.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photosim.core.decode import load_rgb, make_thumbnail, read_info, register_plugins
from photosim.core.errors import DecodeError
from tests.imagegen import scene

FORMATS = {
    "jpg": {"format": "JPEG", "quality": 80},
    "progressive.jpg": {"format": "JPEG", "progressive": True},
    "png": {"format": "PNG"},
    "gif": {"format": "GIF"},
    "webp": {"format": "WEBP", "quality": 70},
    "tif": {"format": "TIFF", "compression": "tiff_lzw"},
    "bmp": {"format": "BMP"},
    "heic": {"format": "HEIF", "quality": 50},
}


def encode(kind: str) -> bytes:
    register_plugins()
    picture = scene(sorted(FORMATS).index(kind), (48, 32))
    options = dict(FORMATS[kind])
    if kind == "jpg":  # carry EXIF so its parser gets fuzzed too
        exif = Image.Exif()
        exif[0x0112] = 6
        exif[0x010F] = "Fuzz"
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    picture.save(buffer, **options)
    return buffer.getvalue()


SEEDS = {kind: encode(kind) for kind in FORMATS}
_counter = itertools.count()


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[kind])
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "splice", "overwrite_header", "repeat"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[at:]
        elif action == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif action == "overwrite_header":  # sizes, counts and offsets live near the start
            spot = draw(st.integers(0, min(len(data), 64) - 1))
            junk = draw(st.binary(min_size=1, max_size=4))
            data[spot:spot + len(junk)] = junk
        else:
            end = min(len(data), at + draw(st.integers(1, 64)))
            data[at:at] = data[at:end] * draw(st.integers(1, 8))
    return kind, bytes(data)


def check_outcome(call: object) -> None:
    """Run ``call``; success must be an RGB image, failure a DecodeError that says something."""
    assert callable(call)
    try:
        result = call()
    except DecodeError as error:
        assert str(error).strip(), "a DecodeError without a reason"
        return
    image = getattr(result, "image", result)
    if isinstance(image, Image.Image):
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_seeds_decode(fuzz_dir: Path) -> None:
    """The undamaged seeds must decode, or the fuzzing below proves nothing."""
    for kind, data in SEEDS.items():
        path = fuzz_dir / f"seed.{kind}"
        path.write_bytes(data)
        assert load_rgb(path, 16).image.mode == "RGB", kind


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow: corrupt EXIF
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # 90-179 MP headers
@settings(max_examples=3500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damaged=damaged_files())
def test_damaged_files_only_ever_raise_decode_errors(fuzz_dir: Path,
                                                     damaged: tuple[str, bytes]) -> None:
    kind, data = damaged
    path = fuzz_dir / f"case{next(_counter)}.{kind}"
    path.write_bytes(data)
    try:
        check_outcome(lambda: read_info(path))
        check_outcome(lambda: load_rgb(path, 24))
        check_outcome(lambda: make_thumbnail(path, 20))
    finally:
        path.unlink()
