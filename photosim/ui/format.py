"""How numbers and records read in the GUI."""

from __future__ import annotations

from photosim.core.types import Photo
from photosim.core.units import clock, human_size

__all__ = ["at_time", "clock", "human_size", "resolution"]


def at_time(name: str, time: float | None) -> str:
    """A file name, and for a video found by one of its frames, where: "clip.mp4 at 0:42"."""
    return name if time is None else f"{name} at {clock(time)}"


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
