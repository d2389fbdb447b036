"""How numbers and records read in the GUI."""

from __future__ import annotations

from photosim.core.types import Photo


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def resolution(photo: Photo) -> str:
    if photo.width and photo.height:
        megapixels = photo.width * photo.height / 1e6
        return f"{photo.width} × {photo.height} ({megapixels:.1f} MP)"
    return "unknown size"


def provider_label(provider: str | None) -> str:
    """"CUDAExecutionProvider" → "CUDA"; None (model not loaded yet) → "not loaded"."""
    if not provider:
        return "not loaded"
    names = {"CPUExecutionProvider": "CPU", "CUDAExecutionProvider": "CUDA",
             "DmlExecutionProvider": "DirectML", "CoreMLExecutionProvider": "Core ML",
             "TensorrtExecutionProvider": "TensorRT", "OpenVINOExecutionProvider": "OpenVINO"}
    return names.get(provider, provider.removesuffix("ExecutionProvider"))
