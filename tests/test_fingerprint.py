"""Fingerprints: stable under copies, different for different pictures, versioned bytes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from photosim.core.fingerprint import FINGERPRINT_VERSION, Fingerprint, fingerprint, hamming
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
