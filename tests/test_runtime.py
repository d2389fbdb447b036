"""Provider choice and fallback, with the providers this onnxruntime really reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from photosim.core.errors import ModelError, ProviderError
from photosim.core.models import runtime
from photosim.core.models.runtime import (
    CPU,
    CUDA,
    DIRECTML,
    ModelSession,
    available_providers,
    choose_providers,
)
from photosim.core.models.spec import ModelSpec
from tests.modelgen import TINY_DIM, TINY_SIZE


def _spec(spec_json: Path, **changes: Any) -> ModelSpec:
    data = json.loads(spec_json.read_text())
    data.update(changes)
    return ModelSpec.from_dict(data)


def _batch(n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 3, TINY_SIZE, TINY_SIZE)).astype(
        np.float32)


def test_available_providers_are_onnxruntimes() -> None:
    assert available_providers() == ort.get_available_providers()
    assert CPU in available_providers()


def test_choice_with_the_real_providers() -> None:
    real = available_providers()
    chosen = choose_providers(real, None)
    assert chosen[-1] == CPU
    assert all(p in real for p in chosen)
    if CUDA not in real and DIRECTML not in real:
        assert chosen == [CPU]  # e.g. Azure is listed but never picked
    assert choose_providers(real, "cpu") == [CPU]


@pytest.mark.parametrize(("available", "preferred", "expected"), [
    ([CUDA, CPU], None, [CUDA, CPU]),
    ([DIRECTML, CPU], None, [DIRECTML, CPU]),
    ([DIRECTML, CUDA, CPU], None, [CUDA, CPU]),
    ([CUDA, DIRECTML, CPU], "directml", [DIRECTML, CPU]),
    ([CUDA, CPU], "cpu", [CPU]),
    ([CUDA, CPU], "CPUExecutionProvider", [CPU]),
    ([CPU], "cuda", [CPU]),
    (["AzureExecutionProvider", CPU], None, [CPU]),
])
def test_choice_order(available: list[str], preferred: str | None,
                      expected: list[str]) -> None:
    assert choose_providers(available, preferred) == expected


def test_session_reports_the_provider_it_actually_uses(tiny_embedder: tuple[Path, Path]) -> None:
    model, spec_json = tiny_embedder
    session = ModelSession(model, _spec(spec_json), threads=1)
    assert session.providers == session._session.get_providers()
    assert session.provider == session.providers[0]
    assert session.input_name == "input"
    out = session.run(_batch(3))
    assert out.shape == (3, TINY_DIM) and out.dtype == np.float32


def test_cuda_requested_on_a_build_without_it_falls_back_and_says_so(
        tiny_embedder: tuple[Path, Path]) -> None:
    if CUDA in available_providers():
        pytest.skip("this onnxruntime build offers CUDA")
    model, spec_json = tiny_embedder
    session = ModelSession(model, _spec(spec_json), provider="cuda")
    assert session.provider == CPU
    assert session.fallback_reason is not None and "cuda" in session.fallback_reason
    assert "photosim[gpu]" in session.fallback_reason
    assert session.run(_batch()).shape == (2, TINY_DIM)


def test_preferred_provider_that_fails_to_start_falls_back_to_cpu(
        tiny_embedder: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The build claims CUDA; creating a CUDA session raises as with a broken driver. The
    real CPU session then runs and the reason is recorded."""
    model, spec_json = tiny_embedder
    monkeypatch.setattr(runtime, "available_providers", lambda: [CUDA, CPU])
    attempts: list[list[str]] = []

    def failing_cuda(path: str, options: Any, providers: list[str]) -> Any:
        attempts.append(providers)
        if CUDA in providers:
            raise ort.capi.onnxruntime_pybind11_state.EPFail("CUDA driver version is too old")
        return ort.InferenceSession(path, sess_options=options, providers=providers)

    monkeypatch.setattr(ModelSession, "session_factory", staticmethod(failing_cuda))
    session = ModelSession(model, _spec(spec_json))
    assert attempts == [[CUDA, CPU], [CPU]]
    assert session.providers == [CPU]
    assert session.fallback_reason is not None and "driver version" in session.fallback_reason
    assert session.run(_batch()).shape == (2, TINY_DIM)


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_silent_gpu_fallback_is_detected(tiny_embedder: tuple[Path, Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime-gpu without CUDA creates the session on the CPU without an error."""
    model, spec_json = tiny_embedder
    monkeypatch.setattr(runtime, "available_providers", lambda: [CUDA, CPU])
    # The real onnxruntime here has no CUDA, so it quietly runs on the CPU, as -gpu would.
    session = ModelSession(model, _spec(spec_json))
    assert session.providers == [CPU]
    assert session.fallback_reason is not None and "could not be used" in session.fallback_reason


def test_unknown_provider_is_refused(tiny_embedder: tuple[Path, Path]) -> None:
    model, spec_json = tiny_embedder
    with pytest.raises(ProviderError, match="Unknown execution provider"):
        ModelSession(model, _spec(spec_json), provider="warp-drive")


def test_truncated_file_is_not_an_onnx_model(tiny_embedder: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    model, spec_json = tiny_embedder
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(model.read_bytes()[:200])
    with pytest.raises(ModelError, match="not an ONNX model or is truncated"):
        ModelSession(broken, _spec(spec_json))
    text = tmp_path / "text.onnx"
    text.write_text("hello, I am not a model\n" * 10)
    with pytest.raises(ModelError, match="not an ONNX model"):
        ModelSession(text, _spec(spec_json))


def test_named_output_and_input_are_checked(tiny_model: tuple[Path, Path]) -> None:
    model, spec_json = tiny_model
    session = ModelSession(model, _spec(spec_json, output="logits"))
    assert session.output_name == "logits"
    assert session.run(_batch()).shape == (2, 10)
    with pytest.raises(ModelError, match="no input named"):
        ModelSession(model, _spec(spec_json, input_name="pixels"))
