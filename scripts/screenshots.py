#!/usr/bin/env python3
"""Regenerate the README screenshots (library, similar results, duplicate compare, clusters,
word search).

Builds a small real library from scikit-image's bundled sample photos plus generated copies
(resized, re-encoded, cropped, converted), indexes it with the shared EfficientNet-Lite0 model
when present (else a tiny generated model), drives the real main window and saves PNGs into
docs/. Runs offscreen by default; under Xvfb use `xvfb-run -a python scripts/screenshots.py`.
Set QT_SCALE_FACTOR=2 to check 200 % scaling (use --out to keep those apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

REPO = Path(__file__).resolve().parents[1]
SHARED_MODEL = REPO.parent / "shared" / "models" / "efficientnet_lite0_embed.onnx"
SEARCH_WORD = "cat"
SAMPLES = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
           "colorwheel", "retina", "camera", "coins", "moon", "clock", "horse", "brick", "grass",
           "gravel", "cell", "page", "text", "shepp_logan_phantom"]


def sample_photos(folder: Path) -> dict[str, Image.Image]:
    """scikit-image's bundled sample pictures as RGB JPEGs."""
    import skimage.data

    pictures: dict[str, Image.Image] = {}
    for name in SAMPLES:
        array = np.asarray(getattr(skimage.data, name)())
        if array.dtype != np.uint8:  # boolean masks and float phantoms: stretch to 0..255
            array = array.astype(np.float64)
            array = (255 * (array - array.min()) / max(float(np.ptp(array)), 1e-6)).astype(np.uint8)
        image = Image.fromarray(array).convert("RGB")
        pictures[name] = image
        image.save(folder / f"{name}.jpg", quality=92)
    left, right, _ = skimage.data.stereo_motorcycle()
    Image.fromarray(left).save(folder / "motorcycle_left.jpg", quality=92)
    Image.fromarray(right).save(folder / "motorcycle_right.jpg", quality=92)
    return pictures


def make_copies(pictures: dict[str, Image.Image], folder: Path) -> None:
    """The near-duplicates a real library collects: exports, resizes, crops, conversions."""
    folder.mkdir(parents=True, exist_ok=True)
    cat, coffee, astronaut, rocket = (pictures[n] for n in ("chelsea", "coffee", "astronaut",
                                                            "rocket"))
    cat.resize((cat.width // 2, cat.height // 2)).save(folder / "chelsea_small.jpg", quality=80)
    cat.save(folder / "chelsea.png")
    coffee.save(folder / "coffee_reencoded.jpg", quality=55)
    w, h = astronaut.size
    astronaut.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(
        folder / "astronaut_cropped.jpg", quality=90)
    rocket.save(folder / "rocket_export.webp", quality=85)
    edits = folder.parent / "Edits"
    edits.mkdir(parents=True, exist_ok=True)
    ImageOps.mirror(cat).save(edits / "chelsea_mirrored.jpg", quality=88)
    cat.crop((60, 20, 400, 280)).save(edits / "chelsea_closeup.jpg", quality=88)
    ImageEnhance.Color(cat).enhance(0.2).save(edits / "chelsea_faded.jpg", quality=88)
    ImageOps.mirror(coffee).save(edits / "coffee_mirrored.jpg", quality=88)
    rocket.crop((0, rocket.height // 4, rocket.width, rocket.height)).save(
        edits / "rocket_launchpad.jpg", quality=88)


def open_library(root: Path):
    from photosim.core.library import Library

    data = root / "data"
    if SHARED_MODEL.is_file():
        return Library.open(data, model=str(SHARED_MODEL), model_spec="efficientnet-lite0")
    sys.path.insert(0, str(REPO))
    from tests.modelgen import write_tiny_model_with_spec

    model, spec = write_tiny_model_with_spec(root / "model")
    return Library.open(data, model=str(model), model_spec=str(spec))


def indexed_window(root: Path, photos: Path, timeout: float = 120.0):
    """(app, library, window): a 1280×800 main window over a new library in ``root`` that has
    ``photos`` added and indexed."""
    from photosim.ui.app import app_icon, ensure_app
    from photosim.ui.mainwindow import MainWindow
    from photosim.ui.settings import UiSettings

    library = open_library(root)
    app = ensure_app()
    app.setWindowIcon(app_icon())
    window = MainWindow(library, UiSettings(first_run_done=True))
    window.resize(1280, 800)
    window.show()
    window.add_folders([photos])
    settle(app, 0.5)
    wait_for(app, lambda: not window.is_indexing(), timeout=timeout)
    return app, library, window


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def wait_for(app, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--models-only", action="store_true",
                        help="only the model screens (failed download, banner, Models page)")
    parser.add_argument("--videos-only", action="store_true",
                        help="only the video screens (grid with posters, a result at a time)")
    parser.add_argument("--damaged-catalog-only", action="store_true",
                        help="only the start-up offer for a catalog that cannot open")
    parser.add_argument("--real-library", type=Path, metavar="DIR",
                        help="only the shots of a real library: the labelled photos that "
                        "scripts/build_photo_set.py writes (its photos folder)")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no X server (use xvfb-run for a real one)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.models_only:
        return model_screenshots(args.out)
    if args.videos_only:
        return video_screenshots(args.out)
    if args.damaged_catalog_only:
        return damaged_catalog_screenshots(args.out)
    if args.real_library:
        return real_library_screenshots(args.real_library, args.out)
    with tempfile.TemporaryDirectory(prefix="photosim-shots-") as temp:
        root = Path(temp)
        photos = root / "Pictures"
        (photos / "Samples").mkdir(parents=True)
        pictures = sample_photos(photos / "Samples")
        make_copies(pictures, photos / "Exports")
        app, library, window = indexed_window(root, photos)
        wait_for(app, lambda: window.library_view.model.rowCount() > 0)
        shoot(app, window, args.out / "screenshot-library.png")
        window.find_similar(photos / "Samples" / "chelsea.jpg")
        wait_for(app, lambda: window.similar_view.model.rowCount() > 0)
        shoot(app, window, args.out / "screenshot-similar.png")
        shoot_weak_line(app, window, photos / "Samples" / "astronaut.jpg", args.out)
        window.tabs.setCurrentWidget(window.duplicates_view)
        wait_for(app, lambda: window.duplicates_view.model.rowCount() > 0)
        pick_group(window, "chelsea")
        shoot(app, window, args.out / "screenshot-duplicates.png", settle_s=2.0)
        window.tabs.setCurrentWidget(window.clusters_view)
        wait_for(app, lambda: window.clusters_view.model.rowCount() > 0)
        open_named_cluster(window)
        shoot(app, window, args.out / "screenshot-clusters.png", settle_s=2.0)
        shoot_named_clusters(app, window, args.out)
        window.library_view.set_search_mode(1)  # "Photo shows"
        window.search_words(SEARCH_WORD)
        wait_for(app, lambda: window.similar_view.model.rowCount() > 0)
        window.tabs.setCurrentWidget(window.library_view)
        window.library_view.filter.setText(SEARCH_WORD)
        window.tabs.setCurrentWidget(window.similar_view)
        shoot(app, window, args.out / "screenshot-search.png")
        shoot_review(app, window, photos, args.out)
        window.close()
        library.close()
    video_screenshots(args.out)
    damaged_catalog_screenshots(args.out)
    return model_screenshots(args.out)


def model_screenshots(out: Path) -> int:
    """The model screens: a download that failed offline (as on a first run), the banner of a
    model gone missing, and Settings → Models with two models installed."""
    from photosim.core.library import Library, model_store
    from photosim.ui.app import app_icon, ensure_app
    from photosim.ui.mainwindow import MainWindow
    from photosim.ui.settings import UiSettings

    app = ensure_app()
    app.setWindowIcon(app_icon())
    with tempfile.TemporaryDirectory(prefix="photosim-model-shots-") as temp:
        root = Path(temp)
        photos = root / "Pictures"
        (photos / "Samples").mkdir(parents=True)
        make_copies(sample_photos(photos / "Samples"), photos / "Exports")
        data = root / "data"
        library = Library.open(data)
        window = MainWindow(library, UiSettings(first_run_done=True))
        window.resize(1280, 800)
        window.show()
        shoot_failed_download(app, window, out / "screenshot-download-failed.png")
        store = model_store(data)
        if SHARED_MODEL.is_file():
            store.use(store.add_user_model(SHARED_MODEL, store.spec("efficientnet-lite0")).id)
        window.model_actions.reopen()
        window.add_folders([photos])
        wait_for(app, lambda: window.library_view.model.rowCount() > 0)
        wait_for(app, lambda: not window.is_indexing() and window.status is not None
                 and window.status.embedded > 0)
        shoot_models_page(app, window, store, out / "screenshot-models-page.png")
        shoot_missing_model(app, window, store, out / "screenshot-model-banner.png")
        window.close()
        window.library.close()
    return 0


def shoot_failed_download(app, window, path: Path) -> None:
    """The Welcome dialog's recommended download, offline: what failed and the ways on."""
    actions = window.model_actions
    actions.base_url = "http://127.0.0.1:9"  # a closed local port: offline, and no internet
    actions.download(then=lambda: None)
    wait_for(app, lambda: actions.failure_dialog is not None and
             actions.failure_dialog.isVisible(), timeout=120)
    dialog = actions.failure_dialog
    settle(app, 0.5)
    dialog.grab().save(str(path))
    print(f"wrote {path}")
    dialog.continue_.click()


def shoot_models_page(app, window, store, path: Path) -> None:
    """Settings → Models with the EfficientNet in use and a second model selected, so the
    cost of switching shows."""
    from photosim.core.models.adopt import inspect_model, normalisation, spec_for_unknown

    head = SHARED_MODEL.parent / "efficientnet_lite0_logits.onnx"
    if head.is_file():
        store.add_user_model(head, spec_for_unknown(head, inspect_model(head),
                                                    normalisation("symmetric")))
    dialog = window.open_settings()
    tabs = dialog.findChild(type(window.tabs))
    tabs.setCurrentIndex(1)
    page = dialog.models_page
    dialog.resize(820, 520)
    if head.is_file():
        page.select("efficientnet_lite0_logits")
        wait_for(app, lambda: "re-embeds" in page.cost.text() or "not work" in page.cost.text())
    settle(app, 0.5)
    dialog.grab().save(str(path))
    print(f"wrote {path}")
    dialog.reject()


def shoot_missing_model(app, window, store, path: Path) -> None:
    """The model in use deleted behind photosim's back: reduced mode and the banner."""
    current = store.current()
    if current is not None:
        store.model_path(current).unlink()
    window.model_actions.reopen()
    window.tabs.setCurrentWidget(window.library_view)
    wait_for(app, lambda: window.model_banner.isVisible())
    shoot(app, window, path, settle_s=2.0)


def shoot_review(app, window, photos: Path, out: Path) -> None:
    """The duplicate review of a 7-photo group in a 1024×700 window (it must fit, scrolling
    its cards), and the confirmation that lists what "Apply suggestions" trashes."""
    from photosim.ui.duplicates_view import ConfirmTrashDialog

    downloads = photos / "Downloads"
    downloads.mkdir()
    (downloads / "chelsea (1).jpg").write_bytes((photos / "Samples" / "chelsea.jpg").read_bytes())
    window.add_folders([downloads])
    settle(app, 0.5)
    wait_for(app, lambda: not window.is_indexing())
    window.showNormal()
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(window.duplicates_view)
    window.refresh_duplicates()
    wait_for(app, lambda: any(len(g.members) >= 7 for g in window.duplicates_view.model.groups()))
    pick_group(window, "chelsea (1)")
    shoot(app, window, out / "screenshot-review-7-photos.png", settle_s=2.0)
    print(f"window {window.width()}×{window.height()} with a "
          f"{len(window.duplicates_view.compare.cards)}-photo group")
    dialog = ConfirmTrashDialog(window.duplicates_view.suggested_trash(), window)
    dialog.show()
    shoot(app, dialog, out / "screenshot-confirm-trash.png")
    dialog.close()


def open_named_cluster(window) -> None:
    """Open the biggest cluster that has a real (ImageNet) name, so the shot shows one."""
    view = window.clusters_view
    for row in range(view.model.rowCount()):
        entry = view.model.entry_at(row)
        if not entry.is_misc and not entry.name.startswith(("Cluster", "Mixed")):
            view.open_row(row)
            return


def pick_group(window, name: str) -> None:
    view = window.duplicates_view
    for row, group in enumerate(view.model.groups()):
        if any(name in p.path.name for p in group.members):
            view.select_row(row)
            return


def shoot_named_clusters(app, window, out: Path) -> None:
    """The clusters tab with WordNet names ("espressos", "domestic cats") and mosaics without
    repeated near-duplicates, a named cluster opened (for issue 21's review)."""
    open_named_cluster(window)
    shoot(app, window, out / "screenshot-clusters-named.png", settle_s=2.0)


def shoot_weak_line(app, window, query: Path, out: Path) -> None:
    """Similar results for a photo with few close matches: every match shown, a line where
    they become weak (the line sits at the default 50 % unless nothing reaches it)."""
    window.find_similar(query)
    wait_for(app, lambda: window.similar_view.model.rowCount() > 0
             and window.similar_view.query == query)
    view = window.similar_view
    if view.strong_count() in (0, len(view.all_matches)):  # show the line mid-grid
        view.set_min_similarity(view.all_matches[min(3, len(view.all_matches) - 1)].score)
    shoot(app, window, out / "screenshot-similar-weak-line.png")
    view.set_min_similarity(window.settings.similar_min_score)


def encode_clip(path: Path, scenes: list[tuple[Image.Image, float]], fps: int = 15) -> None:
    """A short clip showing each picture for its seconds, encoded with PyAV (H.264)."""
    import av

    width, height = 640, 480
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for picture, seconds in scenes:
            frame = av.VideoFrame.from_image(picture.convert("RGB").resize((width, height)))
            for _ in range(round(seconds * fps)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def video_screenshots(out: Path) -> int:
    """Videos in the library: the grid with posters and lengths, and "find similar" from a
    photo answering with a clip at the time the photo's scene is on screen."""

    with tempfile.TemporaryDirectory(prefix="photosim-video-shots-") as temp:
        root = Path(temp)
        photos = root / "Phone"
        photos.mkdir()
        pictures = sample_photos(root / "Phone")
        for name in SAMPLES[6:]:
            (photos / f"{name}.jpg").unlink()  # a small library: the photos, and two clips
        encode_clip(photos / "holiday.mp4", [(pictures["astronaut"], 9), (pictures["coffee"], 8),
                                             (pictures["chelsea"], 6)])
        encode_clip(photos / "launch.mov", [(pictures["rocket"], 14), (pictures["moon"], 5)])
        query = root / "coffee_from_a_friend.jpg"
        coffee = pictures["coffee"]
        coffee.crop((40, 20, coffee.width - 40, coffee.height - 20)).save(query, quality=85)
        app, library, window = indexed_window(root, photos)
        wait_for(app, lambda: window.library_view.model.rowCount() > 0)
        shoot(app, window, out / "screenshot-library-videos.png", settle_s=2.5)
        window.find_similar(query)
        wait_for(app, lambda: window.similar_view.model.rowCount() > 0)
        shoot(app, window, out / "screenshot-similar-video.png", settle_s=2.5)
        window.close()
        library.close()
    return 0


def damaged_catalog_screenshots(out: Path) -> int:
    """A catalog whose header was zeroed: the offer the app starts with, then what the window
    on the rebuilt catalog says (where the damaged files went; the folders to add again)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from photosim.core.library import Library
    from photosim.ui.app import build_gui, ensure_app, shut_down
    from photosim.ui.health import REBUILD
    from photosim.ui.settings import UiSettings

    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="photosim-damage-shots-") as temp:
        data = Path(temp) / "data"
        (Path(temp) / "Pictures").mkdir()
        with Library.open(data) as library:
            library.add_folder(Path(temp) / "Pictures")
        UiSettings(first_run_done=True).save(data)
        with open(data / "catalog.sqlite3", "r+b") as catalog:
            catalog.write(bytes(100))  # the SQLite header: the catalog no longer opens

        def answer() -> None:
            box = app.activeModalWidget()
            if isinstance(box, QMessageBox):
                shoot(app, box, out / "screenshot-catalog-damaged-at-start.png", settle_s=0.3)
                next(b for b in box.buttons() if b.text() == REBUILD).click()
            else:
                QTimer.singleShot(50, answer)

        QTimer.singleShot(50, answer)
        window = build_gui(["--data-dir", str(data)])
        assert window is not None
        told = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
        shoot(app, told, out / "screenshot-catalog-rebuilt.png", settle_s=0.3)
        window.close()
        shut_down(window)
    return 0


def real_library_screenshots(photos: Path, out: Path) -> int:
    """Clusters of a real library (467 labelled photos and wallpapers) at the default
    granularity, and its Similar page with the weak-match line, for issue 21's review."""

    with tempfile.TemporaryDirectory(prefix="photosim-real-") as temp:
        app, library, window = indexed_window(Path(temp), photos, timeout=1800)
        window.tabs.setCurrentWidget(window.clusters_view)
        wait_for(app, lambda: window.clusters_view.model.rowCount() > 0, timeout=1800)
        shoot(app, window, out / "screenshot-clusters-real-library.png", settle_s=3.0)
        query = next(iter(sorted((photos / "birds").glob("*.jpg"))))
        window.find_similar(query)
        wait_for(app, lambda: window.similar_view.model.rowCount() > 0
                 and window.similar_view.query == query, timeout=600)
        shoot(app, window, out / "screenshot-similar-real-library.png", settle_s=3.0)
        window.close()
        library.close()
    return 0


def shoot_model_compare(app, data_dir: Path, path: Path) -> None:
    """The comparison chart of the results saved in ``data_dir`` (run 'models compare' first)."""
    from photosim.ui.model_compare_chart import ModelCompareDialog

    dialog = ModelCompareDialog(data_dir)
    dialog.show()
    shoot(app, dialog, path, settle_s=0.3)
    dialog.close()


def shoot(app, window, path: Path, settle_s: float = 1.0) -> None:
    settle(app, settle_s)  # thumbnails and pictures arrive from the worker pools
    window.grab().save(str(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
