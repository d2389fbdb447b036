"""Adding any image model, by the app's and the CLI's one path into the model store: known
files recognised by checksum (with their classifier head), unknown ones inspected and tried."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from photosim.cli.main import main
from photosim.core.errors import ModelError, ModelIntegrityError
from photosim.core.library import Library, model_store
from photosim.core.models.adopt import (
    adopt,
    inspect_model,
    normalisation,
    spec_for_unknown,
    try_model,
)
from photosim.core.models.spec import POOLED, load_spec_file
from photosim.core.models.store import DAMAGED, UNCHECKED, VERIFIED, ModelStore
from tests.imagegen import save
from tests.modelgen import TINY_DIM, TINY_SIZE, build_classifier

EFFNET = "efficientnet-lite0"
EMBED = "efficientnet_lite0_embed.onnx"
LOGITS = "efficientnet_lite0_logits.onnx"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def lonely_classifier(tmp_path: Path) -> Path:
    """A classifier photosim has never seen, with no spec beside it."""
    return build_classifier(tmp_path / "somewhere" / "mystery_net.onnx", seed=11)


# -- the CLI -------------------------------------------------------------------------------

@pytest.mark.realmodel
def test_models_add_copies_the_classifier_head_then_search_and_clusters_name_things(
        tmp_path: Path, real_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    code, out, err = run(capsys, "--data-dir", data, "models", "add",
                         str(real_model_dir / EMBED), "--spec", EFFNET, "--use")
    assert code == 0, err
    assert EMBED in out and LOGITS in out and "verified" in out
    store = model_store(Path(data))
    assert store.head_path(EFFNET) is not None and store.state(EFFNET).classifier
    photos = _photos(tmp_path / "lib")
    assert run(capsys, "--data-dir", data, "index", str(photos))[0] == 0
    code, out, err = run(capsys, "--data-dir", data, "--json", "search", "cat")
    assert code == 0, err
    found = [Path(r["path"]).name for r in json.loads(out)["results"]]
    assert found and found[0].startswith("chelsea")
    code, out, _ = run(capsys, "--data-dir", data, "--json", "clusters")
    names = [c["name"] for c in json.loads(out)["clusters"]]
    assert any("cat" in n.lower() for n in names), names
    assert not any(n.startswith("Cluster ") for n in names), names


@pytest.mark.realmodel
def test_a_known_file_is_recognised_by_its_checksum(tmp_path: Path, real_model_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "data"), "--json", "models", "add",
                         str(real_model_dir / EMBED))
    assert code == 0, err
    added = json.loads(out)
    assert added["id"] == EFFNET and added["classifier"] is True
    assert [Path(f).name for f in added["files"]] == [f"{EFFNET}.onnx", LOGITS]


@pytest.mark.realmodel
def test_a_head_that_does_not_match_its_pin_is_refused(tmp_path: Path,
                                                       real_model_dir: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(real_model_dir / EMBED, folder / EMBED)
    build_classifier(folder / LOGITS)  # some other classifier under the head's name
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError):
        store.add_user_model(folder / EMBED, store.spec(EFFNET))


def test_a_model_id_that_is_not_installed_is_an_error_saying_how_to_install_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "data"), "--model", EFFNET,
                       "status")
    assert code == 1
    assert f"photosim models add FILE.onnx --spec {EFFNET}" in err
    assert "ResNet-50" not in err


def test_errors_name_the_flag_of_the_command(tmp_path: Path, lonely_classifier: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    code, _, err = run(capsys, "--data-dir", data, "--model", str(lonely_classifier), "status")
    assert code == 1 and "--model-spec" in err and "--spec " not in err
    code, _, err = run(capsys, "--data-dir", data, "models", "add", str(lonely_classifier))
    assert code == 1 and "--spec ID|SPEC.json" in err and "--preprocess" in err
    code, _, err = run(capsys, "--data-dir", data, "models", "add", str(lonely_classifier),
                       "--spec", "nonesuch")
    assert code == 1 and "--spec 'nonesuch'" in err


def test_models_add_any_image_model_with_its_normalisation(tmp_path: Path,
                                                           lonely_classifier: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    data = str(tmp_path / "data")
    code, out, err = run(capsys, "--data-dir", data, "--json", "models", "add",
                         str(lonely_classifier), "--preprocess", "symmetric", "--use")
    assert code == 0, err
    assert json.loads(out)["id"] == "mystery_net"
    spec = model_store(Path(data)).spec("mystery_net")
    assert spec.dim == TINY_DIM and spec.output == POOLED  # cut at its pool, not its 10 logits
    assert spec.preprocess.mean == (127.5,) * 3
    code, out, err = run(capsys, "--data-dir", data, "--json", "status")
    assert code == 0 and json.loads(out)["visual_search"], err
    code, out, _ = run(capsys, "--data-dir", data, "models", "remove", "mystery_net")
    assert code == 0 and "mystery_net" not in model_store(Path(data)).specs()


# -- the core: inspect, try, adopt, state --------------------------------------------------

def test_inspect_reads_size_layout_and_width(lonely_classifier: Path) -> None:
    facts = inspect_model(lonely_classifier)
    assert (facts.size, facts.layout, facts.output, facts.width) == (TINY_SIZE, "NCHW", POOLED,
                                                                      TINY_DIM)


def test_inspect_refuses_what_is_not_an_image_model(tmp_path: Path) -> None:
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    with pytest.raises(ModelError, match="not an ONNX model"):
        inspect_model(text)
    vector_in = tmp_path / "vector.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(vector_in))
    with pytest.raises(ModelError, match="4 dimensions"):
        inspect_model(vector_in)


def test_a_model_that_gives_no_usable_vector_is_refused_and_not_stored(tmp_path: Path) -> None:
    """A classifier that multiplies its picture by zero runs fine but embeds nothing; the
    pooled-feature graph cut from it for the trial is not kept either."""
    path = tmp_path / "zeros.onnx"
    inits = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("fc_w", TensorProto.FLOAT, [5, 3], [0.1] * 15),
             helper.make_tensor("fc_b", TensorProto.FLOAT, [5], [0.0] * 5)]
    nodes = [helper.make_node("Mul", ["input", "zero"], ["m"]),
             helper.make_node("GlobalAveragePool", ["m"], ["p"]),
             helper.make_node("Flatten", ["p"], ["features"]),
             helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "zeros", [helper.make_tensor_value_info(
        "input", TensorProto.FLOAT, ["N", 3, 32, 32])], [helper.make_tensor_value_info(
        "logits", TensorProto.FLOAT, ["N", 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    store = ModelStore(tmp_path / "models")
    spec = spec_for_unknown(path, inspect_model(path), normalisation("unit"))
    assert spec.output == POOLED and spec.dim == 3
    with pytest.raises(ModelError, match="no usable vector"):
        adopt(store, path, spec)
    assert spec.id not in store.specs() and store.current() is None
    assert not (store.model_dir / "prepared" / spec.id).exists()


def test_adopt_stores_and_uses_the_model_and_state_tracks_its_checksum(
        tmp_path: Path, lonely_classifier: Path) -> None:
    store = ModelStore(tmp_path / "models")
    spec = spec_for_unknown(lonely_classifier, inspect_model(lonely_classifier),
                            normalisation("imagenet"))
    assert try_model(store, spec, lonely_classifier).seconds_per_photo > 0
    added = adopt(store, lonely_classifier, spec)
    assert store.current() == added.id
    state = store.state(added.id)
    assert state.installed and state.active and state.checksum == VERIFIED
    assert state.size == lonely_classifier.stat().st_size
    assert store.recognise(lonely_classifier) == store.spec(added.id)  # known from now on
    path = store.model_path(added.id)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    assert store.state(added.id).checksum == UNCHECKED
    with pytest.raises(ModelIntegrityError):
        store.verify(added.id)
    store.remove(added.id)
    assert not path.exists() and store.current() is None
    assert not (store.model_dir / "prepared" / added.id).exists()


def test_a_truncated_pinned_file_reads_as_damaged(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    spec = store.spec("resnet50-v1-12-int8")
    assert spec.file is not None
    store.model_path(spec.id).parent.mkdir(parents=True, exist_ok=True)
    store.model_path(spec.id).write_bytes(b"\0" * 1000)
    assert store.state(spec.id).checksum == DAMAGED


# -- the library: a model problem never stops it from opening ------------------------------

def test_a_current_model_that_was_damaged_opens_in_reduced_mode_saying_why(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    store = model_store(tmp_path / "data")
    added = store.add_user_model(tiny_model[0], load_spec_file(tiny_model[1]))
    store.use(added.id)
    store.model_path(added.id).write_bytes(b"garbage")
    with Library.open(tmp_path / "data") as lib:
        status = lib.status()
    assert not status.visual_search
    assert status.model_problem and "changed or damaged" in status.model_problem
    with pytest.raises(ModelError):  # asked for by name (the CLI): an error
        Library.open(tmp_path / "data", model=added.id)
    with Library.open(tmp_path / "data", model=added.id, reduced_on_error=True) as lib:
        assert not lib.status().visual_search  # the app: reduced mode


def test_a_model_whose_session_fails_leaves_the_library_in_reduced_mode(
        tmp_path: Path, tiny_model: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from photosim.core.models import runtime

    def broken(*_: object) -> object:
        raise runtime.ort_state.Fail("no memory for this session")

    monkeypatch.setattr(runtime.ModelSession, "session_factory", staticmethod(broken))
    with Library.open(tmp_path / "data", model=str(tiny_model[0]),
                      model_spec=str(tiny_model[1])) as lib:
        assert lib.embedder() is None
        status = lib.status()
    assert not status.visual_search and "no memory" in (status.model_problem or "")


def _photos(folder: Path) -> Path:
    """skimage's real photographs, with three smaller copies each of the cat and the coffee."""
    from tests.test_quality_real_model import _real_photos

    photos = _real_photos(folder)
    for i, factor in enumerate((0.8, 0.6, 0.5)):
        for name in ("chelsea", "coffee"):
            with Image.open(photos[name]) as img:
                save(img.resize((int(img.width * factor), int(img.height * factor))),
                     folder / f"{name}_{i}.jpg", quality=80)
    return folder


def test_the_cli_offers_every_normalisation_adopt_knows() -> None:
    """`models add --preprocess` lists the choices without importing adopt (onnx): the two
    lists must stay one."""
    from photosim.cli.models_cmd import PREPROCESS_CHOICES
    from photosim.core.models.adopt import NORMALISATIONS

    assert tuple(n.key for n in NORMALISATIONS) == PREPROCESS_CHOICES
