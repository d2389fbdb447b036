"""A file that is huge but nearly empty (sparse) is refused fast, and Ctrl-C is not held up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from photosim.core import decode, scanner
from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.errors import DecodeError
from photosim.core.library import Library
from tests.library_fixtures import make_photo_folder

JFIF_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _sparse_jpeg(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        handle.write(JFIF_START)
        handle.truncate(size)
    return path


def test_a_sparse_file_with_a_jpeg_header_is_refused_in_milliseconds(tmp_path: Path) -> None:
    big = _sparse_jpeg(tmp_path / "huge.jpg", 200_000_000)  # Pillow: ~17 s, byte by byte
    started = time.perf_counter()
    with pytest.raises(DecodeError, match="corrupt JPEG"):
        decode.load_rgb(big, 256)
    assert time.perf_counter() - started < 1.0


def test_real_jpegs_with_padding_still_decode(tmp_path: Path) -> None:
    [photo] = make_photo_folder(tmp_path / "pics", count=1)
    data = photo.read_bytes()
    padded = tmp_path / "padded.jpg"  # fill bytes and a few stray bytes before a marker
    first_segment_end = 4 + int.from_bytes(data[4:6], "big")
    padded.write_bytes(data[:first_segment_end] + b"junk" + b"\xff\xff"
                       + data[first_segment_end:])
    assert decode.load_rgb(padded, 64).image.size == decode.load_rgb(photo, 64).image.size


def test_hashing_stops_between_chunks_when_cancelled(tmp_path: Path) -> None:
    big = _sparse_jpeg(tmp_path / "huge.jpg", 3_000_000_000)
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        scanner.content_hash(big, token)
    assert time.perf_counter() - started < 2.0


def test_cancelling_an_index_run_on_a_3_gb_file_returns_promptly(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    make_photo_folder(tmp_path / "pics", count=2)
    _sparse_jpeg(tmp_path / "pics" / "zz_huge.jpg", 3_000_000_000)
    model, spec = tiny_model
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        token = CancelToken()
        threading.Timer(0.5, token.cancel).start()
        started = time.perf_counter()
        report = lib.index([tmp_path / "pics"], cancel=token)
        assert time.perf_counter() - started < 4.0
        assert report.cancelled
        huge = lib.photo(tmp_path / "pics" / "zz_huge.jpg")
        assert huge is None or huge.error is None or "cancel" not in huge.error
