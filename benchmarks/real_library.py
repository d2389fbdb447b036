"""A real-photo benchmark library: several thousand files made from real photos, built once.

    python benchmarks/real_library.py [--out DIR] [--files 3000] [--seed 0]

The photos come from packages available offline: scikit-image's sample photos (in its
wheel), ``mate-backgrounds`` and ``opencv-doc`` where installed, and these Debian packages,
fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into a cache (no root, no
install): ``plasma-workspace-wallpapers``, ``lomiri-wallpapers-16.04``,
``lomiri-wallpapers-20.04``, ``ukui-wallpapers`` and ``gcompris-qt-data`` (its Qt resource
files hold a few hundred real photos: animals, monuments, words). A package that cannot be
fetched is left out, and the build says so.

From them a library is laid out the way a real one looks, deterministically (``--seed``):

* every photo once, at a size drawn from 0.3-12 MP (never above its own), JPEG mostly, some
  PNG and WebP; large photos also give a few *views* (other regions, other zooms): different
  photos of one scene, the look-alikes that pass the pixel gate and reach the judge;
* *copies* of some photos: exact, recompressed, resized, another format, cropped, tone
  edits, grayscale, mirrored, watermarked;
* *bursts*: a few frames with the framing moved by 1-4 %, a slight zoom and exposure change,
  half of them with EXIF capture times a second apart.

``manifest.json`` beside the photos records each file's family (one photo and its copies),
scene (its views and bursts too) and kind. The library is kept under ``--out`` (by default in
the user's cache, never in the repository) and reused while its recipe is unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "photosim-bench"
PACKAGES = ("plasma-workspace-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04",
            "ukui-wallpapers", "gcompris-qt-data")
INSTALLED = (Path("/usr/share/backgrounds/mate"),
             Path(os.environ.get("OPENCV_SAMPLE_DATA", "/usr/share/doc/opencv-doc/examples/data")))
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png",
                  "camera.png", "moon.png", "coins.png")
MIN_SOURCE_PIXELS = 200_000  # smaller pictures in the packages are icons and drawings
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
SIZE_SUFFIX = re.compile(r"[_-]\d{3,5}x\d{3,5}$")  # a picture's name at one of its sizes
RECIPE = 2  # raise when the layout below changes: a kept library is then rebuilt
COPY_KINDS = ("exact", "recompressed", "resized", "png", "webp", "cropped", "tone", "grayscale",
              "mirrored", "watermark")


@dataclass(frozen=True)
class Item:
    """One file of the library: where it goes and how it is made from its source."""

    path: str  # relative to the library's photos/ folder
    source: str  # the source photo's path
    family: int  # one photo and its copies
    scene: int  # a source photo: its views, copies and bursts
    kind: str  # original, view, burst or one of COPY_KINDS
    region: tuple[float, float, float, float]  # left, top, right, bottom, as source fractions
    pixels: int  # target size
    fmt: str  # JPEG, PNG or WEBP
    quality: int
    edit: str  # a copy's edit, "" for none
    seed: int
    taken: str  # EXIF capture time, "" for none


# -- sources ---------------------------------------------------------------------------------

def sources(cache: Path) -> list[Path]:
    """Every real photo available here, big enough to be one, in a stable order."""
    found: list[Path] = []
    import skimage.data

    skimage_dir = Path(skimage.data.__file__).parent
    found += [skimage_dir / name for name in SKIMAGE_PHOTOS if (skimage_dir / name).is_file()]
    for folder in INSTALLED:
        found += _images_under(folder)
    for package in PACKAGES:
        root = _unpacked(package, cache)
        if root is None:
            continue
        if package == "gcompris-qt-data":
            found += _gcompris_photos(root, cache / "gcompris")
        elif package == "plasma-workspace-wallpapers":
            found += _largest_per_wallpaper(root)
        else:
            found += _images_under(root)
    return _one_size_each([p for p in found if _is_photo(p)])


def _one_size_each(paths: list[Path]) -> list[Path]:
    """The largest of the sizes one picture ships at (``Elephants.jpg`` beside
    ``Elephants_3840x2160.jpg``): the others are resized copies of it, not photos of their own,
    so the manifest would count grouping them as joining different photos."""
    largest: dict[tuple[Path, str], Path] = {}
    for path in paths:
        key = (path.parent, SIZE_SUFFIX.sub("", path.stem).lower())
        if key not in largest or _pixels(path) > _pixels(largest[key]):
            largest[key] = path
    keep = set(largest.values())
    return [p for p in paths if p in keep]


def _images_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        print(f"  not here, left out: {folder}", flush=True)
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _is_photo(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            return im.width * im.height >= MIN_SOURCE_PIXELS and im.mode in ("RGB", "RGBA", "L")
    except OSError:
        return False


def _unpacked(package: str, cache: Path) -> Path | None:
    """The package's files, fetched and unpacked into the cache once; None when it cannot be."""
    root = cache / "debs" / package
    if (root / ".done").is_file():
        return root
    download = cache / "debs" / "download"
    download.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", package], cwd=download, check=True,
                       capture_output=True, timeout=600)
        deb = next(download.glob(f"{package}_*.deb"))
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError, StopIteration) as exc:
        print(f"  {package}: cannot fetch it here ({exc}), left out", flush=True)
        return None
    deb.unlink()
    (root / ".done").touch()
    return root


def _largest_per_wallpaper(root: Path) -> list[Path]:
    """Plasma ships each wallpaper at several sizes: the largest of each is the photo."""
    best: dict[Path, Path] = {}
    for path in _images_under(root):
        if path.parent.name != "images":
            continue  # dark variants and screenshots
        with Image.open(path) as im:
            size = im.width * im.height
        folder = path.parent.parent.parent
        if folder not in best or size > _pixels(best[folder]):
            best[folder] = path
    return [best[k] for k in sorted(best)]


def _pixels(path: Path) -> int:
    with Image.open(path) as im:
        return im.width * im.height


def _gcompris_photos(root: Path, out: Path) -> list[Path]:
    """The photos inside GCompris's Qt resource files, written out once as files."""
    if not (out / ".done").is_file():
        out.mkdir(parents=True, exist_ok=True)
        for rcc in sorted(root.rglob("*.rcc")):
            for name, data in _rcc_files(rcc.read_bytes()):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    flat = f"{rcc.stem}__{name.strip('/').replace('/', '_')}"
                    (out / flat).write_bytes(data)
        (out / ".done").touch()
    return _images_under(out)


def _rcc_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, contents) of each file in a Qt resource file (format versions 1-3; zlib-packed
    entries unpacked, zstd ones skipped)."""
    magic, version, tree, payload, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres":
        return
    entry_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset:names + offset + 2])
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        at = tree + index * entry_size
        name_offset, flags = struct.unpack(">IH", data[at:at + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:  # a directory: its children
            count, first = struct.unpack(">II", data[at + 6:at + 14])
            stack.extend((first + c, path) for c in range(count))
            continue
        (offset,) = struct.unpack(">I", data[at + 10:at + 14])
        start = payload + offset
        (size,) = struct.unpack(">I", data[start:start + 4])
        body = data[start + 4:start + 4 + size]
        if flags & 4:
            continue
        yield path, zlib.decompress(body[4:]) if flags & 1 else body


# -- the plan --------------------------------------------------------------------------------

def plan(photos: Sequence[Path], files: int, seed: int) -> list[Item]:
    """Which files the library holds: every source photo (and views of the large ones) once,
    then copies and bursts of them, round after round, until ``files``."""
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    originals: list[Item] = []
    family = 0
    for scene, path in enumerate(photos):
        size = _pixels(path)
        regions = [(0.0, 0.0, 1.0, 1.0)]
        if size >= 4_000_000:
            regions += [_view(rng) for _ in range(int(rng.integers(2, 5)))]
        for v, region in enumerate(regions):
            item = _photo(rng, path, family, scene, "original" if v == 0 else "view", region,
                          size, f"{_folder(path)}/{path.stem}{'' if v == 0 else f'_v{v}'}")
            items.append(item)
            originals.append(item)
            family += 1
    order = rng.permutation(len(originals))
    turn = 0
    while len(items) < files:
        base = originals[int(order[turn % len(order)])]
        turn += 1
        if rng.random() < 0.3:
            items += _burst(rng, base, family, files - len(items))
            family += 1
        else:
            kinds = rng.choice(COPY_KINDS, size=int(rng.integers(1, 4)), replace=False)
            items += [_copy(rng, base, str(kind)) for kind in kinds[:files - len(items)]]
    return items


def _view(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Another region of a large photo: 35-70 % of each side, anywhere."""
    side = float(rng.uniform(0.35, 0.7))
    left, top = (float(v) for v in rng.uniform(0.0, 1.0 - side, 2))
    return left, top, left + side, top + side


def _folder(path: Path) -> str:
    return hashlib.sha1(str(path.parent).encode()).hexdigest()[:6]


def _target_pixels(rng: np.random.Generator, available: int) -> int:
    """0.3-12 MP, log-uniform, most photos small as in a phone-and-downloads library."""
    drawn = float(np.exp(rng.uniform(np.log(0.3e6), np.log(12e6))))
    return int(min(drawn, available))


def _photo(rng: np.random.Generator, path: Path, family: int, scene: int, kind: str,
           region: tuple[float, float, float, float], size: int, name: str) -> Item:
    area = (region[2] - region[0]) * (region[3] - region[1])
    pixels = _target_pixels(rng, int(size * area))
    fmt = str(rng.choice(["JPEG"] * 8 + ["PNG", "WEBP"])) if pixels <= 3_000_000 else "JPEG"
    taken = ""
    if rng.random() < 0.5:
        day, second = int(rng.integers(1, 28)), int(rng.integers(0, 86_000))
        taken = f"2023:05:{day:02d} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    return Item(f"{name}{_suffix(fmt)}", str(path), family, scene, kind, region, pixels, fmt,
                int(rng.integers(85, 96)), "", int(rng.integers(1 << 30)), taken)


def _copy(rng: np.random.Generator, base: Item, kind: str) -> Item:
    fmt, pixels, quality, region = base.fmt, base.pixels, base.quality, base.region
    if kind == "recompressed":
        fmt, quality = "JPEG", int(rng.integers(50, 80))
    elif kind == "resized":
        pixels = int(pixels * rng.uniform(0.1, 0.5))
    elif kind in ("png", "webp"):
        fmt, pixels = kind.upper(), min(pixels, 3_000_000)
    elif kind == "cropped":
        cut = rng.uniform(0.05, 0.2, 4) * [1, 1, -1, -1]
        width, height = region[2] - region[0], region[3] - region[1]
        region = (region[0] + cut[0] * width, region[1] + cut[1] * height,
                  region[2] + cut[2] * width, region[3] + cut[3] * height)
        pixels = int(pixels * (1 + cut[2] - cut[0]) * (1 + cut[3] - cut[1]))
    stem = base.path.rsplit(".", 1)[0]
    name = f"copies/{Path(stem).name}_{kind}_{int(rng.integers(1 << 20)):05x}"
    return Item(f"{name}{_suffix(fmt)}", base.source, base.family, base.scene, kind, region,
                max(pixels, 60_000), fmt, quality, kind, int(rng.integers(1 << 30)), base.taken)


def _burst(rng: np.random.Generator, base: Item, family: int, room: int) -> list[Item]:
    """2-5 more frames of the shot: the framing moved by 1-4 %, zoomed by up to 3 %."""
    frames = []
    left, top, right, bottom = base.region
    for frame in range(1, min(int(rng.integers(2, 6)), room) + 1):
        shift = rng.uniform(-0.04, 0.04, 2) * (right - left)
        zoom = float(rng.uniform(0.0, 0.03)) * (right - left)
        region = (max(0.0, left + shift[0] + zoom), max(0.0, top + shift[1] + zoom),
                  min(1.0, right + shift[0] - zoom), min(1.0, bottom + shift[1] - zoom))
        taken = _later(base.taken, frame)
        stem = base.path.rsplit(".", 1)[0]
        frames.append(Item(f"bursts/{Path(stem).name}_b{family}_{frame}.jpg", base.source,
                           family, base.scene, "burst", region, base.pixels, "JPEG",
                           base.quality, f"exposure {rng.uniform(0.92, 1.08):.3f}",
                           int(rng.integers(1 << 30)), taken))
    return frames


def _later(taken: str, seconds: int) -> str:
    if not taken:
        return ""
    hms = [int(v) for v in taken[11:].split(":")]
    total = min(hms[0] * 3600 + hms[1] * 60 + hms[2] + seconds, 86_399)
    return f"{taken[:11]}{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def _suffix(fmt: str) -> str:
    return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[fmt]


# -- making the files ------------------------------------------------------------------------

def make_files(items: Sequence[Item], photos_dir: Path, workers: int) -> None:
    """Write every item, each source decoded once (its items go to one worker together)."""
    by_source: dict[str, list[Item]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item)
    jobs = [(group, str(photos_dir)) for group in by_source.values()]
    with ProcessPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(_make_group, jobs), 1):
            if done % 50 == 0 or done == len(jobs):
                print(f"  {done}/{len(jobs)} sources written", flush=True)


def _make_group(job: tuple[list[Item], str]) -> None:
    items, out = job
    with Image.open(items[0].source) as im:
        source = ImageOps.exif_transpose(im).convert("RGB")
    written: dict[int, Path] = {}  # family → its original's file, for exact copies
    for item in items:
        path = Path(out, item.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if item.kind == "exact" and item.family in written:
            shutil.copyfile(written[item.family], path)
            continue
        picture = _edited(_cut(source, item), item)
        _save(picture, path, item)
        if item.kind in ("original", "view"):
            written[item.family] = path


def _cut(source: Image.Image, item: Item) -> Image.Image:
    left, top, right, bottom = item.region
    box = (round(left * source.width), round(top * source.height),
           round(right * source.width), round(bottom * source.height))
    region = source.crop(box)
    scale = min(1.0, (item.pixels / max(region.width * region.height, 1)) ** 0.5)
    size = (max(32, round(region.width * scale)), max(32, round(region.height * scale)))
    return region.resize(size, Image.Resampling.LANCZOS) if size != region.size else region


def _edited(picture: Image.Image, item: Item) -> Image.Image:
    rng = np.random.default_rng(item.seed)
    if item.edit == "tone":
        picture = ImageEnhance.Brightness(picture).enhance(float(rng.uniform(0.8, 1.2)))
        return ImageEnhance.Contrast(picture).enhance(float(rng.uniform(0.8, 1.25)))
    if item.edit == "grayscale":
        return picture.convert("L").convert("RGB")
    if item.edit == "mirrored":
        return ImageOps.mirror(picture)
    if item.edit == "watermark":
        draw = ImageDraw.Draw(picture)
        size = max(12, picture.width // 20)
        x, y = picture.width - 8 * size, picture.height - 2 * size
        draw.rectangle((x, y, x + 7 * size, y + size), fill=(255, 255, 255))
        draw.text((x + size // 4, y), "© my photo", fill=(0, 0, 0))
        return picture
    if item.edit.startswith("exposure"):
        picture = ImageEnhance.Brightness(picture).enhance(float(item.edit.split()[1]))
        noise = rng.normal(0.0, 2.0, (picture.height, picture.width, 3))
        return Image.fromarray(np.clip(np.asarray(picture) + noise, 0, 255).astype(np.uint8))
    return picture


def _save(picture: Image.Image, path: Path, item: Item) -> None:
    exif = Image.Exif()
    if item.taken:
        exif.get_ifd(0x8769)[0x9003] = item.taken
    options: dict[str, object] = {"exif": exif.tobytes()} if item.taken else {}
    if item.fmt == "JPEG":
        picture.save(path, "JPEG", quality=item.quality, **options)
    elif item.fmt == "WEBP":
        picture.save(path, "WEBP", quality=item.quality, **options)
    else:
        picture.save(path, "PNG", compress_level=3)


# -- the library -----------------------------------------------------------------------------

def build(out: Path, files: int, seed: int, workers: int | None = None) -> Path:
    """The library's photos folder under ``out``, built unless the same recipe is there."""
    photos_dir, manifest = out / "photos", out / "manifest.json"
    recipe = {"recipe": RECIPE, "files": files, "seed": seed}
    if manifest.is_file() and json.loads(manifest.read_text()).get("recipe") == recipe:
        return photos_dir
    print(f"building a real-photo library of {files} files in {out}", flush=True)
    found = sources(CACHE / "sources")
    if not found:
        raise SystemExit("no real photos found (see the module's docstring)")
    items = plan(found, files, seed)
    print(f"  {len(found)} source photos, {len(items)} files", flush=True)
    shutil.rmtree(photos_dir, ignore_errors=True)
    make_files(items, photos_dir, workers or os.cpu_count() or 1)
    manifest.write_text(json.dumps({"recipe": recipe, "items": [asdict(i) for i in items]}))
    return photos_dir


def summary(out: Path) -> str:
    items = json.loads((out / "manifest.json").read_text())["items"]
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    pixels = np.array([i["pixels"] for i in items]) / 1e6
    total = sum(p.stat().st_size for p in (out / "photos").rglob("*") if p.is_file())
    return (f"{len(items)} files, {len({i['source'] for i in items})} source photos, "
            f"{total / 1e9:.2f} GB; {pixels.min():.2f}-{pixels.max():.1f} MP "
            f"(median {np.median(pixels):.1f}); kinds " +
            ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="default: under ~/.cache/photosim-bench")
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out or CACHE / f"real-library-{args.files}-{args.seed}"
    build(out, args.files, args.seed)
    print(summary(out))


if __name__ == "__main__":
    sys.exit(main())
