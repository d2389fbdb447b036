"""Real short clips for tests, encoded with PyAV from real photos (skimage's samples)."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
from PIL import Image

FPS = 10


def sample_photos(size: tuple[int, int] = (320, 240)) -> dict[str, Image.Image]:
    from skimage import data

    return {name: Image.fromarray(getattr(data, name)()).convert("RGB").resize(size)
            for name in ("astronaut", "coffee", "chelsea", "rocket")}


def encode(path: Path, scenes: list[tuple[Image.Image, float]], codec: str = "mpeg4",
           size: tuple[int, int] | None = None, fps: int = FPS) -> Path:
    """A clip showing each picture for its number of seconds, at ``size`` (default: the first
    picture's)."""
    width, height = size or scenes[0][0].size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image, seconds in scenes:
            frame = av.VideoFrame.from_image(image.resize((width, height)))
            for _ in range(round(seconds * fps)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def mark_rotated_clockwise(path: Path) -> Path:
    """Give an mp4's video track the display matrix a phone writes for a portrait clip whose
    pixels are stored on their side (players turn them 90 degrees clockwise)."""
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd") - 4
    version = data[box + 8]
    matrix = box + 12 + (20 if version == 0 else 32) + 16
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    return path


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference (0..255) of two pictures of the same size."""
    return float(np.abs(np.asarray(a.convert("RGB"), np.float32)
                        - np.asarray(b.convert("RGB"), np.float32)).mean())
