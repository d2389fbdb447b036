"""The app and its model, as a new user meets them: it always opens (reduced mode with a banner
that says why and fixes it), a model file of any kind can be chosen, a failed download says
what failed and offers the ways forward, and Settings has a Models page. Real widgets
(offscreen), the real model store, downloads from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from photosim.core.library import Library, model_store
from photosim.core.models.spec import load_spec_file
from photosim.ui import app as gui
from photosim.ui.mainwindow import MainWindow
from photosim.ui.model_actions import DownloadFailedDialog
from photosim.ui.model_file_dialog import ModelFileDialog
from photosim.ui.models_page import ModelsPage
from photosim.ui.settings import UiSettings
from tests.modelgen import TINY_DIM, build_classifier
from tests.ui_library import make_photos

pytestmark = pytest.mark.gui
WAIT = 30000
CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: a download fails at once, offline


@pytest.fixture
def launch(qtbot, monkeypatch) -> Iterator[Callable[..., MainWindow]]:
    """Start the app as `photosim ARGS` does (in-process, offscreen), and shut it down after."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    started: list[MainWindow] = []

    def start(*argv: str) -> MainWindow:
        window = gui.build_gui(list(argv))
        assert window is not None
        qtbot.addWidget(window)
        started.append(window)
        return window

    yield start
    for window in started:
        window.close()
        gui.shut_down(window)


@pytest.fixture
def lonely_classifier(tmp_path: Path) -> Path:
    """An image model photosim has never seen, with no spec beside it."""
    return build_classifier(tmp_path / "downloads" / "mystery_net.onnx", seed=11)


def banner_text(window: MainWindow) -> str:
    return window.model_banner.message.text() if window.model_banner.isVisible() else ""


def wait_for_banner(qtbot, window: MainWindow) -> str:
    qtbot.waitUntil(lambda: window.model_banner.isVisible(), timeout=WAIT)
    return banner_text(window)


def seen_settings(data: Path, **fields: object) -> None:
    """A settings file of a library that has been through its first run."""
    data.mkdir(parents=True, exist_ok=True)
    UiSettings(first_run_done=True, **fields).save(data)  # type: ignore[arg-type]


# -- the app always opens ------------------------------------------------------------------

def test_a_model_file_setting_without_a_spec_opens_with_a_banner(qtbot, launch, tmp_path,
                                                                 lonely_classifier):
    """The issue's lock-out: a model file saved in the GUI settings without a spec made every
    launch show an error and exit. Now the app opens, and the setting is gone."""
    data = tmp_path / "data"
    seen_settings(data, model=str(lonely_classifier))
    window = launch("--data-dir", str(data))
    assert window.isVisible()
    text = wait_for_banner(qtbot, window)
    assert "Visual search is off" in text and "not downloaded yet" in text
    assert window.model_banner.choose.isVisible() and window.model_banner.download.isVisible()
    assert UiSettings.load(data).model is None


def test_a_model_that_goes_missing_between_launches_opens_with_a_banner_that_resets(
        qtbot, launch, tmp_path, tiny_model):
    data = tmp_path / "data"
    seen_settings(data)
    store = model_store(data)
    added = store.add_user_model(tiny_model[0], load_spec_file(tiny_model[1]))
    store.use(added.id)
    store.model_path(added.id).unlink()
    window = launch("--data-dir", str(data))
    text = wait_for_banner(qtbot, window)
    assert f"{added.name} is not installed" in text
    assert window.model_banner.reset.isVisible()
    window.model_banner.reset.click()
    assert store.current() is None
    qtbot.waitUntil(lambda: "not downloaded yet" in banner_text(window), timeout=WAIT)


def test_a_model_asked_for_on_the_command_line_that_fails_opens_in_reduced_mode(
        qtbot, launch, tmp_path, lonely_classifier):
    window = launch("--data-dir", str(tmp_path / "data"), "--model", str(lonely_classifier))
    assert "--model-spec" in wait_for_banner(qtbot, window)


def test_a_model_whose_session_fails_shows_the_banner_after_indexing(qtbot, launch, tmp_path,
                                                                     tiny_model, monkeypatch):
    from photosim.core.models import runtime

    def broken(*_: object) -> object:
        raise runtime.ort_state.Fail("out of memory creating the session")

    monkeypatch.setattr(runtime.ModelSession, "session_factory", staticmethod(broken))
    photos = make_photos(tmp_path)
    window = launch("--data-dir", str(tmp_path / "data"), "--model", str(tiny_model[0]),
                    "--model-spec", str(tiny_model[1]), str(photos))
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 8, timeout=WAIT)
    assert "out of memory" in wait_for_banner(qtbot, window)


def test_the_model_store_choice_wins_over_an_old_gui_setting(qtbot, launch, tmp_path,
                                                             tiny_model, lonely_classifier):
    """`photosim models add … --use` is obeyed by the app: the GUI setting no longer wins."""
    data = tmp_path / "data"
    seen_settings(data, model=str(lonely_classifier))
    store = model_store(data)
    store.use(store.add_user_model(tiny_model[0], load_spec_file(tiny_model[1])).id)
    window = launch("--data-dir", str(data))
    assert window.library.spec is not None and window.library.spec.id == "tiny-test"
    assert UiSettings.load(data).model is None


@pytest.mark.realmodel
def test_an_old_setting_naming_a_known_file_is_adopted_with_its_classifier(
        qtbot, launch, tmp_path, real_model_dir):
    data = tmp_path / "data"
    seen_settings(data, model=str(real_model_dir / "efficientnet_lite0_embed.onnx"))
    window = launch("--data-dir", str(data))
    assert window.library.visual_search
    store = model_store(data)
    assert store.current() == "efficientnet-lite0" and store.state(store.current()).classifier


# -- choosing a model file -----------------------------------------------------------------

@pytest.fixture
def reduced_window(qtbot, launch, tmp_path) -> MainWindow:
    """The app over a library of photos, without any model."""
    photos = make_photos(tmp_path)
    window = launch("--data-dir", str(tmp_path / "data"), str(photos))
    qtbot.waitUntil(lambda: not window.is_indexing() and
                    window.library_view.model.rowCount() == 8, timeout=WAIT)
    wait_for_banner(qtbot, window)
    return window


@pytest.mark.realmodel
def test_choosing_a_known_model_file_recognises_it_and_turns_visual_search_on(
        qtbot, reduced_window, real_model_dir):
    window = reduced_window
    dialog = window.model_actions.choose_file(real_model_dir / "efficientnet_lite0_embed.onnx")
    assert isinstance(dialog, ModelFileDialog)
    assert "Recognised" in dialog.summary.text() and "classifier comes along" in \
        dialog.summary.text()
    assert not dialog.normalisation.isVisible()
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT * 4):
        dialog.use.click()
    assert window.library.visual_search and window.library.spec.id == "efficientnet-lite0"
    qtbot.waitUntil(lambda: not window.model_banner.isVisible(), timeout=WAIT)
    assert window.library.status().embedded == 8
    assert window.library.classifier_head() is not None


def test_choosing_an_unknown_model_file_asks_its_normalisation_tries_and_uses_it(
        qtbot, reduced_window, lonely_classifier):
    window = reduced_window
    dialog = window.model_actions.choose_file(lonely_classifier)
    assert "does not know this model" in dialog.summary.text()
    assert f"gives {TINY_DIM} values per photo" in dialog.summary.text()
    assert dialog.normalisation.isVisible() and dialog.normalisation.count() == 3
    dialog.normalisation.setCurrentIndex(dialog.normalisation.findData("unit"))
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT):
        dialog.use.click()
    spec = window.library.spec
    assert spec is not None and spec.id == "mystery_net" and spec.preprocess.std == (255.0,) * 3
    assert model_store(window.library.data_dir).current() == "mystery_net"
    assert window.library.status().embedded == 8
    assert not window.model_banner.isVisible()


def test_a_bad_model_file_is_refused_in_the_dialog_and_the_window_carries_on(
        qtbot, reduced_window, tmp_path):
    bad = tmp_path / "holiday.onnx"
    bad.write_bytes(b"\x89PNG this is a picture, not a model")
    window = reduced_window
    dialog = window.model_actions.choose_file(bad)
    assert "cannot be used" in dialog.summary.text() and not dialog.use.isEnabled()
    dialog.reject()
    assert window.isVisible() and window.model_banner.isVisible()
    assert model_store(window.library.data_dir).current() is None


# -- downloading ---------------------------------------------------------------------------

def test_an_offline_download_says_what_failed_and_offers_the_ways_forward(qtbot,
                                                                           reduced_window):
    window = reduced_window
    actions = window.model_actions
    actions.base_url = CLOSED_PORT
    went_on: list[bool] = []
    with qtbot.waitSignal(actions.download_failed, timeout=WAIT) as failed:
        actions.download(then=lambda: went_on.append(True))
    dialog = failed.args[0]
    assert isinstance(dialog, DownloadFailedDialog) and dialog.isVisible()
    assert "Could not download" in dialog.reason.text() and CLOSED_PORT in dialog.reason.text()
    assert {dialog.retry.text(), dialog.use_file.text(), dialog.continue_.text()} == {
        "Try again", "Use a model file…", "Continue without visual search"}
    with qtbot.waitSignal(actions.download_failed, timeout=WAIT) as again:
        dialog.retry.click()  # still offline: the same dialog again, not a silent cancel
    assert went_on == []
    with qtbot.waitSignal(actions.download_finished, timeout=WAIT) as finished:
        again.args[0].continue_.click()
    assert finished.args == [False] and went_on == [True]
    assert window.isVisible() and not window.library.visual_search


def test_the_first_run_download_failing_offline_shows_the_failure(qtbot, launch, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("PHOTOSIM_MODEL_MIRROR", CLOSED_PORT)
    photos = make_photos(tmp_path)
    window = launch("--data-dir", str(tmp_path / "data"))
    welcome = next(w for w in QApplication.topLevelWidgets()
                   if w.windowTitle() == "Welcome to photosim" and w.isVisible())
    welcome.folder_list.clear()
    welcome.add_folder(photos)
    assert welcome.model_choice() == "download"
    with qtbot.waitSignal(window.model_actions.download_failed, timeout=WAIT) as failed:
        welcome.start.click()
    dialog = failed.args[0]
    assert "resnet50" in dialog.reason.text().lower()
    dialog.continue_.click()  # carries on with the folders, in reduced mode
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 8, timeout=WAIT)
    assert UiSettings.load(tmp_path / "data").first_run_done and window.isVisible()


def test_a_download_from_the_models_page_that_fails_offers_the_same_ways_forward(
        qtbot, reduced_window, lonely_classifier):
    window = reduced_window
    window.model_actions.base_url = CLOSED_PORT
    settings = window.open_settings()
    page = settings.models_page
    page.select("resnet50-v1-12-int8")
    with qtbot.waitSignal(window.model_actions.download_failed, timeout=WAIT) as failed:
        page.download.click()
    dialog = failed.args[0]
    assert dialog.parent() is settings and "Could not download" in dialog.reason.text()
    from PySide6.QtWidgets import QFileDialog

    chosen = (str(lonely_classifier), "")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QFileDialog, "getOpenFileName", lambda *_, **__: chosen)
        dialog.use_file.click()
    file_dialog = window.model_actions.file_dialog
    assert file_dialog is not None and file_dialog.isVisible()
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT):
        file_dialog.use.click()
    assert window.library.visual_search and window.library.status().embedded == 8
    qtbot.waitUntil(lambda: any(page.table.item(r, 4).text() == "in use" and
                                page.table.item(r, 0).text().startswith("mystery_net")
                                for r in range(page.table.rowCount())), timeout=WAIT)
    settings.reject()


def test_the_welcome_dialog_model_file_goes_to_the_store_not_the_settings(
        qtbot, launch, tmp_path, lonely_classifier):
    photos = make_photos(tmp_path)
    window = launch("--data-dir", str(tmp_path / "data"))
    welcome = next(w for w in QApplication.topLevelWidgets()
                   if w.windowTitle() == "Welcome to photosim" and w.isVisible())
    welcome.folder_list.clear()
    welcome.add_folder(photos)
    next(b for b in welcome.choice.buttons() if b.objectName() == "file").setChecked(True)
    welcome.model_file = lonely_classifier
    welcome.start.click()
    dialog = window.model_actions.file_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.use.click()
    qtbot.waitUntil(lambda: window.library_view.model.rowCount() == 8 and
                    not window.is_indexing(), timeout=WAIT)
    assert window.library.status().embedded == 8
    assert UiSettings.load(tmp_path / "data").model is None
    assert model_store(tmp_path / "data").current() == "mystery_net"


@pytest.fixture
def served_model(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A user spec whose file is downloadable from a server on 127.0.0.1: (id, data dir)."""
    folder = tmp_path / "served"
    model = build_classifier(folder / "served_net.onnx", seed=3)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *_: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    data = tmp_path / "data"
    user = data / "models" / "user"
    user.mkdir(parents=True)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    spec = {"id": "served-net", "name": "Served net", "dim": TINY_DIM, "output": "pooled",
            "preprocess": {"size": 64, "resize_shorter": 73},
            "file": {"url": f"http://127.0.0.1:{httpd.server_port}/served_net.onnx",
                     "size": model.stat().st_size, "sha256": digest,
                     "filename": "served_net.onnx"}}
    (user / "served-net.json").write_text(json.dumps(spec))
    yield "served-net", str(data)
    httpd.shutdown()
    httpd.server_close()


# -- Settings → Models ---------------------------------------------------------------------

def test_the_models_page_lists_downloads_verifies_uses_and_removes(qtbot, launch, tmp_path,
                                                                   tiny_model, served_model):
    model_id, data = served_model
    photos = make_photos(tmp_path)
    store = model_store(Path(data))
    store.use(store.add_user_model(tiny_model[0], load_spec_file(tiny_model[1])).id)
    window = launch("--data-dir", data, str(photos))
    qtbot.waitUntil(lambda: not window.is_indexing() and window.library.status().embedded == 8,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: window.status is not None and window.status.provider is not None,
                    timeout=WAIT)  # the status shown once indexing loaded the model
    dialog = window.open_settings()
    page = dialog.models_page
    assert isinstance(page, ModelsPage)
    rows = {page.table.item(r, 0).text(): [page.table.item(r, c).text() for c in range(6)]
            for r in range(page.table.rowCount())}
    assert rows["Tiny test model"][2:5] == ["verified", "no", "in use"]  # no ImageNet head
    assert rows["Tiny test model"][5] == "CPU"
    assert rows["Served net"][1].endswith("to download")
    assert rows["ResNet-50 v1 (ImageNet), int8"][1] == "25.8 MB to download"

    page.select(model_id)
    assert page.download.isEnabled() and not page.use.isEnabled()
    with qtbot.waitSignal(window.model_actions.download_finished, timeout=WAIT) as done:
        page.download.click()
    assert done.args == [True] and store.current() == model_id  # downloaded, verified, used
    qtbot.waitUntil(lambda: not window.is_indexing(), timeout=WAIT)
    assert window.library.spec.id == model_id and window.library.status().embedded == 8

    with qtbot.waitSignal(page.cost_shown, timeout=WAIT) as cost:
        page.select("tiny-test")
    assert page.use.isEnabled() and page.verify.isEnabled()
    assert "re-embeds nothing" in cost.args[0]  # its vectors are still in the catalog
    page.verify.click()
    qtbot.waitUntil(lambda: "checksum matches" in page.message.text(), timeout=WAIT)
    page.remove.click()
    assert "tiny-test" not in store.specs()  # a user's model goes with its spec
    assert "Your photos are not touched" in page.message.text()
    assert "Tiny test model" not in [page.table.item(r, 0).text()
                                     for r in range(page.table.rowCount())]
    dialog.reject()


def test_the_cost_of_switching_counts_the_photos_to_re_embed(qtbot, launch, tmp_path,
                                                             tiny_model, lonely_classifier):
    data = tmp_path / "data"
    photos = make_photos(tmp_path)
    store = model_store(data)
    store.use(store.add_user_model(tiny_model[0], load_spec_file(tiny_model[1])).id)
    window = launch("--data-dir", str(data), str(photos))
    qtbot.waitUntil(lambda: not window.is_indexing() and window.library.status().embedded == 8,
                    timeout=WAIT)
    shutil.copy(lonely_classifier, tmp_path / "other.onnx")
    from photosim.core.models.adopt import inspect_model, normalisation, spec_for_unknown

    other = tmp_path / "other.onnx"
    store.add_user_model(other, spec_for_unknown(other, inspect_model(other),
                                                 normalisation("imagenet")))
    page = window.open_settings().models_page
    with qtbot.waitSignal(page.cost_shown, timeout=WAIT) as cost:
        page.select("other")
    assert "re-embeds 8 photos" in cost.args[0] and "ms a photo" in cost.args[0]
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT):
        page.use.click()
    assert store.current() == "other" and window.library.status().embedded == 8


# -- no display ----------------------------------------------------------------------------

def test_without_a_display_the_app_says_so_in_one_line_instead_of_aborting(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-m", "photosim", "--data-dir", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "photosim --help" in result.stderr


def test_the_display_check_lets_headless_platforms_and_other_systems_through():
    from photosim.__main__ import missing_display

    assert missing_display({}, "linux") is not None
    assert missing_display({"DISPLAY": ":0"}, "linux") is None
    assert missing_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert missing_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert missing_display({}, "win32") is None and missing_display({}, "darwin") is None
    assert Library  # the app's facade is importable without a display
