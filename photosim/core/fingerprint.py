"""Compact pixel fingerprints that tell copies from look-alikes where a CNN vector cannot.

A CNN embedding says "same kind of scene"; it cannot tell a resized copy from the next shot of
a burst. The fingerprint keeps what can: two 64-bit perceptual hashes (DCT and difference), the
DCT hash of the mirrored picture (flipped copies), a small grayscale grid that keeps the aspect
ratio (region-level comparison and crop containment), a coarse colour grid (grayscale edits),
and a sharpness score (keep-best). It is computed once per photo from the small decoded image
and stored in the catalog, so duplicate grouping never decodes a file again.

Indexing pays for it on every photo, so the costly resampling is done once: the hashes come
from a 64-pixel box reduction of the picture already resampled for the sharpness score, not
from Lanczos filters over every decoded pixel. The grey and colour grids, which the duplicate
finder's pixel comparisons read cell by cell, are still box averages of the decoded picture
itself. (Version 1 took ~3.5 ms a photo, a sixth of decoding and inference for a 12-MP JPEG;
this takes ~1.5 ms, with the same duplicate decisions on benchmarks/dedup_eval.py.)

Serialised size is at most ~950 bytes. The first byte is the format version; a reader refuses
other versions with ``ValueError`` so the caller can recompute instead of misreading.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Raised whenever the stored values change: a reader refuses other versions, and indexing
# computes a photo's fingerprint again when its stored one is of another version.
FINGERPRINT_VERSION: int = 2

GRID_LONG_SIDE = 28  # grayscale grid: longer side in cells, shorter side follows the aspect
COLOUR_GRID = 8  # colour grid is COLOUR_GRID × COLOUR_GRID × RGB
_SHARPNESS_SIDE = 256  # sharpness is measured at a fixed scale so copies compare fairly
_SMALL_SIDE = 64  # shorter side of the picture the hashes come from
_HEADER = struct.Struct("<BQQQffBB")  # version, phash, dhash, mirror phash, sharp, aspect, gh, gw

UInt8Array = NDArray[np.uint8]


@dataclass(frozen=True)
class Fingerprint:
    """What the duplicate finder needs to know about a photo's pixels, in under 1 KB."""

    phash: int  # 64-bit DCT perceptual hash
    dhash: int  # 64-bit horizontal difference hash
    phash_mirror: int  # phash of the left-right mirrored picture, to catch flipped copies
    sharpness: float  # variance of the Laplacian at a fixed scale; higher is sharper
    aspect: float  # width / height of the oriented picture
    grid: UInt8Array = field(compare=False, repr=False)  # grayscale, shape (gh, gw)
    colour: UInt8Array = field(compare=False, repr=False)  # RGB means, (8, 8, 3)

    def to_bytes(self) -> bytes:
        gh, gw = self.grid.shape
        header = _HEADER.pack(FINGERPRINT_VERSION, self.phash, self.dhash, self.phash_mirror,
                              self.sharpness, self.aspect, gh, gw)
        return header + self.grid.tobytes() + self.colour.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Parse :meth:`to_bytes` output; ``ValueError`` for another version or bad data."""
        if not data or data[0] != FINGERPRINT_VERSION:
            found = data[0] if data else "none"
            raise ValueError(f"fingerprint version {found} is not {FINGERPRINT_VERSION}")
        if len(data) < _HEADER.size:
            raise ValueError("fingerprint data is truncated")
        _, phash, dhash, mirror, sharp, aspect, gh, gw = _HEADER.unpack_from(data)
        colour_len = COLOUR_GRID * COLOUR_GRID * 3
        if len(data) != _HEADER.size + gh * gw + colour_len:
            raise ValueError("fingerprint data has the wrong length")
        body = np.frombuffer(data, np.uint8, offset=_HEADER.size)
        grid = body[: gh * gw].reshape(gh, gw).copy()
        colour = body[gh * gw:].reshape(COLOUR_GRID, COLOUR_GRID, 3).copy()
        return cls(phash, dhash, mirror, sharp, aspect, grid, colour)


def fingerprint(image: Image.Image) -> Fingerprint:
    """Fingerprint an RGB picture that is already upright (EXIF applied), shorter side ≥ ~256."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    gray = rgb.convert("L")
    at_scale = _at_shorter_side(gray, _SHARPNESS_SIDE)
    small = at_scale.reduce(max(1, min(at_scale.size) // _SMALL_SIDE))
    phash, mirror = _phash_pair(small)
    return Fingerprint(
        phash=phash,
        dhash=_dhash(small),
        phash_mirror=mirror,
        sharpness=_as_stored(_sharpness(at_scale)),
        aspect=_as_stored(rgb.width / max(rgb.height, 1)),
        grid=_gray_grid(gray),
        colour=_colour_grid(rgb),
    )


def is_current(data: bytes | None) -> bool:
    """Whether stored fingerprint bytes are of this version (else they are computed again)."""
    return data is not None and len(data) > 0 and data[0] == FINGERPRINT_VERSION


def _as_stored(value: float) -> float:
    """The value as float32 keeps it, so a fingerprint equals its own round trip."""
    return float(np.float32(value))


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return (a ^ b).bit_count()


def _bits_to_int(bits: NDArray[np.bool_]) -> int:
    """The bits, first one most significant, as an integer (packed by numpy, not a loop)."""
    return int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big")


def _dct_basis(size: int, keep: int) -> NDArray[np.float64]:
    """The first ``keep`` rows of the orthonormal DCT-II matrix of ``size`` points."""
    k = np.arange(keep)[:, np.newaxis]
    n = np.arange(size)[np.newaxis, :]
    basis: NDArray[np.float64] = np.sqrt(2 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    basis[0] /= np.sqrt(2)
    return basis


# Only the 8x8 lowest frequencies of the 32x32 transform are kept: two small products give
# them, in a few microseconds (scipy's dctn computed all 1024, in four times as long).
_DCT_LOW = _dct_basis(32, 8)


def _phash_pair(gray: Image.Image) -> tuple[int, int]:
    """DCT hash of the picture and of its mirror image.

    Mirroring a row reverses it, which multiplies DCT-II coefficient k by (-1)^k; so the mirror's
    hash comes from the same transform with odd horizontal frequencies negated.
    """
    pixels = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = _DCT_LOW @ pixels @ _DCT_LOW.T
    sign = np.where(np.arange(8) % 2 == 1, -1.0, 1.0)[np.newaxis, :]
    mirrored = low * sign
    return _median_bits(low), _median_bits(mirrored)


def _median_bits(coefficients: NDArray[np.float64]) -> int:
    # The DC term only measures brightness; leaving it out of the median keeps the split balanced.
    median = float(np.median(coefficients.ravel()[1:]))
    return _bits_to_int(coefficients > median)


def _dhash(gray: Image.Image) -> int:
    pixels = np.asarray(gray.resize((9, 8), Image.Resampling.LANCZOS), np.int16)
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def _at_shorter_side(gray: Image.Image, side: int) -> Image.Image:
    """``gray`` resampled to ``side`` pixels on its shorter side: area averages when shrinking
    (a third cheaper than bilinear), bilinear when enlarging (boxes would make blocks)."""
    scale = side / max(min(gray.size), 1)
    size = (max(3, round(gray.width * scale)), max(3, round(gray.height * scale)))
    shrink = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return gray.resize(size, shrink)


def _sharpness(at_scale: Image.Image) -> float:
    """Variance of the Laplacian of a grey picture already at the fixed sharpness scale."""
    p = np.asarray(at_scale, np.float32)
    laplacian = p[1:-1, :-2] + p[1:-1, 2:] + p[:-2, 1:-1] + p[2:, 1:-1] - 4 * p[1:-1, 1:-1]
    return float(laplacian.var())


def grid_shape(aspect: float, long_side: int = GRID_LONG_SIDE) -> tuple[int, int]:
    """(rows, cols) of a grid with ``long_side`` cells on the longer side, keeping ``aspect``."""
    if aspect >= 1:
        return max(4, round(long_side / aspect)), long_side
    return long_side, max(4, round(long_side * aspect))


def _gray_grid(gray: Image.Image) -> UInt8Array:
    rows, cols = grid_shape(gray.width / max(gray.height, 1))
    return np.asarray(gray.resize((cols, rows), Image.Resampling.BOX), np.uint8).copy()


def _colour_grid(rgb: Image.Image) -> UInt8Array:
    small = rgb.resize((COLOUR_GRID, COLOUR_GRID), Image.Resampling.BOX)
    return np.asarray(small, np.uint8).copy()
