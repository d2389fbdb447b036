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

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QDialog, QProgressDialog, QStyleFactory

from photosim.core import library as library_module
from photosim.core.cancel import CancelToken
from photosim.core.errors import PhotosimError
from photosim.core.library import Library
from photosim.core.types import Progress
from photosim.ui.error_dialog import install_excepthook, show_error
from photosim.ui.first_run import DOWNLOAD, LOCAL_FILE, FirstRunDialog, default_picture_folders
from photosim.ui.mainwindow import MainWindow
from photosim.ui.settings import UiSettings
from photosim.ui.single_instance import InstanceServer, hand_over
from photosim.ui.tasks import Pool, ProgressBridge

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
    """Everything ``run_gui`` does before the event loop; None when another instance took over."""
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
    lock = library_module.instance_lock(data_dir)
    lock.acquire()  # LibraryLockedError: e.g. `photosim watch` runs on it, or a hung instance
    try:
        settings = UiSettings.load(data_dir)
        library = open_library(data_dir, args, settings)
    except BaseException:
        lock.release()
        raise
    window = MainWindow(library, settings)
    window.instance_lock = lock
    window.set_icon(app.windowIcon())
    server = InstanceServer(data_dir, window)
    server.message_received.connect(window.handle_message)
    install_excepthook(lambda: window)
    window.show()
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
    return Library.open(data_dir, model=args.model or settings.model,
                        model_spec=args.model_spec or settings.model_spec,
                        provider=args.provider or settings.provider)


def _first_steps(window: MainWindow, args: argparse.Namespace, settings: UiSettings) -> None:
    """Add command-line folders, run the first-run dialog when the library is new, index, and
    open the find-similar results asked for on the command line."""
    folders = [f.expanduser().resolve() for f in args.folders]
    if not folders and not settings.first_run_done and not window.library.folders():
        _first_run(window, settings)
        return
    if args.similar:
        window.similar_after_indexing(args.similar.expanduser().resolve())
    if folders:
        window.add_folders(folders)  # starts indexing once they are added
        window.refresh_status()
        window.refresh_library()
    else:
        window.start()


def _first_run(window: MainWindow, settings: UiSettings) -> None:
    status = window.library.status()
    download_id, download_label = _download_offer(window.library.data_dir)
    dialog = FirstRunDialog(status.model_name if status.visual_search else None,
                            download_label, default_picture_folders(), window)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    settings.first_run_done = True
    if accepted and dialog.model_choice() == LOCAL_FILE and dialog.model_file:
        settings.model = str(dialog.model_file)
    settings.save(window.library.data_dir)
    window.settings = settings
    folders = dialog.folders() if accepted else []
    if accepted and dialog.model_choice() == LOCAL_FILE and dialog.model_file:
        _reopen(window, settings)
    if accepted and dialog.model_choice() == DOWNLOAD and download_id:
        download_model(window, download_id, then=lambda: _add_and_index(window, folders))
        return
    _add_and_index(window, folders)


def _add_and_index(window: MainWindow, folders: list[Path]) -> None:
    if folders:
        window.add_folders(folders)
    else:
        window.start()


def _download_offer(data_dir: Path) -> tuple[str | None, str | None]:
    """The model a first run offers to download, and how to describe it."""
    try:
        store = library_module.model_store(data_dir)
        model_id = store.default_model_id(gpu=False)
        spec = store.specs()[model_id]
    except (PhotosimError, OSError, KeyError, AttributeError) as exc:
        log.warning("no model to offer for download: %s", exc)
        return None, None
    size = f", {spec.file.size / 1e6:.0f} MB" if spec.file else ""
    return model_id, f"Download {spec.name} (recommended{size})"


def download_model(window: MainWindow, model_id: str, then: object = None) -> QProgressDialog:
    """Download in the indexing pool with a cancellable progress dialog, then switch to it."""
    token = CancelToken()
    dialog = QProgressDialog("Downloading the model…", "Cancel", 0, 100, window)
    dialog.setWindowTitle("photosim")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.canceled.connect(token.cancel)
    bridge = ProgressBridge(parent=dialog)
    bridge.progressed.connect(lambda p: _download_progress(dialog, p))
    store = library_module.model_store(window.library.data_dir)

    def fetch() -> None:
        store.download(model_id, progress=bridge.report, cancel=token)
        store.use(model_id)

    def done(_: object) -> None:
        dialog.close()
        _reopen(window, window.settings)
        if callable(then):
            then()

    def failed(exc: BaseException) -> None:
        dialog.close()
        if not token.cancelled:
            window.report_error(exc)
        if callable(then):
            then()

    window.runner.run_task(fetch, done, failed, pool=Pool.INDEXING)
    dialog.show()
    return dialog


def _download_progress(dialog: QProgressDialog, progress: Progress) -> None:
    if progress.total:
        dialog.setMaximum(100)
        dialog.setValue(int(100 * progress.done / progress.total))
        dialog.setLabelText(f"Downloading the model… {progress.done / 1e6:.0f} of "
                            f"{progress.total / 1e6:.0f} MB")


def _reopen(window: MainWindow, settings: UiSettings) -> None:
    """Re-open the library so it picks up a newly available model."""
    data_dir = window.library.data_dir
    window.stop_watching()  # the watcher must not call into the library being closed
    window.library.close()
    try:
        window.set_library(Library.open(data_dir, model=settings.model,
                                        model_spec=settings.model_spec,
                                        provider=settings.provider))
    except PhotosimError as exc:
        window.report_error(exc)
