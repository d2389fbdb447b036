"""Models are data: one JSON spec per model says where to get it and how to feed it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from photosim.core.errors import ModelError

POOLED = "pooled"  # output policy: cut a classifier at its last global pooling


@dataclass(frozen=True)
class Preprocess:
    """How an RGB picture becomes the network's input tensor.

    Shorter side scaled to ``resize_shorter``, centre crop ``size`` x ``size``, then
    ``(pixel - mean) / std`` with pixels in 0..255, laid out as ``layout``.
    """

    size: int = 224
    resize_shorter: int = 256
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    interpolation: str = "bilinear"  # "bilinear" or "bicubic"
    layout: str = "NCHW"  # or "NHWC"


@dataclass(frozen=True)
class ModelFile:
    """A downloadable ONNX file, pinned by size and sha256."""

    url: str
    size: int
    sha256: str
    filename: str


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    dim: int  # length of the embedding vector
    preprocess: Preprocess = field(default_factory=Preprocess)
    input_name: str | None = None  # None: the graph's first input
    output: str = POOLED  # POOLED, or the name of an output tensor that is the embedding
    licence: str = "unknown"
    file: ModelFile | None = None  # None for models the user supplies
    variant: str = "fp32"  # "fp32" or "int8"
    labels: str | None = None  # "imagenet" when the graph ends in an ImageNet classifier
    head_file: str | None = None  # a classifier file beside the model that holds its head
    description: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        try:
            pre = dict(data.get("preprocess", {}))
            for key in ("mean", "std"):
                if key in pre:
                    pre[key] = tuple(float(v) for v in pre[key])
            file_data = data.get("file")
            return cls(
                id=str(data["id"]),
                name=str(data.get("name", data["id"])),
                dim=int(data["dim"]),
                preprocess=Preprocess(**pre),
                input_name=data.get("input_name"),
                output=str(data.get("output", POOLED)),
                licence=str(data.get("licence", "unknown")),
                file=ModelFile(**file_data) if file_data else None,
                variant=str(data.get("variant", "fp32")),
                labels=data.get("labels"),
                head_file=data.get("head_file"),
                description=str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"Invalid model spec: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_spec_file(path: Path) -> ModelSpec:
    """Read a spec from a JSON file, with a clear error when it is missing or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"Cannot read model spec {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"Model spec {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"Model spec {path} must be a JSON object")
    return ModelSpec.from_dict(data)


def builtin_specs() -> dict[str, ModelSpec]:
    """The specs shipped with photosim (the repo's ``models/specs/``), keyed by id."""
    specs: dict[str, ModelSpec] = {}
    for entry in resources.files("photosim.model_specs").iterdir():
        if entry.name.endswith(".json"):
            spec = ModelSpec.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            specs[spec.id] = spec
    return specs
