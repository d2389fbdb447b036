"""ONNX inference sessions: pick an execution provider, fall back to the CPU, say which ran.

onnxruntime, onnxruntime-gpu and onnxruntime-directml all install the module ``onnxruntime``
(only one may be installed). A GPU build on a machine without a working GPU creates the session
anyway and quietly runs it on the CPU, so the provider we report is read back from the session,
never assumed from what we asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from photosim.core.errors import ModelError, ProviderError
from photosim.core.models.spec import POOLED, ModelSpec

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DIRECTML = "DmlExecutionProvider"
PROVIDER_ALIASES = {"cuda": CUDA, "directml": DIRECTML, "cpu": CPU}
PRIORITY = (CUDA, DIRECTML, CPU)  # best first when nothing is configured
GPU_PROVIDERS = frozenset({CUDA, DIRECTML})
GPU_INSTALL_HINT = ("For NVIDIA GPUs install the CUDA build instead of the CPU one "
                    "(pip uninstall onnxruntime; pip install 'photosim[gpu]'); on Windows "
                    "use 'photosim[directml]'.")

# onnxruntime raises its own exception classes (none derives from RuntimeError).
ORT_ERRORS: tuple[type[BaseException], ...] = (
    ort_state.Fail, ort_state.InvalidArgument, ort_state.NoSuchFile, ort_state.NoModel,
    ort_state.EngineError, ort_state.RuntimeException, ort_state.InvalidProtobuf,
    ort_state.InvalidGraph, ort_state.EPFail, ort_state.NotImplemented, RuntimeError,
    ValueError,
)

SessionFactory = Callable[[str, Any, list[str]], Any]


def available_providers() -> list[str]:
    """What this onnxruntime build offers, e.g. ``['CUDAExecutionProvider', 'CPU...']``."""
    return list(ort.get_available_providers())


def gpu_available(available: Sequence[str] | None = None) -> bool:
    """Whether the installed build offers a GPU provider (not whether a GPU works)."""
    offered = available_providers() if available is None else available
    return any(p in GPU_PROVIDERS for p in offered)


def provider_name(alias: str) -> str:
    """``cuda`` -> ``CUDAExecutionProvider``; a full provider name passes through."""
    return PROVIDER_ALIASES.get(alias.strip().lower(), alias.strip())


def short_name(provider: str) -> str:
    """``CUDAExecutionProvider`` -> ``cuda`` for display; unknown names pass through."""
    for alias, full in PROVIDER_ALIASES.items():
        if full == provider:
            return alias
    return provider.removesuffix("ExecutionProvider").lower()


def choose_providers(available: Sequence[str], preferred: str | None) -> list[str]:
    """Providers to ask for, best first, CPU always last as the safety net.

    A configured provider wins when the build offers it; otherwise CUDA > DirectML > CPU.
    Providers such as Azure that onnxruntime lists but that do not run local models are
    never chosen.
    """
    wanted = provider_name(preferred) if preferred else None
    if wanted == CPU:
        return [CPU]
    if wanted is not None and wanted in available:
        return [wanted, CPU]
    best = next((p for p in PRIORITY if p in available and p != CPU), None)
    return [best, CPU] if best and wanted is None else [CPU]


def _default_session_factory(path: str, options: Any, providers: list[str]) -> Any:
    return ort.InferenceSession(path, sess_options=options, providers=providers)


class ModelSession:
    """One ONNX model loaded for inference; ``run`` turns a batch into raw feature rows."""

    # Tests swap this to make a provider's start-up fail; production never touches it.
    session_factory: SessionFactory = staticmethod(_default_session_factory)

    def __init__(self, path: Path, spec: ModelSpec, provider: str | None = None,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self.spec = spec
        self.threads = threads
        self.fallback_reason: str | None = None
        self._session = self._start(provider)
        self.providers: list[str] = list(self._session.get_providers())
        self.provider: str = self.providers[0]
        self._note_silent_fallback(provider)
        self.input_name = self._input_name()
        self.output_name = self._output_name()
        log.info("model %s runs on %s", spec.id, self.provider)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """A float32 batch in the spec's layout -> float32 ``(N, dim)`` features."""
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        try:
            (out,) = self._session.run([self.output_name], feed)
        except ORT_ERRORS as exc:
            raise ModelError(f"The model {self.spec.id} failed on a batch of shape "
                             f"{tuple(batch.shape)}: {exc}") from exc
        features: np.ndarray = np.asarray(out, dtype=np.float32).reshape(len(batch), -1)
        return features

    # -- start-up ------------------------------------------------------------------------
    def _start(self, preferred: str | None) -> Any:
        if not self.path.is_file():
            raise ModelError(f"The model file {self.path} does not exist.")
        available = available_providers()
        providers = choose_providers(available, preferred)
        self._note_unavailable(preferred, available, providers)
        try:
            return self._create(providers)
        except ORT_ERRORS as exc:
            self._raise_if_not_onnx(exc)
            if providers == [CPU]:
                raise ModelError(f"Cannot load the model {self.path}: {exc}") from exc
            self.fallback_reason = (f"{short_name(providers[0])} failed to start ({exc}); "
                                    "running on the CPU instead.")
            log.warning("model %s: %s", self.spec.id, self.fallback_reason)
        try:
            return self._create([CPU])
        except ORT_ERRORS as exc:
            raise ModelError(f"Cannot load the model {self.path} even on the CPU: {exc}") from exc

    def _create(self, providers: list[str]) -> Any:
        return type(self).session_factory(str(self.path), self._options(providers), providers)

    def _options(self, providers: list[str]) -> Any:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads would otherwise spin between batches and starve the decoders.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads:
            options.intra_op_num_threads = self.threads
        if DIRECTML in providers:  # DirectML supports neither memory patterns nor parallel runs
            options.enable_mem_pattern = False
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return options

    def _note_unavailable(self, preferred: str | None, available: Sequence[str],
                          chosen: list[str]) -> None:
        if preferred and provider_name(preferred) not in chosen:
            wanted = provider_name(preferred)
            if wanted not in PROVIDER_ALIASES.values() and wanted not in available:
                raise ProviderError(f"Unknown execution provider {preferred!r}: use one of "
                                    + ", ".join(PROVIDER_ALIASES) + ".")
            self.fallback_reason = (
                f"{short_name(wanted)} was requested but this onnxruntime build does not "
                f"offer it (it offers {', '.join(short_name(p) for p in available)}); running "
                f"on the CPU. {GPU_INSTALL_HINT if wanted in GPU_PROVIDERS else ''}").strip()
            log.warning("model %s: %s", self.spec.id, self.fallback_reason)

    def _note_silent_fallback(self, preferred: str | None) -> None:
        """onnxruntime-gpu without a usable CUDA quietly drops to the CPU: say so."""
        asked = choose_providers(available_providers(), preferred)[0]
        if self.fallback_reason is None and asked != CPU and asked not in self.providers:
            self.fallback_reason = (f"{short_name(asked)} is installed but could not be used "
                                    "(no compatible GPU or driver?); running on the CPU.")
            log.warning("model %s: %s", self.spec.id, self.fallback_reason)

    def _raise_if_not_onnx(self, exc: BaseException) -> None:
        if isinstance(exc, ort_state.InvalidProtobuf | ort_state.NoModel) or \
                not _looks_like_onnx(self.path):
            raise ModelError(f"{self.path} is not an ONNX model or is truncated "
                             f"({self.path.stat().st_size} bytes). Download it again or "
                             f"check the file.") from exc

    def _input_name(self) -> str:
        inputs = [i.name for i in self._session.get_inputs()]
        if self.spec.input_name and self.spec.input_name not in inputs:
            raise ModelError(f"The model {self.path} has no input named "
                             f"{self.spec.input_name!r} (it has {', '.join(inputs)}).")
        return str(self.spec.input_name or inputs[0])

    def _output_name(self) -> str:
        outputs = [o.name for o in self._session.get_outputs()]
        if self.spec.output != POOLED and self.spec.output in outputs:
            return str(self.spec.output)
        if self.spec.output != POOLED and len(outputs) > 1:
            raise ModelError(f"The model {self.path} has no output named "
                             f"{self.spec.output!r} (it has {', '.join(outputs)}).")
        return str(outputs[0])


def _looks_like_onnx(path: Path) -> bool:
    """Whether the file parses as an ONNX model with a graph (weights are not read)."""
    import onnx  # ~1 s to import: only here, never at start-up
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, OSError, ValueError):
        return False
    return len(model.graph.node) > 0
