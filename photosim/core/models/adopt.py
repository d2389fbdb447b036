"""Adopting a model file the user chose: recognise it, or read what it expects, try it once,
then add it to the model store (the one place the app and the CLI take their model from).

A known file (a builtin's pinned sha256, or a model added before) brings its own spec. For an
unknown image model the graph says the input size and layout and the output width; only the
normalisation cannot be read from it, so the user picks one of ``NORMALISATIONS``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from photosim.core.embedder import Embedder
from photosim.core.errors import ModelError
from photosim.core.models.featurecut import cut_to_pooled
from photosim.core.models.runtime import CPU, ORT_ERRORS, ModelSession
from photosim.core.models.spec import POOLED, ModelSpec, Preprocess
from photosim.core.models.store import ModelStore, check_model_file

DEFAULT_SIZE = 224  # for a model whose input size is not fixed in its graph


@dataclass(frozen=True)
class Normalisation:
    key: str
    label: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# (pixel - mean) / std on 0..255 pixels: the three conventions image models are trained with.
NORMALISATIONS = (
    Normalisation("imagenet", "ImageNet mean/std (torchvision, ONNX zoo)",
                  (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    Normalisation("symmetric", "[-1, 1] (TensorFlow, Inception, EfficientNet-Lite)",
                  (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
    Normalisation("unit", "[0, 1] (pixels / 255)", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),
)


@dataclass(frozen=True)
class ModelFacts:
    """What an image model's graph says about itself."""

    input_name: str
    size: int  # square input side in pixels
    layout: str  # "NCHW" or "NHWC"
    output: str  # the output tensor that is the embedding, or POOLED (a classifier's pool)
    width: int  # values per image in the output: the vector length


@dataclass(frozen=True)
class Trial:
    """One run of a model on a sample picture, before it is accepted."""

    dim: int
    seconds_per_photo: float  # the second run, once the session is warm


def normalisation(key: str) -> Normalisation:
    for choice in NORMALISATIONS:
        if choice.key == key:
            return choice
    raise ModelError(f"Unknown normalisation {key!r}: use one of "
                     f"{', '.join(n.key for n in NORMALISATIONS)}.")


def inspect_model(path: Path) -> ModelFacts:
    """Input size and layout from the graph; the output width from one run on zeros (many
    graphs leave it symbolic). A classifier (an output computed from a global pooling, of
    another width) is served by its pooled features, as photosim does for the zoo's models.
    Raises ``ModelError`` for anything that is not an image model with one image input."""
    session = _cpu_session(path, str(path))
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = ", ".join(f"{i.name} {i.shape}" for i in inputs)
        raise ModelError(f"{path} is not an image model photosim can use: it needs one input "
                         f"of 4 dimensions (batch, channels, height, width), it has {shapes}.")
    layout, size = _layout_and_size(path, list(inputs[0].shape))
    zeros = np.zeros((1, 3, size, size) if layout == "NCHW" else (1, size, size, 3), np.float32)
    output = session.get_outputs()[0].name
    width = _output_width(path, session, inputs[0].name, zeros)
    pooled = _pooled_width(path, inputs[0].name, zeros)
    if pooled is not None and pooled != width:
        output, width = POOLED, pooled
    return ModelFacts(inputs[0].name, size, layout, output, width)


def spec_for_unknown(path: Path, facts: ModelFacts, norm: Normalisation) -> ModelSpec:
    """A spec for a model photosim has never seen, from its facts and the user's choice."""
    model_id = _id_from_name(path.stem)
    return ModelSpec(
        id=model_id, name=f"{path.stem} ({facts.width}-d)", dim=facts.width,
        preprocess=Preprocess(size=facts.size, resize_shorter=round(facts.size * 256 / 224),
                              mean=norm.mean, std=norm.std, layout=facts.layout),
        input_name=facts.input_name, output=facts.output,
        description=f"Added from {path.name}; normalisation: {norm.label}.")


def try_model(store: ModelStore, spec: ModelSpec, path: Path) -> Trial:
    """Run the model once (twice, to time it warm) on a sample picture; refuse it when the
    vector has the wrong length or is not a usable direction."""
    check_model_file(path, spec)
    try:
        return _run_on_sample(store, spec, path)
    except ModelError:
        if spec.id not in store.specs() or not store.is_installed(spec.id):
            store.discard_prepared(spec.id)  # leave nothing behind of a model refused
        raise


def _run_on_sample(store: ModelStore, spec: ModelSpec, path: Path) -> Trial:
    runnable = store.prepare_file(spec, path, store.external_digest(path))
    embedder = Embedder(spec, ModelSession(runnable, spec, provider="cpu", threads=1))
    sample = sample_picture()
    first = embedder.embed_images([sample])
    started = time.perf_counter()
    embedder.embed_images([sample])
    elapsed = time.perf_counter() - started
    if first.shape != (1, spec.dim):
        raise ModelError(f"{path} gave {first.shape[1]} values per picture where its spec "
                         f"says {spec.dim}.")
    if not np.all(np.isfinite(first)) or float(np.linalg.norm(first)) < 0.5:
        raise ModelError(f"{path} gave no usable vector for a sample picture (all zeros or "
                         "not a number): it does not look like an image feature model.")
    return Trial(dim=spec.dim, seconds_per_photo=elapsed)


def adopt(store: ModelStore, path: Path, spec: ModelSpec) -> ModelSpec:
    """Try the model, then add it (and its classifier head) to the store and make it the one
    in use. Nothing is stored when the trial fails."""
    try_model(store, spec, path)
    added = store.add_user_model(path, spec)
    store.use(added.id)
    return added


def sample_picture() -> Image.Image:
    """A deterministic colourful picture: gradients and a disc, not a flat field."""
    ys, xs = np.mgrid[0:256, 0:320]
    red = xs * 255 // 319
    green = ys * 255 // 255
    blue = np.where((xs - 160) ** 2 + (ys - 128) ** 2 < 70 ** 2, 230, 40)
    pixels = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _cpu_session(path: Path, model: str | bytes) -> Any:
    try:
        return ort.InferenceSession(model, providers=[CPU])
    except ORT_ERRORS as exc:
        raise ModelError(f"{path} is not an ONNX model onnxruntime can load: {exc}") from exc


def _output_width(path: Path, session: Any, input_name: str, zeros: np.ndarray) -> int:
    try:
        out = session.run([session.get_outputs()[0].name], {input_name: zeros})[0]
    except ORT_ERRORS as exc:
        raise ModelError(f"{path} failed on a picture of shape {zeros.shape}: {exc}") from exc
    return int(np.asarray(out)[0].size)


def _pooled_width(path: Path, input_name: str, zeros: np.ndarray) -> int | None:
    """The length of the graph's last global pooling, or None when it has none."""
    try:
        cut = cut_to_pooled(onnx.load(str(path)))
    except (ModelError, OSError, ValueError):
        return None
    return _output_width(path, _cpu_session(path, cut.SerializeToString()), input_name, zeros)


def _layout_and_size(path: Path, shape: list[object]) -> tuple[str, int]:
    channels_first, channels_last = shape[1] == 3, shape[3] == 3
    if not channels_first and not channels_last:
        raise ModelError(f"{path} does not take RGB pictures: its input shape is {shape}.")
    layout = "NCHW" if channels_first else "NHWC"
    height, width = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    fixed = [d for d in (height, width) if isinstance(d, int) and d > 0]
    if len(fixed) == 2 and height != width:
        raise ModelError(f"{path} takes {height}x{width} pictures; photosim feeds square "
                         "centre crops.")
    return layout, int(fixed[0]) if fixed else DEFAULT_SIZE


def _id_from_name(stem: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "model"
    return cleaned[:64]
