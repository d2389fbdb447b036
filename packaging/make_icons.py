"""Render ``resources/icons/photosim.svg`` into the PNG, ICO and ICNS icons that get committed.

Desktops pick a raster icon from the freedesktop "hicolor" theme by size, Windows wants an
``.ico`` for the executable and the installer, macOS an ``.icns`` for the app bundle. One SVG is
the source of all of them; run this again after editing it:

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from PIL import Image

ICON_NAME = "photosim"
# The sizes the hicolor theme spec lists for applications, plus 512 for HiDPI and AppStream.
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn on a transparent ``size``x``size`` canvas, as PNG bytes."""
    # Qt is imported here so that importing this module (e.g. from tests) stays cheap.
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    if QGuiApplication.instance() is None:
        # A full QApplication, not a QGuiApplication: a process that later opens widgets
        # (the test suite does) cannot upgrade the application object afterwards.
        _keep_app_alive.append(QApplication([sys.argv[0]]))
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


_keep_app_alive: list[object] = []


def hicolor_path(icons_dir: Path, size: int) -> Path:
    return icons_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def write_all(svg: Path, icons_dir: Path) -> list[Path]:
    """Write every raster icon next to ``svg``; returns the files written."""
    written = []
    renders: dict[int, Image.Image] = {}
    for size in HICOLOR_SIZES:
        target = hicolor_path(icons_dir, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_png(svg, size))
        renders[size] = Image.open(io.BytesIO(target.read_bytes())).convert("RGBA")
        written.append(target)
    written.append(_write_ico(icons_dir / f"{ICON_NAME}.ico", renders))
    written.append(_write_icns(icons_dir / f"{ICON_NAME}.icns", renders[512]))
    return written


def _write_ico(target: Path, renders: dict[int, Image.Image]) -> Path:
    # Pillow builds each ICO entry by scaling the image it is given; start from the largest.
    renders[256].save(target, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    return target


def _write_icns(target: Path, largest: Image.Image) -> Path:
    largest.save(target, format="ICNS")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=ICONS_DIR / f"{ICON_NAME}.svg")
    parser.add_argument("--out", type=Path, default=ICONS_DIR, help="icons folder to fill")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for path in write_all(args.svg, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
