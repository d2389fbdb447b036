"""Starting the desktop app: arguments, the single-instance hand-over, the library, first run.

``run_gui(argv)`` is the entry point behind ``photosim`` (see ``photosim/__main__.py``).
A second launch on the same data folder hands its arguments to the running app and exits;
one that finds the folder locked by something else (``photosim watch``, say) says so and exits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QDialog, QStyleFactory

from photosim.core import library as library_module
from photosim.core.errors import PhotosimError
from photosim.core.library import Library, spec_for_file
from photosim.ui.error_dialog import install_excepthook, show_error
from photosim.ui.first_run import DOWNLOAD, LOCAL_FILE, FirstRunDialog, default_picture_folders
from photosim.ui.health import open_or_rebuild, tell_rebuilt
from photosim.ui.mainwindow import MainWindow
from photosim.ui.model_actions import APP_HOLDER
from photosim.ui.settings import UiSettings
from photosim.ui.single_instance import InstanceServer, hand_over

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="photosim", description="photosim desktop app")
    parser.add_argument("--data-dir", type=Path, help="library data folder")
    parser.add_argument("--model", help="model id or path to an .onnx file")
    parser.add_argument("--model-spec", help="spec id or JSON file for a user-supplied model")
    parser.add_argument("--provider", help="cpu, cuda or directml (default: best available)")
    parser.add_argument("--similar", type=Path, metavar="FILE",
                        help="open with the photos most similar to FILE")
    parser.add_argument("folders", nargs="*", type=Path, help="photo folders to add")
    return parser.parse_args(list(argv))


def app_icon() -> QIcon:
    """The SVG icon from the packaged resources (or the source tree)."""
    try:
        svg = resources.files("photosim.resources").joinpath("icons/photosim.svg")
        if svg.is_file():
            return QIcon(str(svg))
    except ModuleNotFoundError:
        pass
    source = Path(__file__).resolve().parents[2] / "resources" / "icons" / "photosim.svg"
    return QIcon(str(source)) if source.is_file() else QIcon()


def ensure_app() -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(sys.argv[:1])
    app.setApplicationName("photosim")
    app.setApplicationDisplayName("photosim")
    app.setDesktopFileName("io.github.photosim.Photosim")
    styles = [name.lower() for name in QStyleFactory.keys()]  # noqa: SIM118 - not a dict
    if sys.platform.startswith("linux") and "fusion" in styles:
        app.setStyle("Fusion")  # consistent across desktops; Windows/macOS keep native styles
    return app


def build_gui(argv: Sequence[str]) -> MainWindow | None:
    """Everything ``run_gui`` does before the event loop; None when another instance took over
    (or the user chose Quit over rebuilding a catalog too damaged to open)."""
    args = parse_args(argv)
    app = ensure_app()
    app.setWindowIcon(app_icon())
    data_dir = (args.data_dir or library_module.default_data_dir()
                ).expanduser().resolve()
    message: dict[str, object] = {"folders": [str(f.resolve()) for f in args.folders],
               "similar": str(args.similar.resolve()) if args.similar else None}
    if hand_over(data_dir, message):
        log.info("handed the arguments to the running photosim")
        return None
    lock = library_module.instance_lock(data_dir, APP_HOLDER)
    lock.acquire()  # LibraryLockedError: e.g. `photosim watch` runs on it, or a hung instance
    try:
        settings = UiSettings.load(data_dir)
        library, rebuilt = open_or_rebuild(lambda: open_library(data_dir, args, settings),
                                           data_dir, APP_HOLDER)
    except BaseException:
        lock.release()
        raise
    if library is None:  # the catalog is damaged and the user chose Quit: nothing touched
        lock.release()
        return None
    window = MainWindow(library, settings)
    window.instance_lock = lock
    window.set_icon(app.windowIcon())
    server = InstanceServer(data_dir, window)
    server.message_received.connect(window.handle_message)
    install_excepthook(lambda: window)
    window.show()
    if rebuilt is not None:
        tell_rebuilt(window, rebuilt)
    _first_steps(window, args, settings)
    return window


def run_gui(argv: Sequence[str]) -> int:
    try:
        window = build_gui(argv)
    except PhotosimError as exc:
        ensure_app()
        box = show_error(None, exc)
        box.exec()
        return 1
    if window is None:
        return 0
    app = ensure_app()
    code = app.exec()
    shut_down(window)
    return code


def shut_down(window: MainWindow) -> None:
    """After the event loop: stop watching, close the library, then let another instance in."""
    window.stop_watching()
    window.library.close()
    if window.instance_lock is not None:
        window.instance_lock.release()
        window.instance_lock = None


def open_library(data_dir: Path, args: argparse.Namespace, settings: UiSettings) -> Library:
    """Open the library with the model asked for on the command line, else the model store's
    choice (shared with the CLI). A model problem never stops the app: it opens in reduced
    mode and the banner says what is wrong and how to fix it."""
    migrate_model_setting(data_dir, settings)
    return Library.open(data_dir, model=args.model, model_spec=args.model_spec,
                        provider=args.provider or settings.provider, reduced_on_error=True,
                        holder=APP_HOLDER)


def migrate_model_setting(data_dir: Path, settings: UiSettings) -> None:
    """Older versions kept a chosen model file in the GUI's settings, where it overrode
    `photosim models use`. Hand it to the model store once (when the store has no choice of
    its own and the file is known or has its spec), then forget it either way."""
    if not settings.model and not settings.model_spec:
        return
    legacy, spec_choice = settings.model, settings.model_spec
    settings.model = settings.model_spec = None
    settings.save(data_dir)
    store = library_module.model_store(data_dir)
    if not legacy or store.current() is not None:
        return
    try:
        if legacy in store.specs():
            store.use(legacy)
            return
        path = Path(legacy).expanduser()
        spec = store.add_user_model(path, spec_for_file(store, path, spec_choice))
        store.use(spec.id)
    except (PhotosimError, OSError) as exc:
        log.warning("the model setting %s was dropped: %s", legacy, exc)


def _first_steps(window: MainWindow, args: argparse.Namespace, settings: UiSettings) -> None:
    """Add command-line folders, run the first-run dialog when the library is new, index, and
    open the find-similar results asked for on the command line."""
    folders = [f.expanduser().resolve() for f in args.folders]
    if not folders and not settings.first_run_done and not window.library.folders():
        first_run(window, settings)
        return
    if args.similar:
        window.similar_after_indexing(args.similar.expanduser().resolve())
    if folders:
        window.add_folders(folders)  # starts indexing once they are added
        window.refresh_status()
        window.refresh_library()
    else:
        window.start()


def first_run(window: MainWindow, settings: UiSettings) -> FirstRunDialog:
    """Show the Welcome dialog (without blocking); its choice of model goes through the
    window's model actions, like the banner's and the Settings' Models page."""
    window.refresh_status()  # the model banner, when a model asked for does not work
    status = window.library.status()
    download_label = _download_label(window)
    dialog = FirstRunDialog(status.model_name if status.visual_search else None,
                            download_label, default_picture_folders(), window)
    dialog.finished.connect(lambda result: _first_run_chosen(window, settings, dialog, result))
    dialog.open()
    return dialog


def _first_run_chosen(window: MainWindow, settings: UiSettings, dialog: FirstRunDialog,
                      result: int) -> None:
    accepted = result == QDialog.DialogCode.Accepted
    settings.first_run_done = True
    settings.save(window.library.data_dir)
    window.settings = settings
    folders = dialog.folders() if accepted else []

    def then() -> None:
        _add_and_index(window, folders)

    actions = window.model_actions
    if accepted and dialog.model_choice() == LOCAL_FILE and dialog.model_file:
        actions.choose_file(dialog.model_file, then=then, reindex=False)
    elif accepted and dialog.model_choice() == DOWNLOAD:
        actions.download(then=then, reindex=False)
    else:
        then()


def _add_and_index(window: MainWindow, folders: list[Path]) -> None:
    if folders:
        window.add_folders(folders)
    else:
        window.start()


def _download_label(window: MainWindow) -> str | None:
    """How the first run describes the model it offers to download."""
    try:
        spec = window.model_actions.store.spec(window.model_actions.default_model())
    except (PhotosimError, OSError) as exc:
        log.warning("no model to offer for download: %s", exc)
        return None
    if spec.file is None:
        return None
    return f"Download {spec.name} (recommended, {spec.file.size / 1e6:.0f} MB)"
