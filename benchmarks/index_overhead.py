"""What indexing costs per photo beyond decoding it and running the model, as a ratio.

    python benchmarks/index_overhead.py [--sets small,12mp] [--count-12mp 24] [--profile]

Two libraries of real photos, built once under ``--work``:

* ``small``: the OpenCV sample pictures (0.05-1.4 MP JPEG and PNG, as shipped) and the MATE
  wallpapers re-saved at about 1 MP;
* ``12mp``: the MATE nature wallpapers (and their mirror images) cropped to 4:3 and scaled up
  to 4000x3000 JPEGs (quality 90).

For each it measures, as process CPU time (what a busy shared machine does not inflate):

* **decode + model alone**: each photo opened with Pillow, decoded at reduced size (JPEG
  draft mode) just large enough for the model, its centre square resampled to 224 px and
  normalised as the model's README prescribes, and run through the same single-threaded ONNX
  session the library uses on a CPU, on as many threads side by side as the library uses;
* **index**: a fresh ``Library.index`` of the same folder (hashing, EXIF, fingerprints,
  catalog writes, vector index, neighbour lists, saves), split into the pipeline and the
  neighbour-list stage at its end; measured after one warm-up index of a few photos, so
  that a process's one-time imports are not spread over the photos.

The ratio index / (decode + model) is the figure; the target is <= 1.2. The model is
EfficientNet-Lite0 from the shared model folder, quantised to int8 as the app does (cached
under ``--work``). ``--profile`` adds a cProfile of one index run per set (top functions).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image, ImageOps

from benchmarks.index_throughput import SHARED
from photosim.core.library import Library
from photosim.core.models.runtime import ModelSession
from photosim.core.models.spec import ModelSpec, Preprocess
from photosim.core.pipeline import IndexPipeline, default_workers
from photosim.core.quantize import quantize_model
from photosim.core.types import Progress, Stage

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MATE = Path("/usr/share/backgrounds/mate")
TARGET_RATIO = 1.2
T = TypeVar("T")
RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
EFFICIENTNET = {"id": "efficientnet-lite0-bench-int8", "name": "EfficientNet-Lite0 (int8)",
                "dim": 1280, "output": "embedding", "input_name": "input", "variant": "int8",
                "preprocess": {"mean": [127.0] * 3, "std": [128.0] * 3,
                               "interpolation": "bicubic"}}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def host() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return f"{os.cpu_count()} cores"


# -- photo sets --------------------------------------------------------------------------------

def _pictures(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)


def small_photos(folder: Path) -> list[Path]:
    """Real 0.05-1.4 MP pictures: OpenCV's samples copied as they are, MATE wallpapers re-saved
    at about 1 MP. Distinct bytes each, so no photo is skipped as a copy of another."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in _pictures(OPENCV_DATA, (".jpg", ".png")):
        with Image.open(source) as im:
            if im.width * im.height < 40_000 or im.width * im.height > 1_500_000:
                continue
        target = folder / f"cv_{source.name}"
        if not target.exists():
            target.write_bytes(source.read_bytes())
    for source in _pictures(MATE, (".jpg", ".png")):
        target = folder / f"mate_{source.stem}.jpg"
        if not target.exists():
            with Image.open(source) as im:
                picture = im.convert("RGB")
            scale = math.sqrt(1_000_000 / (picture.width * picture.height))
            picture.resize((round(picture.width * scale), round(picture.height * scale)),
                           Image.Resampling.LANCZOS).save(target, quality=90)
    return sorted(folder.iterdir())


def photos_12mp(folder: Path, count: int) -> list[Path]:
    """4000x3000 JPEGs scaled up from real photos (and their mirror images)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = _pictures(MATE / "nature", (".jpg",)) or _pictures(OPENCV_DATA, (".jpg",))
    paths = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"{i:03d}_{source.stem}.jpg"
        if not target.exists():
            with Image.open(source) as im:
                picture = ImageOps.fit(im.convert("RGB"), (4000, 3000),
                                       Image.Resampling.BICUBIC)
            if (i // len(sources)) % 2:
                picture = ImageOps.mirror(picture)
            picture.save(target, quality=90)
        paths.append(target)
    return paths


# -- the model -----------------------------------------------------------------------------

def int8_model(work: Path) -> tuple[Path, Path]:
    """EfficientNet-Lite0 quantised as the app quantises it, calibrated on real photos."""
    model, spec_path = work / "effl0_int8_overhead.onnx", work / "effl0_int8_overhead.json"
    spec_path.write_text(json.dumps(EFFICIENTNET))
    if not model.exists():
        calibration = _pictures(MATE, (".jpg",))[::2] or _pictures(OPENCV_DATA, (".jpg",))[::3]
        quantize_model(SHARED / "efficientnet_lite0_embed.onnx", model, calibration,
                       ModelSpec.from_dict(EFFICIENTNET))
    return model, spec_path


# -- the measurements --------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    decode_ms: float  # CPU per photo: open, reduced-size decode, RGB, crop and normalise
    model_ms: float  # CPU per photo: one single-threaded inference

    @property
    def total_ms(self) -> float:
        return self.decode_ms + self.model_ms


def model_input(rgb: Image.Image, pre: Preprocess) -> np.ndarray:
    """The model's documented preprocessing, written out plainly (not the library's code, so
    that the baseline does not move with it): the centred square that the resize-then-crop
    framing keeps, resampled straight to the input size, then normalised, channels first."""
    side = min(rgb.size) * pre.size / pre.resize_shorter
    left, top = (rgb.width - side) / 2, (rgb.height - side) / 2
    square = rgb.resize((pre.size, pre.size), RESAMPLE[pre.interpolation],
                        box=(left, top, left + side, top + side))
    pixels = (np.asarray(square, np.float32) - np.float32(pre.mean)) / np.float32(pre.std)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def decode_and_model(photos: Sequence[Path], model: Path, spec: ModelSpec,
                     workers: int) -> Baseline:
    """The least an indexer must do per photo, on ``workers`` threads side by side (as many
    as the library's pipeline runs, so both meet the same contention for the cores)."""
    session = ModelSession(model, spec, None, threads=1)
    pre = spec.preprocess
    session.run(model_input(Image.new("RGB", (pre.size, pre.size)), pre)[None])  # warm up
    totals: list[tuple[float, float]] = []

    def work(share: Sequence[Path]) -> None:
        decode_s = model_s = 0.0
        for path in share:
            start = time.thread_time()
            with Image.open(path) as im:
                scale = pre.resize_shorter / min(im.size)
                if scale < 1:
                    im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))
                tensor = model_input(im.convert("RGB"), pre)
            middle = time.thread_time()
            session.run(tensor[None])
            decode_s += middle - start
            model_s += time.thread_time() - middle
        totals.append((decode_s, model_s))

    threads = [threading.Thread(target=work, args=(photos[i::workers],))
               for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count = len(photos)
    return Baseline(1000 * sum(t[0] for t in totals) / count,
                    1000 * sum(t[1] for t in totals) / count)


@dataclass(frozen=True)
class IndexCost:
    photos: int
    pipeline_ms: float  # CPU per photo until the neighbour-list stage starts
    total_ms: float  # CPU per photo of the whole ``Library.index`` call
    wall_s: float

    @property
    def neighbours_ms(self) -> float:
        return self.total_ms - self.pipeline_ms


def index_cost(folder: Path, model: Path, spec: Path,
               profiles: list[cProfile.Profile] | None = None) -> IndexCost:
    """Process CPU of one fresh ``Library.index`` of ``folder`` (every thread counted)."""
    marks: dict[str, float] = {}

    def progress(update: Progress) -> None:
        if update.stage == Stage.PREPARING_DUPLICATES and "neighbours" not in marks:
            marks["neighbours"] = cpu_seconds()

    with tempfile.TemporaryDirectory() as data:
        lib = Library.open(Path(data), model=str(model), model_spec=str(spec))
        lib.embedder()  # starting the session is start-up, not per-photo work
        wall, cpu = time.perf_counter(), cpu_seconds()
        with _profiled(profiles):
            report = lib.index([folder], progress=progress)
        end = cpu_seconds()
        wall = time.perf_counter() - wall
        lib.close()
    if report.failed or not report.added:
        raise RuntimeError(f"indexing failed: {report}")
    count = report.added
    pipeline_end = marks.get("neighbours", end)
    return IndexCost(count, 1000 * (pipeline_end - cpu) / count, 1000 * (end - cpu) / count,
                     wall)


@dataclass(frozen=True)
class Overhead:
    label: str
    baseline: Baseline
    index: IndexCost

    @property
    def ratio(self) -> float:
        return self.index.total_ms / self.baseline.total_ms

    def summary(self) -> str:
        b, i = self.baseline, self.index
        return (f"index {i.total_ms:.1f} CPU ms/photo (pipeline {i.pipeline_ms:.1f} + "
                f"neighbour lists {i.neighbours_ms:.1f}) vs decode {b.decode_ms:.1f} + model "
                f"{b.model_ms:.1f} = {b.total_ms:.1f}: ratio {self.ratio:.2f} "
                f"({i.photos} photos)")


def warm_up(photos: Sequence[Path], model: Path, spec: Path, count: int = 4) -> None:
    """Index a few of the photos once in a throwaway library, so that what only the first
    run of a process pays (importing scipy for the duplicate finder's pixel gate: ~0.2 s, 2 ms
    a photo of the small set) is not counted as per-photo work; the baseline warms its
    session likewise."""
    with tempfile.TemporaryDirectory() as folder:
        for path in photos[:count]:
            shutil.copyfile(path, Path(folder) / path.name)
        index_cost(Path(folder), model, spec)


def measure(label: str, photos: Sequence[Path], model: Path, spec: Path,
            repeat: int = 1, profile: bool = False) -> Overhead:
    """Baseline and index alternately, ``repeat`` times; the medians (lower is noisier)."""
    model_spec = ModelSpec.from_dict(json.loads(spec.read_text()))
    workers = default_workers()
    warm_up(photos, model, spec)
    baselines, costs = [], []
    for _ in range(repeat):
        baselines.append(decode_and_model(photos, model, model_spec, workers))
        costs.append(index_cost(photos[0].parent, model, spec))
    if profile:
        profiles: list[cProfile.Profile] = []
        index_cost(photos[0].parent, model, spec, profiles)
        _print_profile(label, profiles, len(photos))
    return Overhead(label, _median(baselines, lambda b: b.total_ms),
                    _median(costs, lambda c: c.total_ms))


@contextlib.contextmanager
def _profiled(profiles: list[cProfile.Profile] | None) -> Iterator[None]:
    """Profile, in CPU time, the calling thread and each decode worker's ``_prepare`` (decoding,
    fingerprinting, inference) into a profile per worker, all appended to ``profiles``:
    cProfile sees only the thread that enabled it, and most of indexing runs elsewhere."""
    if profiles is None:
        yield
        return
    workers: dict[int, cProfile.Profile] = {}
    original = IndexPipeline._prepare

    def prepare(pipeline: IndexPipeline, job: Any) -> Any:
        own = workers.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
        own.enable()
        try:
            return original(pipeline, job)
        finally:
            own.disable()

    caller = cProfile.Profile(time.thread_time)
    IndexPipeline._prepare = prepare  # type: ignore[method-assign]
    caller.enable()
    try:
        yield
    finally:
        caller.disable()
        IndexPipeline._prepare = original  # type: ignore[method-assign]
        profiles.extend([caller, *workers.values()])


def _median(items: list[T], key: Callable[[T], float]) -> T:
    return sorted(items, key=key)[len(items) // 2]


# The steps a photo goes through while indexing, as the profile names them.
_STEPS = frozenset({
    "_prepare", "content_hash", "content_hash_and_bytes", "known_info", "has_vector",
    "load_rgb", "_info_of", "_check_jpeg_frame_header", "fingerprint", "prepare", "run",
    "_flush", "_embed", "upsert_photo", "put_vector", "put_classes", "_publish", "save_index",
    "update_neighbour_lists", "drop_orphan_vectors", "_check_catalog", "_check_index",
    "_process", "index_folders", "transaction",
})


def _print_profile(label: str, profiles: Sequence[cProfile.Profile], photos: int) -> None:
    """The top functions by own time over every thread, then the cumulative time per photo
    of each step a worker takes (what a photo pays for beyond decode and model)."""
    out = io.StringIO()
    stats = pstats.Stats(*profiles, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    print(f"--- profile of one index run, {label} (CPU time, all threads, with the "
          "profiler's own overhead) ---")
    print(out.getvalue())
    print(f"--- per photo, cumulative ({photos} photos) ---")
    table = cast(dict[tuple[str, int, str], tuple[Any, ...]], stats.stats)  # type: ignore[attr-defined]
    for (file, _, name), row in sorted(table.items(), key=lambda kv: -kv[1][3]):
        if name in _STEPS:
            print(f"  {1000 * row[3] / photos:7.2f} ms  {name} ({Path(file).name})")


LABELS = {"small": "small real photos (0.05-1.4 MP JPEG/PNG)",
          "12mp": "12-MP JPEGs scaled up from real photos"}


def photo_sets(work: Path, names: Sequence[str], count_12mp: int) -> dict[str, list[Path]]:
    sets = {}
    if "small" in names:
        sets["small"] = small_photos(work / "small_real")
    if "12mp" in names:
        sets["12mp"] = photos_12mp(work / f"real12mp_{count_12mp}", count_12mp)
    return sets


def rows(work: Path, count_12mp: int, repeat: int) -> list[tuple[str, str, str, bool]]:
    """(figure, target, measured, passed) for benchmarks/run_all.py, one per photo set."""
    model, spec = int8_model(work)
    found = []
    for name, photos in photo_sets(work, ("small", "12mp"), count_12mp).items():
        result = measure(name, photos, model, spec, repeat)
        found.append((f"index CPU per photo / (decode + model alone), {LABELS[name]}, "
                      f"EfficientNet-Lite0 int8 (median of {repeat})",
                      f"<= {TARGET_RATIO}", result.summary(), result.ratio <= TARGET_RATIO))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="small,12mp")
    parser.add_argument("--count-12mp", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "photosim-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model, spec = int8_model(args.work)
    print(f"host: {host()}; load {load_average()}", flush=True)
    for label, photos in photo_sets(args.work, args.sets.split(","), args.count_12mp).items():
        result = measure(label, photos, model, spec, args.repeat, args.profile)
        verdict = "PASS" if result.ratio <= TARGET_RATIO else "FAIL"
        print(f"{label}: {result.summary()} [{verdict}, target <= {TARGET_RATIO}] "
              f"(load {load_average()})", flush=True)


if __name__ == "__main__":
    main()
