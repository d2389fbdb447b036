"""Shared fixtures: a tiny generated model, the shared real model, generated photos."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.modelgen import write_tiny_model_with_spec

if TYPE_CHECKING:  # the library loads onnxruntime: not at collection for every test
    from photosim.core.library import Library

REAL_MODEL_ENV = "PHOTOSIM_TEST_MODEL_DIR"
SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"

# So that a plain `pytest` works in a fresh checkout: Qt without a display, and the shared
# real model beside the repository (../shared/models) when it is there. Set before any test
# module imports Qt; what the environment says wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if SHARED_MODELS.is_dir():
    os.environ.setdefault(REAL_MODEL_ENV, str(SHARED_MODELS))


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real user's data dir or trash."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("PHOTOSIM_DATA_DIR", str(home / "photosim-data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model.onnx, spec.json) of a tiny classifier-shaped model built by the tests."""
    return write_tiny_model_with_spec(tmp_path_factory.mktemp("tiny-model"), classifier=True)


@pytest.fixture(scope="session")
def tiny_embedder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model.onnx, spec.json) of the tiny model without its classifier."""
    return write_tiny_model_with_spec(tmp_path_factory.mktemp("tiny-embed"), classifier=False)


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """The shared EfficientNet-Lite0 files. In CI their absence is a failure, elsewhere a skip."""
    folder = os.environ.get(REAL_MODEL_ENV)
    if folder and (Path(folder) / "efficientnet_lite0_embed.onnx").is_file():
        return Path(folder)
    reason = f"the shared real model is missing (set {REAL_MODEL_ENV} to ../shared/models)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def tiny_library(tmp_path: Path, tiny_model: tuple[Path, Path]) -> Iterator[Library]:
    """A new library in ``tmp_path / "data"`` over the tiny model."""
    from photosim.core.library import Library

    model, spec = tiny_model
    library = Library.open(tmp_path / "data", model=str(model), model_spec=str(spec))
    yield library
    library.close()


@pytest.fixture
def real_library(tmp_path: Path, real_model_dir: Path) -> Iterator[Library]:
    """A new library in ``tmp_path / "data"`` over the shared EfficientNet-Lite0."""
    from photosim.core.library import Library

    model = real_model_dir / "efficientnet_lite0_embed.onnx"
    library = Library.open(tmp_path / "data", model=str(model), model_spec="efficientnet-lite0")
    yield library
    library.close()
