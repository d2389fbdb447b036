"""Fingerprints: stable under copies, different for different pictures, versioned bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from photosim.core.fingerprint import (
    FINGERPRINT_VERSION,
    Fingerprint,
    fingerprint,
    hamming,
    is_current,
)
from tests.imagegen import scene


def _reencoded(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_bytes_round_trip_and_size() -> None:
    fp = fingerprint(scene(1))
    data = fp.to_bytes()
    back = Fingerprint.from_bytes(data)
    assert back == fp
    assert (back.grid == fp.grid).all() and (back.colour == fp.colour).all()
    assert len(data) <= 1100
    assert data[0] == FINGERPRINT_VERSION


def test_unknown_version_and_damaged_bytes_are_refused() -> None:
    data = bytearray(fingerprint(scene(1)).to_bytes())
    data[0] = FINGERPRINT_VERSION + 1
    with pytest.raises(ValueError, match="version"):
        Fingerprint.from_bytes(bytes(data))
    with pytest.raises(ValueError):
        Fingerprint.from_bytes(fingerprint(scene(1)).to_bytes()[:-5])
    with pytest.raises(ValueError):
        Fingerprint.from_bytes(b"")


def test_hashes_survive_resize_and_reencoding_but_differ_between_pictures() -> None:
    img = scene(3)
    fp = fingerprint(img)
    copy = fingerprint(_reencoded(img.resize((320, 240), Image.Resampling.LANCZOS), 60))
    other = fingerprint(scene(4))
    assert hamming(fp.phash, copy.phash) <= 4
    assert hamming(fp.dhash, copy.dhash) <= 6
    assert hamming(fp.phash, other.phash) > 16


def test_mirror_hash_matches_a_flipped_copy() -> None:
    img = scene(5)
    flipped = fingerprint(ImageOps.mirror(img))
    fp = fingerprint(img)
    assert hamming(fp.phash_mirror, flipped.phash) <= 4
    assert hamming(fp.phash, flipped.phash) > hamming(fp.phash_mirror, flipped.phash)


def test_grid_keeps_aspect_and_blur_lowers_sharpness() -> None:
    from PIL import ImageFilter

    img = scene(6, (800, 400))
    fp = fingerprint(img)
    assert fp.grid.shape == (14, 28)
    assert fp.aspect == pytest.approx(2.0)
    assert fingerprint(img.filter(ImageFilter.GaussianBlur(3))).sharpness < fp.sharpness / 2
    assert fingerprint(img.convert("L").convert("RGB")).grid.shape == (14, 28)


def test_hashes_and_grids_agree_with_the_full_picture() -> None:
    """The fingerprint works from a reduced copy of the picture; its hashes and grids must say
    what the full picture says (Lanczos and box averages straight from every pixel)."""
    for seed, size in ((7, (1024, 768)), (8, (640, 480)), (9, (500, 1200))):
        img = scene(seed, size)
        fp = fingerprint(img)
        gray = img.convert("L")
        full = fingerprint_v1_hashes(gray)
        assert hamming(fp.phash, full[0]) <= 4 and hamming(fp.dhash, full[1]) <= 6
        rows, cols = fp.grid.shape
        grid = np.asarray(gray.resize((cols, rows), Image.Resampling.BOX), np.int16)
        assert np.abs(fp.grid.astype(np.int16) - grid).max() <= 3
        colour = np.asarray(img.resize((8, 8), Image.Resampling.BOX), np.int16)
        assert np.abs(fp.colour.astype(np.int16) - colour).max() <= 3


def fingerprint_v1_hashes(gray: Image.Image) -> tuple[int, int]:
    """DCT and difference hashes computed from the full picture, as version 1 did."""
    pixels = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    n = np.arange(32)
    basis = np.cos(np.pi * (2 * n[np.newaxis, :] + 1) * n[:8, np.newaxis] / 64)
    low = basis @ pixels @ basis.T  # unnormalised DCT-II: the same signs and order
    low[0, :] /= np.sqrt(2)
    low[:, 0] /= np.sqrt(2)
    bits = (low > np.median(low.ravel()[1:])).ravel()
    d = np.asarray(gray.resize((9, 8), Image.Resampling.LANCZOS), np.int16)
    return (int("".join("1" if b else "0" for b in bits), 2),
            int("".join("1" if b else "0" for b in (d[:, 1:] > d[:, :-1]).ravel()), 2))


def test_stored_bytes_of_another_version_are_not_current() -> None:
    data = fingerprint(scene(1)).to_bytes()
    assert is_current(data)
    assert not is_current(bytes([FINGERPRINT_VERSION - 1]) + data[1:])
    assert not is_current(None) and not is_current(b"")
