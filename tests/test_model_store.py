"""The model store: user models, prepared cache, tamper refusal, resolve_model, the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from photosim.cli import models_cmd
from photosim.cli.context import CommandContext
from photosim.core.errors import (
    DownloadError,
    ModelError,
    ModelIntegrityError,
    ModelNotAvailableError,
)
from photosim.core.models import store as store_module
from photosim.core.models.runtime import ModelSession
from photosim.core.models.spec import ModelSpec, load_spec_file
from photosim.core.models.store import RESNET_FP32, RESNET_INT8, ModelStore, resolve_model
from tests.modelgen import TINY_DIM, TINY_SIZE, build_embedder


@pytest.fixture()
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture()
def added(store: ModelStore, tiny_model: tuple[Path, Path]) -> ModelSpec:
    model, spec_json = tiny_model
    return store.add_user_model(model, load_spec_file(spec_json))


def _features(path: Path, spec: ModelSpec) -> np.ndarray:
    batch = np.random.default_rng(5).standard_normal((2, 3, TINY_SIZE, TINY_SIZE))
    return ModelSession(path, spec).run(batch.astype(np.float32))


def test_builtins_and_defaults(store: ModelStore) -> None:
    specs = store.specs()
    assert {RESNET_FP32, RESNET_INT8} <= set(specs)
    assert specs[RESNET_FP32].dim == 2048 and specs[RESNET_FP32].file is not None
    assert store.default_model_id(gpu=True) == RESNET_FP32
    assert store.default_model_id(gpu=False) == RESNET_INT8
    assert not store.is_installed(RESNET_FP32)
    assert store.current() is None


def test_nothing_installed_says_how_to_get_the_model(store: ModelStore) -> None:
    with pytest.raises(ModelNotAvailableError) as info:
        resolve_model(store, None, None)
    assert "photosim models download" in str(info.value)
    assert "https://github.com/onnx/models" in str(info.value)
    with pytest.raises(ModelNotAvailableError):
        store.prepared(RESNET_FP32)


def test_added_model_is_prepared_once_and_cached(store: ModelStore, added: ModelSpec,
                                                 tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    assert store.is_installed(added.id) and added.id in store.specs()
    assert not caplog.records, "listing specs must not trip over the store's own files"
    spec, prepared = store.prepared(added.id)
    assert prepared.parent == store.model_dir / "prepared" / added.id
    assert [o.name for o in onnx.load(str(prepared)).graph.output] == ["photosim_features"]
    mtime = prepared.stat().st_mtime_ns
    assert store.prepared(added.id)[1] == prepared and prepared.stat().st_mtime_ns == mtime
    want = _features(build_embedder(tmp_path / "embed.onnx"), spec)
    np.testing.assert_allclose(_features(prepared, spec), want, rtol=1e-5, atol=1e-6)
    assert ModelStore(store.model_dir).specs()[added.id] == added  # persisted


def test_tampered_file_is_refused(store: ModelStore, added: ModelSpec) -> None:
    path = store.verify(added.id)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte different, in the middle
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="changed or damaged"):
        store.verify(added.id)
    with pytest.raises(ModelIntegrityError):
        store.prepared(added.id)


def test_tamper_that_keeps_the_mtime_is_caught_by_the_sample(store: ModelStore,
                                                              added: ModelSpec) -> None:
    path = store.verify(added.id)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ModelIntegrityError):
        store.verify(added.id)


def test_tamper_in_the_middle_with_the_mtime_restored_is_refused(
        store: ModelStore, added: ModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    # The tiny model fits in the two 64 KiB samples; small samples make it a "large" model
    # whose middle the samples do not cover.
    monkeypatch.setattr(store_module, "SAMPLE_BYTES", 1024)
    path = store.verify_full(added.id)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 8] = bytes(b ^ 0xFF for b in data[len(data) // 2:
                                                                          len(data) // 2 + 8])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ModelIntegrityError, match="changed or damaged"):
        store.verify(added.id)


def test_touched_but_intact_file_is_rehashed_and_accepted(store: ModelStore,
                                                          added: ModelSpec) -> None:
    path = store.verify(added.id)
    os.utime(path, ns=(1, 1))
    assert store.verify(added.id) == path


def test_pinned_builtin_refuses_a_different_file(store: ModelStore,
                                                 tiny_model: tuple[Path, Path]) -> None:
    model, _ = tiny_model
    with pytest.raises(ModelIntegrityError, match="not the published file"):
        store.add_user_model(model, store.specs()[RESNET_FP32])
    assert not store.is_installed(RESNET_FP32)
    assert not any(store.model_dir.glob("*.onnx*"))


def test_not_an_onnx_file_is_refused(store: ModelStore, tiny_model: tuple[Path, Path],
                                     tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(ModelError, match="not an ONNX model"):
        store.add_user_model(bogus, load_spec_file(tiny_model[1]))


def test_use_persists_the_choice(store: ModelStore, added: ModelSpec) -> None:
    store.use(added.id)
    assert ModelStore(store.model_dir).current() == added.id
    spec, _ = resolve_model(store, None, None)
    assert spec.id == added.id
    with pytest.raises(ModelError, match="Unknown model"):
        store.use("no-such-model")


def test_resolve_by_id(store: ModelStore, added: ModelSpec) -> None:
    spec, path = resolve_model(store, added.id, None)
    assert path == store.prepared(added.id)[1]
    # The spec comes bound to the file in use, whose content keys its vectors.
    digest = hashlib.sha256(store.model_path(added.id).read_bytes()).hexdigest()
    assert spec == dataclasses.replace(added, file_sha256=digest)


def test_resolve_a_path_with_its_json_beside_it(store: ModelStore,
                                                tiny_model: tuple[Path, Path]) -> None:
    model, _ = tiny_model
    spec, path = resolve_model(store, str(model), None)
    assert spec.id == "tiny-test"
    assert path.is_relative_to(store.model_dir / "prepared")
    assert _features(path, spec).shape == (2, TINY_DIM)
    assert resolve_model(store, str(model), None)[1] == path  # cached by digest


def test_resolve_a_path_with_an_explicit_spec(store: ModelStore, tiny_model: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    model, spec_json = tiny_model
    lonely = tmp_path / "elsewhere" / "model.onnx"
    lonely.parent.mkdir()
    shutil.copy(model, lonely)
    with pytest.raises(ModelError, match="needs a spec"):
        resolve_model(store, str(lonely), None)
    other = json.loads(spec_json.read_text()) | {"id": "tiny-other"}
    other_json = tmp_path / "other-spec.json"
    other_json.write_text(json.dumps(other))
    spec, _ = resolve_model(store, str(lonely), str(other_json))
    assert spec.id == "tiny-other"
    with pytest.raises(ModelIntegrityError):
        resolve_model(store, str(lonely), RESNET_FP32)


def test_resolve_refuses_unknown_choices(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="No such model file"):
        resolve_model(store, "/nowhere/model.onnx", None)
    with pytest.raises(ModelError, match="Unknown model"):
        resolve_model(store, "resnet-9000", None)


def test_wrong_dim_in_spec_is_reported(store: ModelStore, tiny_model: tuple[Path, Path],
                                       tmp_path: Path) -> None:
    model, spec_json = tiny_model
    bad = json.loads(spec_json.read_text()) | {"id": "tiny-bad", "dim": 99}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="32 values"):
        resolve_model(store, str(model), str(tmp_path / "bad.json"))


# -- the CLI over the same core ------------------------------------------------------------

def _cli(data_dir: Path, *argv: str, as_json: bool = True) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    models_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    ctx = CommandContext(data_dir=data_dir, json=as_json, out=out, err=err)
    return args.func(args, ctx), out.getvalue(), err.getvalue()


def test_cli_add_use_list_verify(tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    data = tmp_path / "data"
    code, out, _ = _cli(data, "models", "add", str(tiny_model[0]), "--use")
    assert code == 0 and json.loads(out)["id"] == "tiny-test"
    code, out, _ = _cli(data, "models", "list")
    listed = {m["id"]: m for m in json.loads(out)["models"]}
    assert listed["tiny-test"]["installed"] and listed["tiny-test"]["in_use"]
    assert listed[RESNET_FP32]["state"] == "downloadable"
    code, out, _ = _cli(data, "models", "verify")
    assert code == 0 and [m["id"] for m in json.loads(out)["models"]] == ["tiny-test"]
    code, out, _ = _cli(data, "models", "use", RESNET_INT8, as_json=False)
    assert code == 0 and "not installed" in out


def test_cli_download_offline_fails_with_advice(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=re.escape("models add resnet50-v1-12-int8.onnx")):
        _cli(tmp_path / "data", "models", "download", RESNET_INT8,
             "--base-url", "http://127.0.0.1:9")


def test_export_script_writes_a_valid_spec() -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "models" / "export_resnet50.py"
    loader = importlib.util.spec_from_file_location("export_resnet50", script)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)  # imports no torch: that happens inside main()
    spec = ModelSpec.from_dict(module.spec_for("IMAGENET1K_V2"))
    assert spec.dim == 2048 and spec.output == "embedding" and spec.input_name == "input"
    assert spec.preprocess.resize_shorter == 232
