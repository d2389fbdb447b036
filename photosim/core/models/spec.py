"""Models are data: one JSON spec per model says where to get it and how to feed it."""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from photosim.core.errors import ModelError

POOLED = "pooled"  # output policy: cut a classifier at its last global pooling
VECTOR_KEY_DIGITS = 16  # hex digits of the model file's sha256 in a vector key (64 bits)


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

    def __post_init__(self) -> None:
        # A spec is data from anywhere (a file the user was sent, a mirror): its name must not
        # lead out of the model store, which the download writes into and cleans up in.
        check_model_filename(self.filename)
        check_download_url(self.url)
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size <= 0:
            raise ModelError(f"Invalid model spec: size must be a positive number of bytes, "
                             f"not {self.size!r}")
        if not isinstance(self.sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
            raise ModelError("Invalid model spec: sha256 must be 64 hexadecimal digits")


def check_model_filename(name: object) -> None:
    """A model file's name must be a plain file name: no folders, no '..', nothing hidden."""
    if not isinstance(name, str) or not name or name in {".", ".."} or name.startswith(".") \
            or any(c in name for c in "/\\\0:") or len(name) > 255 \
            or any(ord(c) < 32 for c in name):
        raise ModelError(f"Invalid model spec: the file name {name!r} must be a plain file name "
                         "(no folders, no '..')")


def check_download_url(url: object) -> None:
    """Models come over https; plain http only from this machine (a local mirror, tests)."""
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or not parsed.hostname:
        raise ModelError(f"Invalid model spec: {url!r} is not a download address")
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and _is_loopback(parsed.hostname):
        return
    raise ModelError(f"Invalid model spec: models are downloaded over https only, not from "
                     f"{url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    # The sha256 of the model file in use, set once a file is resolved for this spec (never
    # read from or written to a spec file): what the vectors it makes are keyed by.
    file_sha256: str | None = None

    @property
    def vector_key(self) -> str:
        """What this model's vectors are stored under: its id and the content of its file,
        so that another (or a tampered) file under the same id never mixes its vectors with
        this one's, and a file used again finds its vectors still there. The bare id while
        no file is known."""
        if not self.file_sha256:
            return self.id
        return f"{self.id}@{self.file_sha256[:VECTOR_KEY_DIGITS].lower()}"

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
                file=ModelFile(**dict(file_data)) if file_data else None,
                variant=str(data.get("variant", "fp32")),
                labels=data.get("labels"),
                head_file=data.get("head_file"),
                description=str(data.get("description", "")),
            )
        except KeyError as exc:
            raise ModelError(f"Invalid model spec: it has no {exc.args[0]!r} field (a photosim "
                             "spec names at least the model's id and dim)") from exc
        except (TypeError, ValueError) as exc:
            raise ModelError(f"Invalid model spec: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["file_sha256"]  # a property of one file, not of the spec
        return data


def load_spec_file(path: Path) -> ModelSpec:
    """Read a spec from a JSON file, with a clear error when it is missing or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"Cannot read model spec {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:  # a binary file (e.g. the model given as its spec)
        raise ModelError(f"Model spec {path} is not JSON text (byte {exc.start} is not "
                         "UTF-8)") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"Model spec {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"Model spec {path} must be a JSON object")
    try:
        return ModelSpec.from_dict(data)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def builtin_specs() -> dict[str, ModelSpec]:
    """The specs shipped with photosim (the repo's ``models/specs/``), keyed by id."""
    specs: dict[str, ModelSpec] = {}
    for entry in resources.files("photosim.model_specs").iterdir():
        if entry.name.endswith(".json"):
            spec = ModelSpec.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            specs[spec.id] = spec
    return specs
