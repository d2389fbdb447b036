"""Copy-to-searchable latency of watched folders, through the real watcher and Library.

    python benchmarks/watch_latency.py [--singles 20] [--burst 500] [--size 1600x1200]
                                       [--model shared|tiny|PATH] [--polling]

A photo counts as searchable when the watcher's ``index_paths`` call that carried it has
returned: its vector is in the index and ``Library.similar`` finds it (checked at the end).
Latency is measured from the moment the copy finished (``shutil.copy2`` returned) to then.

* singles: one photo copied in at a time, each waited for;
* burst: ``--burst`` photos copied in back to back (as from a camera card), latency per photo.

The model is the shared EfficientNet-Lite0 when present (``--model shared``, the default),
else the tiny test model; the default settle time (1 s) and debounce (0.5 s) are the app's.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photosim.core.library import Library
from photosim.core.watcher import INDEXED, MAX_BATCH, LibraryWatcher
from tests.imagegen import scene
from tests.modelgen import write_tiny_model_with_spec

SHARED = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR",
                             Path(__file__).resolve().parents[2] / "shared" / "models"))


class Stopwatch:
    """When each path was handed over and searchable (the watcher's on_change)."""

    def __init__(self) -> None:
        self.indexed_at: dict[Path, float] = {}
        self.batches: list[int] = []
        self._cv = threading.Condition()

    def on_change(self, kind: str, paths: list[Path]) -> None:
        if kind != INDEXED:
            return
        now = time.perf_counter()
        with self._cv:
            self.batches.append(len(paths))
            self.indexed_at.update(dict.fromkeys(paths, now))
            self._cv.notify_all()

    def wait_for(self, paths: list[Path], timeout: float) -> None:
        with self._cv:
            if not self._cv.wait_for(lambda: all(p in self.indexed_at for p in paths), timeout):
                missing = [p for p in paths if p not in self.indexed_at]
                raise SystemExit(f"{len(missing)} photos never became searchable")


def make_sources(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Distinct JPEGs at ``size`` (cached): a small scene upscaled, cheap to generate."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"src_{size[0]}x{size[1]}_{i:04d}.jpg"
        if not path.exists():
            scene(1000 + i, (size[0] // 4, size[1] // 4)).resize(size).save(path, quality=90)
        paths.append(path)
    return paths


def model_args(choice: str, work: Path) -> tuple[str, str]:
    if choice == "shared" and (SHARED / "efficientnet_lite0_embed.onnx").is_file():
        return str(SHARED / "efficientnet_lite0_embed.onnx"), "efficientnet-lite0"
    if choice in ("shared", "tiny"):
        if choice == "shared":
            print(f"shared model not found in {SHARED}: using the tiny test model")
        model, spec = write_tiny_model_with_spec(work / "tiny", classifier=False)
        return str(model), str(spec)
    return choice, ""


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{name:<14} n={len(ordered):<4} median {statistics.median(ordered):6.2f} s   "
            f"p95 {p95:6.2f} s   max {ordered[-1]:6.2f} s")


def run_singles(sources: list[Path], root: Path, watch: Stopwatch) -> list[float]:
    latencies = []
    for src in sources:
        dest = root / src.name
        shutil.copy2(src, dest)
        copied = time.perf_counter()
        watch.wait_for([dest], timeout=60)
        latencies.append(watch.indexed_at[dest] - copied)
    return latencies


def run_burst(sources: list[Path], root: Path, watch: Stopwatch) -> tuple[list[float], float]:
    copied: dict[Path, float] = {}
    start = time.perf_counter()
    for src in sources:
        dest = root / src.name
        shutil.copy2(src, dest)
        copied[dest] = time.perf_counter()
    watch.wait_for(list(copied), timeout=1800)
    total = max(watch.indexed_at[p] for p in copied) - start
    return [watch.indexed_at[p] - t for p, t in copied.items()], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=20)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--size", default="1600x1200", help="photo size WxH")
    parser.add_argument("--model", default="shared", help="shared, tiny, or an .onnx path")
    parser.add_argument("--polling", action="store_true", help="use the polling observer")
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH,
                        help=f"photos per index_paths call (default {MAX_BATCH})")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir())
                        / "photosim-watch-bench", help="cache for generated photos")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    assert len(size) == 2
    sources = make_sources(args.work / "sources", args.singles + args.burst, (size[0], size[1]))
    with tempfile.TemporaryDirectory(prefix="photosim-watch-") as tmp:
        root = Path(tmp, "library").resolve()
        (root / "singles").mkdir(parents=True)
        (root / "burst").mkdir()
        model, spec = model_args(args.model, Path(tmp))
        library = Library.open(Path(tmp, "data"), model=model, model_spec=spec or None)
        library.add_folder(root)
        library.similar(sources[0], k=1)  # load the model and the index before timing
        watch = Stopwatch()
        watcher = LibraryWatcher(library, [root], polling=args.polling,
                                 max_batch=args.max_batch, on_change=watch.on_change)
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
              f"model {library.status().model_name} on {library.status().provider}; "
              f"photos {size[0]}x{size[1]}; {'polling' if args.polling else 'native'} observer; "
              f"at most {args.max_batch} photos per index_paths")
        with watcher:
            singles = run_singles(sources[:args.singles], root / "singles", watch)
            batches_before = len(watch.batches)
            burst, total = run_burst(sources[args.singles:], root / "burst", watch)
        found = library.similar(root / "burst" / sources[-1].name, k=5)
        assert found, "the last photo of the burst is not searchable"
        assert library.status().embedded == args.singles + args.burst
        print(summary("single files", singles))
        print(summary(f"burst of {args.burst}", burst))
        print(f"burst: last photo searchable {total:.1f} s after the first copy began "
              f"({args.burst / total:.1f} photos/s), in {len(watch.batches) - batches_before} "
              f"index_paths call(s)")
        library.close()


if __name__ == "__main__":
    main()
