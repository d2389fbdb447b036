"""Pictures in, L2-normalised vectors out, as a model's spec prescribes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from photosim.core.models.spec import ModelSpec, Preprocess

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


class FeatureRunner(Protocol):
    """What the embedder needs from an inference session (``models.runtime.ModelSession``)."""

    def run(self, batch: np.ndarray) -> np.ndarray: ...


def resize_and_crop(image: Image.Image, pre: Preprocess) -> Image.Image:
    """Shorter side → ``resize_shorter``, then a centred ``size`` x ``size`` crop.

    Only the cropped square is resampled (Pillow's ``box``): the same source window and filter
    as resizing the whole picture and cropping afterwards, without filtering the columns or
    rows the crop throws away (a quarter of the work for a 4:3 picture)."""
    w, h = image.size
    scale = pre.resize_shorter / min(w, h)
    new_w, new_h = max(pre.size, round(w * scale)), max(pre.size, round(h * scale))
    left, top = (new_w - pre.size) // 2, (new_h - pre.size) // 2
    x_step, y_step = w / new_w, h / new_h  # source pixels per resized pixel
    box = (left * x_step, top * y_step, (left + pre.size) * x_step, (top + pre.size) * y_step)
    return image.resize((pre.size, pre.size),
                        _RESAMPLE.get(pre.interpolation, Image.Resampling.BILINEAR), box=box)


def to_input(image: Image.Image, pre: Preprocess) -> np.ndarray:
    """An RGB picture → one normalised float32 tensor (C,H,W) or (H,W,C) without batch axis."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    pixels = np.asarray(resize_and_crop(rgb, pre))
    if pre.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
        shape: tuple[int, ...] = (3, 1, 1)
    else:
        shape = (1, 1, 3)
    mean = np.asarray(pre.mean, np.float32).reshape(shape)
    std = np.asarray(pre.std, np.float32).reshape(shape)
    scaled: np.ndarray = np.subtract(pixels, mean, dtype=np.float32, order="C")  # final layout
    np.divide(scaled, std, out=scaled)
    return scaled


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return normalised


class Embedder:
    """Turns pictures (or preprocessed tensors) into unit vectors with one model."""

    def __init__(self, spec: ModelSpec, runner: FeatureRunner) -> None:
        self.spec = spec
        self.runner = runner

    def prepare(self, image: Image.Image) -> np.ndarray:
        """CPU-side preprocessing; safe to call from decode worker threads."""
        return to_input(image, self.spec.preprocess)

    def embed_prepared(self, tensors: Sequence[np.ndarray]) -> np.ndarray:
        return self.embed_with_norms(tensors)[0]

    def embed_with_norms(self, tensors: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors and the length each had: a classifier head needs the raw features,
        which are the unit vector times its length."""
        if not tensors:
            return np.zeros((0, self.spec.dim), np.float32), np.zeros(0, np.float32)
        raw = np.asarray(self.runner.run(np.stack(tensors)), np.float32).reshape(len(tensors), -1)
        norms = np.linalg.norm(raw, axis=1).astype(np.float32)
        return l2_normalise(raw), norms

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_prepared([self.prepare(img) for img in images])
