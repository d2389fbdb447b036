"""Building small real libraries for tests: generated photos, copies, and broken files."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.imagegen import save, scene


def make_photo_folder(root: Path, count: int = 6, size: tuple[int, int] = (640, 480)) -> list[Path]:
    """``count`` distinct JPEG photos under ``root`` (two sub-folders)."""
    paths = []
    for i in range(count):
        sub = root / ("trip" if i % 2 else "home")
        paths.append(save(scene(i, size), sub / f"photo_{i:02d}.jpg", quality=90))
    return paths


def resized_copy(src: Path, dest: Path, factor: float = 0.5, quality: int = 80) -> Path:
    with Image.open(src) as img:
        small = img.resize((int(img.width * factor), int(img.height * factor)))
        return save(small, dest, quality=quality)
