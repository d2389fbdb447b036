"""Assemble a labelled set of real photos offline, for the retrieval and cluster benchmarks.

    python scripts/build_photo_set.py [--cache DIR] [--sheets]

Sources (all offline: Debian's archive and the installed PyPI wheels):

* Tux Paint's stamps (``tuxpaint-stamps-default``): photographs of animals, food, plants,
  instruments, tools, vehicles... cut out on a transparent background, filed in category
  folders. The folder gives the labels: fine (``animals/mammals/cats`` → "cats") and coarse
  (the top folder, "animals"). Cartoon sub-folders, symbols, clothes drawings and seasonal
  clip-art are left out.
* Wallpapers (``plasma-workspace-wallpapers``, ``gnome-backgrounds``, ``ukui-wallpapers``,
  ``mate-backgrounds``), OpenCV's sample pictures (``opencv-doc``) and scikit-image's sample
  photos: labelled by hand in ``benchmarks/data/photo_set_labels.csv`` from contact sheets
  (``--sheets`` writes them).

Packages are fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into the cache (by
default ``~/.cache/photosim-photoset``); nothing is installed and nothing lands in the repo.
Photos are written as JPEG (cut-outs on white, longest side at most 1024 px) under
``<cache>/photos/<fine label>/`` with ``<cache>/photos/manifest.csv``: path, fine, coarse,
source, split. The split holds out whole fine labels (fixed seed): ``tune`` labels are the
only ones any parameter is chosen on; ``heldout`` ones only report.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
LABELS_FILE = REPO / "benchmarks" / "data" / "photo_set_labels.csv"
DEFAULT_CACHE = Path(os.environ.get("PHOTOSIM_PHOTO_SET", Path.home() / ".cache"
                                    / "photosim-photoset"))
PACKAGES = ("tuxpaint-stamps-default", "plasma-workspace-wallpapers", "gnome-backgrounds",
            "ukui-wallpapers")
MATE = Path("/usr/share/backgrounds/mate")
OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
LONGEST_SIDE = 1024
SPLIT_SEED = 21
HELDOUT_SHARE = 0.4

# Tux Paint stamp folder → (fine, coarse). Folders not listed are left out; "cartoon"
# sub-folders always are.
TUX_FOLDERS = {
    "animals/amphibians": ("amphibians", "animals"),
    "animals/birds": ("birds", "animals"),
    "animals/fish": ("fish", "animals"),
    "animals/insects": ("insects", "animals"),
    "animals/lizards": ("lizards", "animals"),
    "animals/mammals": ("other mammals", "animals"),
    "animals/mammals/apes": ("apes", "animals"),
    "animals/mammals/aquatic": ("sea mammals", "animals"),
    "animals/mammals/bears": ("bears", "animals"),
    "animals/mammals/bovines": ("bovines", "animals"),
    "animals/mammals/camel": ("camels", "animals"),
    "animals/mammals/cats": ("cats", "animals"),
    "animals/mammals/deer": ("deer", "animals"),
    "animals/mammals/dogs": ("dogs", "animals"),
    "animals/mammals/equines": ("horses", "animals"),
    "animals/mammals/rodents": ("rodents", "animals"),
    "animals/marsupials": ("marsupials", "animals"),
    "animals/shellfish": ("shellfish", "animals"),
    "food/fruit": ("fruit", "food"),
    "food/nuts": ("nuts", "food"),
    "food/vegetables": ("vegetables", "food"),
    "hobbies": ("cameras and binoculars", "household"),
    "hobbies/music/brass": ("brass instruments", "music"),
    "hobbies/music/percussion": ("drums", "music"),
    "hobbies/music/string": ("string instruments", "music"),
    "hobbies/music/wind": ("wind instruments", "music"),
    "household": ("household items", "household"),
    "household/arttools": ("art tools", "household"),
    "household/dishes": ("dishes", "household"),
    "household/dishes/utensils": ("dishes", "household"),
    "household/tools": ("tools", "household"),
    "medical": ("medical", "household"),
    "military/vehicles": ("military vehicles", "vehicles"),
    "naturalforces": ("fire and smoke", "landscape"),
    "plants": ("plants", "plants"),
    "plants/flowers": ("flowers", "plants"),
    "plants/flowers/plastic": ("flowers", "plants"),
    "plants/mushrooms": ("mushrooms", "plants"),
    "plants/trees": ("trees", "plants"),
    "space": ("spacecraft", "space"),
    "space/moon": ("moon", "space"),
    "space/planets": ("planets", "space"),
    "sports": ("sports gear", "sports"),
    "town": ("mailboxes", "town"),
    "town/roadsigns": ("road signs", "town"),
    "vehicles": ("vehicles", "vehicles"),
    "vehicles/auto": ("cars", "vehicles"),
    "vehicles/construction": ("construction vehicles", "vehicles"),
    "vehicles/cycle": ("cycles", "vehicles"),
    "vehicles/emergency": ("emergency vehicles", "vehicles"),
    "vehicles/flight": ("aircraft", "vehicles"),
    "vehicles/flight/planes": ("aircraft", "vehicles"),
    "vehicles/masstransit": ("buses", "vehicles"),
    "vehicles/race": ("cars", "vehicles"),
    "vehicles/ship": ("ships", "vehicles"),
}


def unpacked(cache: Path, package: str) -> Path:
    """The package's files under ``<cache>/x/<package>``, downloaded and unpacked once."""
    target = cache / "x" / package
    if target.is_dir():
        return target
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)  # dpkg -x makes only the last folder
    subprocess.run(["dpkg", "-x", str(deb), str(partial)], check=True)
    partial.rename(target)
    return target


def tux_stamps(cache: Path) -> Iterator[tuple[str, Path, str, str]]:
    """(key, file, fine, coarse) for the Tux Paint stamps in the listed folders."""
    root = unpacked(cache, "tuxpaint-stamps-default") / "usr/share/tuxpaint/stamps"
    for path in sorted(root.rglob("*.png")):
        folder = path.parent.relative_to(root).as_posix()
        if folder in TUX_FOLDERS and "cartoon" not in path.parts:
            fine, coarse = TUX_FOLDERS[folder]
            yield f"tux/{folder}/{path.stem}", path, fine, coarse


def hand_labelled_sources(cache: Path) -> dict[str, Path]:
    """Keys as written in the labels file → the picture file (or skimage's name)."""
    found: dict[str, Path] = {}
    plasma = unpacked(cache, "plasma-workspace-wallpapers") / "usr/share/wallpapers"
    for folder in sorted(plasma.iterdir()):
        sizes = sorted((folder / "contents" / "images").glob("*"), key=lambda p: p.stat().st_size)
        if sizes:
            found[f"plasma/{folder.name}"] = sizes[-1]
    for path in sorted(MATE.rglob("*")):
        found.setdefault(f"mate/{path.name}", path)
    for path in sorted(unpacked(cache, "gnome-backgrounds").rglob("*.webp")):
        found[f"gnome/{path.name}"] = path
    for path in sorted(unpacked(cache, "ukui-wallpapers").rglob("*")):
        found[f"ukui/{path.name}"] = path
    for path in sorted(OPENCV.glob("*")):
        found[f"opencv/{path.name}"] = path
    import skimage.data

    skimage_dir = Path(skimage.data.__file__).parent
    for path in sorted(skimage_dir.glob("*")):
        found[f"skimage/{path.stem}"] = path
    return found


def hand_labels() -> Iterator[list[str]]:
    with LABELS_FILE.open(encoding="utf-8") as handle:
        yield from csv.reader(line for line in handle if not line.startswith("#"))


def all_photos(cache: Path) -> list[tuple[str, Path, str, str]]:
    photos = list(tux_stamps(cache))
    sources = hand_labelled_sources(cache)
    for key, fine, coarse in hand_labels():
        if key not in sources:
            sys.exit(f"{key} (in {LABELS_FILE.name}) was not found among the sources")
        photos.append((key, sources[key], fine, coarse))
    return photos


def flattened(path: Path) -> Image.Image:
    """RGB, cut-outs laid on white, longest side at most ``LONGEST_SIDE``."""
    image = Image.open(path)
    image.draft("RGB", (LONGEST_SIDE, LONGEST_SIDE))
    image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("RGB")
    return image.convert("RGB")


def heldout_labels(fine_labels: set[str]) -> set[str]:
    """Whole fine labels held out from tuning, drawn with a fixed seed."""
    ordered = sorted(fine_labels)
    random.Random(SPLIT_SEED).shuffle(ordered)
    return set(ordered[:round(len(ordered) * HELDOUT_SHARE)])


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def build(cache: Path) -> Path:
    photos = all_photos(cache)
    heldout = heldout_labels({fine for _, _, fine, _ in photos})
    out = cache / "photos"
    rows = []
    for key, path, fine, coarse in photos:
        target = out / slug(fine) / f"{slug(key)}.jpg"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            flattened(path).save(target, "JPEG", quality=92)
        rows.append((target.relative_to(out).as_posix(), fine, coarse, key.split("/")[0],
                     "heldout" if fine in heldout else "tune"))
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "fine", "coarse", "source", "split"))
        writer.writerows(rows)
    tuned = sum(1 for row in rows if row[4] == "tune")
    print(f"{len(rows)} photos, {len({r[1] for r in rows})} fine / {len({r[2] for r in rows})} "
          f"coarse labels; {tuned} in tune, {len(rows) - tuned} held out -> {out}")
    return out


def contact_sheets(cache: Path, cell: int = 150, per_sheet: int = 60) -> None:
    """Numbered thumbnails of every hand-labelled source, for writing the labels file."""
    items = sorted(hand_labelled_sources(cache).items())
    for start in range(0, len(items), per_sheet):
        chunk = items[start:start + per_sheet]
        sheet = Image.new("RGB", (10 * cell, (len(chunk) + 9) // 10 * (cell + 14)), "white")
        draw = ImageDraw.Draw(sheet)
        for i, (key, path) in enumerate(chunk):
            try:
                thumb = flattened(path)
            except OSError:
                continue  # not a picture (an xml, a README)
            thumb.thumbnail((cell, cell))
            x, y = i % 10 * cell, i // 10 * (cell + 14)
            sheet.paste(thumb, (x, y))
            draw.text((x + 1, y + cell), key[-24:], fill="black")
        sheet.save(cache / f"sheet_{start // per_sheet}.png")
    print(f"contact sheets in {cache}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--sheets", action="store_true", help="write contact sheets instead")
    args = parser.parse_args()
    if args.sheets:
        contact_sheets(args.cache)
    else:
        build(args.cache)


if __name__ == "__main__":
    main()
