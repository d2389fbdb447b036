"""How fast the decoder turns photos into model-sized pixels, in ms per image.

    python benchmarks/decode_bench.py [--repeat N]

Generates its own files (a 12 MP baseline and progressive JPEG, a 12 MP HEIC with an embedded
thumbnail) in a temporary folder and times: a full decode, the DCT-scaled draft decode to a
256 px shorter side, the same for the progressive JPEG, and the HEIC full decode versus the
embedded-thumbnail path. It also times EXIF rotation of a full versus a draft-sized picture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photosim.core.decode import load_rgb, register_plugins
from tests.imagegen import scene

TWELVE_MP = (4000, 3000)


def median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm caches and lazy plugin loading
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_files(folder: Path) -> dict[str, Path]:
    register_plugins()
    picture = scene(1, TWELVE_MP)
    files = {"jpeg": folder / "12mp.jpg", "progressive": folder / "12mp-progressive.jpg",
             "heic": folder / "12mp.heic"}
    picture.save(files["jpeg"], quality=90)
    picture.save(files["progressive"], quality=90, progressive=True)
    picture.save(files["heic"], quality=80, thumbnails=[320])
    return files


def report(label: str, ms: float, size: tuple[int, int]) -> None:
    print(f"{label:<44} {ms:8.1f} ms/image   -> {size[0]}x{size[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp))
        cases = [
            ("JPEG 12 MP full decode", files["jpeg"], 0),
            ("JPEG 12 MP draft decode, min_side 256", files["jpeg"], 256),
            ("progressive JPEG 12 MP full decode", files["progressive"], 0),
            ("progressive JPEG 12 MP draft, min_side 256", files["progressive"], 256),
            ("HEIC 12 MP full decode, min_side 1000", files["heic"], 1000),
            ("HEIC 12 MP embedded thumbnail, min_side 224", files["heic"], 224),
        ]
        for label, path, min_side in cases:
            ms = median_ms(lambda p=path, m=min_side: load_rgb(p, m), repeat)
            report(label, ms, load_rgb(path, min_side).image.size)
    full, small = scene(2, TWELVE_MP), scene(2, (500, 375))
    for label, picture in (("EXIF rotation of the 12 MP picture", full),
                           ("EXIF rotation of the 500x375 draft", small)):
        ms = median_ms(lambda p=picture: p.transpose(Image.Transpose.ROTATE_270), repeat)
        report(label, ms, picture.size[::-1])


if __name__ == "__main__":
    main()
