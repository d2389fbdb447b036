"""The pooling variants of benchmarks/retrieval_eval.py --pooling: GeM in numpy and as graph
nodes agree, p = 1 is the model's own average pooling, flip averaging mirrors the width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.pooling import (
    Pooling,
    feature_map_model,
    gem,
    gem_graph_model,
    pooled_features,
    session,
)


def _batch(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(4, 3, 64, 64)).astype(np.float32)


def test_names_parse_back() -> None:
    for text in ("avg", "gem3", "gem1.5+flip", "avg+flip"):
        assert Pooling.parse(text).name == text
    assert Pooling.parse("gem1") == Pooling(1.0)
    with pytest.raises(ValueError, match="not a pooling"):
        Pooling.parse("max")


def test_gem_lies_between_the_mean_and_the_max() -> None:
    maps = np.random.default_rng(0).uniform(0, 6, size=(2, 5, 7, 7))
    mean, peak = maps.mean(axis=(2, 3)), maps.max(axis=(2, 3))
    assert np.allclose(gem(maps, 1), mean)
    previous = mean
    for p in (2, 3, 8):
        pooled = gem(maps, p)
        assert np.all(pooled > previous) and np.all(pooled < peak)
        previous = pooled


def test_average_pooling_of_the_map_is_the_models_own(tiny_embedder: tuple[Path, Path]) -> None:
    model_path, _ = tiny_embedder
    import onnxruntime as ort

    own = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    batch = _batch()
    expected = own.run(None, {"input": batch})[0].reshape(len(batch), -1)
    maps = session(feature_map_model(model_path)).run(None, {"input": batch})[0]
    assert maps.ndim == 4
    assert np.allclose(gem(maps, 1), expected, atol=1e-5)


@pytest.mark.parametrize("p", [1.5, 2.0, 2.5, 3.0])
def test_gem_as_graph_nodes_matches_numpy(tiny_embedder: tuple[Path, Path], p: float) -> None:
    model_path, _ = tiny_embedder
    batch = _batch()
    maps = session(feature_map_model(model_path)).run(None, {"input": batch})[0]
    in_graph = session(gem_graph_model(model_path, p)).run(None, {"input": batch})[0]
    assert in_graph.shape == maps.shape[:2]
    assert np.allclose(in_graph, gem(maps, p), rtol=1e-4, atol=1e-5)


def test_flip_averages_the_picture_and_its_mirror() -> None:
    rng = np.random.default_rng(1)
    batch = rng.uniform(0, 1, size=(2, 3, 4, 6)).astype(np.float32)
    weights = np.linspace(0.0, 1.0, 6, dtype=np.float32)  # a map that is not mirror-symmetric

    def run_map(pictures: np.ndarray) -> np.ndarray:
        weighted: np.ndarray = pictures * weights
        return weighted

    pooled = pooled_features(run_map, [batch], [Pooling(2.0), Pooling(2.0, flip=True)])
    mirrored = gem(run_map(batch[..., ::-1]), 2.0)
    assert np.allclose(pooled[Pooling(2.0)], gem(run_map(batch), 2.0))
    assert np.allclose(pooled[Pooling(2.0, flip=True)],
                       (gem(run_map(batch), 2.0) + mirrored) / 2.0, atol=1e-6)
    assert not np.allclose(pooled[Pooling(2.0)], pooled[Pooling(2.0, flip=True)])
