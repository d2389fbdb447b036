"""Pooling variants of the shared EfficientNet-Lite0 for ``retrieval_eval.py --pooling``.

Generalized-mean (GeM) pooling of the last feature map, ``(mean over H, W of x^p)^(1/p)``
(Radenovic, Tolias, Chum, "Fine-tuning CNN image retrieval with no human annotation"): p = 1
is the average pooling the model was trained with (today's vectors), larger p leans towards
the strongest responses of each channel (p -> inf is max pooling). Optionally averaged with the
same pooling of the horizontally mirrored picture.

The model is cut once before its global pooling (found as the app finds it,
core/models/featurecut.py), so one pass gives the map that every p pools in numpy. The model
file is rewritten in memory only; the shared copy is never touched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from photosim.core.models.featurecut import find_pooled

MAP_OUTPUT = "bench_feature_map"
# GeM's floor (the paper's code clamps at 1e-6 too): the map is a ReLU6 output, mostly exact
# zeros, and a floor keeps every power and root of it defined, whatever the runtime.
EPS = 1e-6


@dataclass(frozen=True)
class Pooling:
    """One way to pool the map: GeM power ``p``, with or without flip averaging."""

    p: float
    flip: bool = False

    @property
    def name(self) -> str:
        pooled = "avg" if self.p == 1 else f"gem{self.p:g}"
        return pooled + ("+flip" if self.flip else "")

    @classmethod
    def parse(cls, text: str) -> Pooling:
        """``avg``, ``gem3``, ``gem2.5+flip``, ``avg+flip``."""
        match = re.fullmatch(r"(avg|gem([0-9.]+))(\+flip)?", text.strip())
        if not match:
            raise ValueError(f"not a pooling: {text!r} (avg, gem3, gem3+flip...)")
        return cls(float(match.group(2) or 1.0), bool(match.group(3)))


def feature_map_model(model_path: Path) -> onnx.ModelProto:
    """The model with the input of its last global pooling (N, C, H, W) as its sole output."""
    model = onnx.load(str(model_path))
    pooled = find_pooled(model)
    assert not pooled.quantized, "the benchmark pools float maps only"
    pool_node = model.graph.node[pooled.node_index]
    feature_map = pool_node.input[0]
    del model.graph.node[pooled.node_index:]  # the pooling, and a classifier after it
    model.graph.node.append(helper.make_node("Identity", [feature_map], [MAP_OUTPUT]))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(MAP_OUTPUT, TensorProto.FLOAT,
                                                            None))
    return model


def gem_graph_model(model_path: Path, p: float) -> onnx.ModelProto:
    """The model with GeM (as graph nodes) in place of its average pooling: what the app would
    run. Used to time the pooling's cost inside the runtime, against the model as it is."""
    model = feature_map_model(model_path)
    graph = model.graph
    del graph.node[-1]  # the Identity to MAP_OUTPUT
    feature_map = graph.node[-1].output[0]
    graph.initializer.extend([
        onnx.numpy_helper.from_array(np.array(EPS, np.float32), "gem_eps"),
        onnx.numpy_helper.from_array(np.array(1.0 / p, np.float32), "gem_inv_p"),
    ])
    graph.node.append(helper.make_node("Max", [feature_map, "gem_eps"], ["gem_floored"]))
    graph.node.extend(_power_nodes(graph, "gem_floored", "gem_powered", p))
    graph.node.extend([
        helper.make_node("GlobalAveragePool", ["gem_powered"], ["gem_mean"]),
        helper.make_node("Pow", ["gem_mean", "gem_inv_p"], ["gem_pooled"]),
        helper.make_node("Flatten", ["gem_pooled"], [MAP_OUTPUT], axis=1),
    ])
    return model


def _power_nodes(graph: onnx.GraphProto, source: str, target: str,
                 p: float) -> list[onnx.NodeProto]:
    """``source ** p`` over the whole map. A general Pow measured up to 8 % of the model's
    time on this map, so the powers that products and a square root give are built
    from them; the pooled vector's ``1/p`` power is small and stays a Pow."""
    if p == 2:
        return [helper.make_node("Mul", [source, source], [target])]
    if p == 3:
        return [helper.make_node("Mul", [source, source], ["gem_squared"]),
                helper.make_node("Mul", ["gem_squared", source], [target])]
    if p == 1.5:
        return [helper.make_node("Sqrt", [source], ["gem_root"]),
                helper.make_node("Mul", [source, "gem_root"], [target])]
    graph.initializer.append(onnx.numpy_helper.from_array(np.array(p, np.float32), "gem_p"))
    return [helper.make_node("Pow", [source, "gem_p"], [target])]


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def gem(maps: np.ndarray, p: float) -> np.ndarray:
    """GeM of (N, C, H, W) maps over H, W: (N, C) float64."""
    floored = np.maximum(maps.astype(np.float64), EPS)
    pooled: np.ndarray = (floored ** p).mean(axis=(2, 3)) ** (1.0 / p)
    return pooled


def pooled_features(run_map: Callable[[np.ndarray], np.ndarray], batches: list[np.ndarray],
                    poolings: list[Pooling]) -> dict[Pooling, np.ndarray]:
    """Each pooling's raw (not normalised) features of the preprocessed batches (N, 3, H, W).
    Flip averaging: the mean of the pooled features of the picture and of its mirror."""
    out: dict[Pooling, list[np.ndarray]] = {pooling: [] for pooling in poolings}
    need_flip = any(pooling.flip for pooling in poolings)
    for batch in batches:
        maps = run_map(batch)
        mirrored = run_map(np.ascontiguousarray(batch[..., ::-1])) if need_flip else None
        for pooling in poolings:
            features = gem(maps, pooling.p)
            if pooling.flip:
                assert mirrored is not None
                features = (features + gem(mirrored, pooling.p)) / 2.0
            out[pooling].append(features.astype(np.float32))
    return {pooling: np.vstack(parts) for pooling, parts in out.items()}


def model_cost(model_path: Path, batch: np.ndarray, p: float, rounds: int = 24) -> tuple[
        float, float]:
    """CPU seconds per image of the model as it is and of the GeM graph, measured in
    alternating rounds in one process so that both see the same load."""
    plain = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    with_gem = session(gem_graph_model(model_path, p))
    name = plain.get_inputs()[0].name
    costs: dict[str, list[float]] = {"plain": [], "gem": []}
    for sess in (plain, with_gem):  # warm-up
        sess.run(None, {name: batch})
    for _ in range(rounds):
        for key, sess in (("plain", plain), ("gem", with_gem)):
            began = time.process_time()
            sess.run(None, {name: batch})
            costs[key].append((time.process_time() - began) / len(batch))
    return float(np.median(costs["plain"])), float(np.median(costs["gem"]))
