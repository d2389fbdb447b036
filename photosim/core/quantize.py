"""Static int8 quantisation of an embedding model, calibrated on real photos, and a check of
how far the int8 vectors stray from the fp32 ones.

Why static per-channel QDQ and nothing else: on an AVX-512 laptop-class CPU a static int8
ResNet-50 runs ~3.5x faster than fp32, while dynamic quantisation (activations quantised at run
time) is no faster and sometimes much slower, and fp16 gains nothing. Static quantisation needs
activation ranges, which come from running the fp32 model over calibration photos fed exactly
as the indexer feeds them (same decode, same preprocessing), so the ranges match what the
model will see. Per-channel weight scales keep the accuracy loss small for ordinary convs;
depthwise convs (EfficientNet, MobileNet) have few weights per channel and wide activation
ranges and may still quantise poorly: ``embedding_agreement`` measures that instead of hoping.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError as ProtobufDecodeError
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from photosim.core import decode
from photosim.core.embedder import l2_normalise, to_input
from photosim.core.errors import DecodeError, ModelError
from photosim.core.models.runtime import ORT_ERRORS, ModelSession
from photosim.core.models.spec import ModelSpec

log = logging.getLogger(__name__)

MIN_CALIBRATION_PHOTOS = 2
# Ops whose int8 kernels pay on the CPU. Relu/Clip must be listed too: the quantiser then folds
# them into the conv before them and gives the conv output the activation's range ([0, 6] for
# ReLU6) instead of the raw pre-activation range, which at 8 bits would leave a handful of
# levels for the values that survive the clip (EfficientNet-Lite0: mean cosine 0.70 -> 0.86).
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "Clip", "Relu")
# What onnx and onnxruntime raise on a graph they cannot rewrite or calibrate.
GRAPH_ERRORS: tuple[type[BaseException], ...] = (
    *ORT_ERRORS, onnx.checker.ValidationError, onnx.shape_inference.InferenceError, KeyError,
    AssertionError)


@dataclass(frozen=True)
class Agreement:
    """How closely int8 vectors follow fp32 ones on the same photos (cosine of unit vectors)."""

    photos: int
    mean_cosine: float
    min_cosine: float
    top1_neighbour_agreement: float  # share of photos whose nearest other photo is unchanged


class _PhotoReader(CalibrationDataReader):  # type: ignore[misc]
    """Feeds calibration photos one at a time, preprocessed as the indexer does it."""

    def __init__(self, input_name: str, tensors: Iterator[np.ndarray]) -> None:
        self.input_name = input_name
        self.tensors = tensors

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self.tensors, None)
        return None if tensor is None else {self.input_name: tensor[np.newaxis]}


def photo_tensors(photos: Sequence[Path], spec: ModelSpec) -> Iterator[np.ndarray]:
    """Model inputs for the photos that decode; unreadable ones are skipped with a log line."""
    min_side = max(spec.preprocess.resize_shorter, spec.preprocess.size)
    for path in photos:
        try:
            picture = decode.load_rgb(path, min_side).image
        except DecodeError as exc:
            log.warning("calibration photo skipped: %s", exc)
            continue
        yield to_input(picture, spec.preprocess)


def quantize_model(src: Path, dst: Path, calibration_images: Sequence[Path],
                   spec: ModelSpec, per_channel: bool = True,
                   keep_first_conv_float: bool = True) -> Path:
    """Write a static int8 (QDQ) copy of the fp32 model ``src`` to ``dst`` and return ``dst``.

    ``src`` must be the graph that is run for embeddings (already cut at its pooled features);
    activation ranges come from ``calibration_images`` (real photos, a few dozen to a few
    hundred; more costs time, not accuracy past ~100). ``keep_first_conv_float`` leaves the
    stem conv in fp32: it sees raw pixels through only 3 channels, costs ~3% of a ResNet-50's
    compute, and at 8 bits was the layer that cost EfficientNet-Lite0 most of its agreement
    (mean cosine 0.86 -> 0.94 on held-out photos when kept in float).
    """
    if len(calibration_images) < MIN_CALIBRATION_PHOTOS:
        raise ModelError(f"Quantising needs at least {MIN_CALIBRATION_PHOTOS} calibration "
                         f"photos, got {len(calibration_images)}.")
    input_name = _input_name(src, spec)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="photosim-quant-") as work:
        prepared = _named_nodes(_pre_processed(src, Path(work) / "prepared.onnx"),
                                Path(work) / "named.onnx")
        excluded = _first_conv(prepared) if keep_first_conv_float else []
        reader = _PhotoReader(input_name, photo_tensors(calibration_images, spec))
        try:
            quantize_static(
                str(prepared), str(dst), reader, quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=excluded,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        except GRAPH_ERRORS as exc:
            raise ModelError(f"Cannot quantise {src}: {exc}") from exc
    return dst


def embedding_agreement(fp32: Path, int8: Path, photos: Sequence[Path],
                        spec: ModelSpec) -> Agreement:
    """Compare the two models' unit vectors on held-out ``photos`` (not the calibration set)."""
    tensors = list(photo_tensors(photos, spec))
    if not tensors:
        raise ModelError("None of the held-out photos could be decoded.")
    batch = np.stack(tensors)
    ref = l2_normalise(ModelSession(fp32, spec, "cpu").run(batch))
    got = l2_normalise(ModelSession(int8, spec, "cpu").run(batch))
    cosines = np.sum(ref * got, axis=1)
    return Agreement(len(tensors), float(cosines.mean()), float(cosines.min()),
                     _neighbour_agreement(ref, got))


def _neighbour_agreement(ref: np.ndarray, got: np.ndarray) -> float:
    """Share of rows whose most similar other row is the same under both models."""
    if len(ref) < 3:
        return 1.0
    ref_sims, got_sims = ref @ ref.T, got @ got.T
    np.fill_diagonal(ref_sims, -np.inf)
    np.fill_diagonal(got_sims, -np.inf)
    return float(np.mean(ref_sims.argmax(axis=1) == got_sims.argmax(axis=1)))


def _input_name(path: Path, spec: ModelSpec) -> str:
    if spec.input_name:
        return spec.input_name
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, ProtobufDecodeError, ValueError) as exc:
        raise ModelError(f"Cannot read the model {path}: {exc}") from exc
    initialisers = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initialisers]
    if not inputs:
        raise ModelError(f"The model {path} has no input.")
    return str(inputs[0])


def _named_nodes(path: Path, out: Path) -> Path:
    """The quantiser excludes nodes by name; exporters may leave names empty."""
    model = onnx.load(str(path))
    unnamed = [node for node in model.graph.node if not node.name]
    if not unnamed:
        return path
    taken = {node.name for node in model.graph.node}
    for number, node in enumerate(unnamed):
        node.name = f"photosim_{node.op_type}_{number}"
        while node.name in taken:
            node.name += "_"
        taken.add(node.name)
    onnx.save(model, str(out))
    return out


def _first_conv(path: Path) -> list[str]:
    """The name of the first Conv in graph order (nodes are stored topologically sorted)."""
    model = onnx.load(str(path), load_external_data=False)
    return next(([node.name] for node in model.graph.node if node.op_type == "Conv"), [])


def _pre_processed(src: Path, out: Path) -> Path:
    """Shape inference and graph fusions (Conv+BN etc.) before quantising, as onnxruntime
    recommends; a graph that the pre-pass cannot handle is quantised as it is."""
    try:
        quant_pre_process(str(src), str(out), skip_symbolic_shape=True)  # sympy is not a dependency
    except GRAPH_ERRORS as exc:
        log.warning("quantisation pre-pass skipped for %s: %s", src, exc)
        return src
    return out
