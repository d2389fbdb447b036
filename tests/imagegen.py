"""Real image files made by the tests: photos-like pictures, copies, and broken files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A distinct, photo-like RGB picture: smooth colour fields plus shapes and texture."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.28)
        img[..., c] = 127 + 100 * np.sin(fx * xx / w * 6.28 + ph) * np.cos(fy * yy / h * 6.28)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.25) * min(w, h)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def with_exif_orientation(img: Image.Image, path: Path, orientation: int) -> Path:
    """Save ``img`` stored rotated so that a viewer honouring EXIF shows it as ``img``."""
    transpose = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                 8: Image.Transpose.ROTATE_270}[orientation]
    stored = img.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(stored, path, exif=exif.tobytes(), quality=92)


def truncated_jpeg(img: Image.Image, path: Path, keep: float = 0.5) -> Path:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * keep)])
    return path
