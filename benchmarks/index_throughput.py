"""Indexing throughput through the real pipeline and catalog, and similar-query latency.

    python benchmarks/index_throughput.py [--count 48] [--model shared|resnet50-random|PATH]

Generates distinct 12-megapixel JPEGs (cached in --work), indexes them into a fresh library
and prints images/s, then times `Library.similar` on the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.resnet50_random import build_resnet50
from photosim.core.library import Library
from tests.imagegen import scene

SHARED = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", Path(__file__).parents[2] / "shared"
                             / "models"))


def make_12mp_jpegs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    base = scene(1, (1000, 750))
    for i in range(count):
        path = folder / f"img_{i:04d}.jpg"
        if not path.exists():
            # Distinct content at full 4000x3000: a different small scene blended in, upscaled.
            img = scene(100 + i, (1000, 750)).resize((4000, 3000))
            img.paste(base.resize((800, 600)), (i * 37 % 3000, i * 53 % 2300))
            img.save(path, quality=90)
        paths.append(path)
    return paths


def model_args(choice: str, work: Path) -> tuple[str, str]:
    if choice == "shared":
        return str(SHARED / "efficientnet_lite0_embed.onnx"), "efficientnet-lite0"
    if choice == "resnet50-random":
        onnx_path = work / "resnet50_random.onnx"
        if not onnx_path.exists():
            build_resnet50(onnx_path)
        spec = work / "resnet50_random.json"
        spec.write_text(json.dumps({"id": "resnet50-random", "name": "ResNet-50 (random)",
                                    "dim": 2048, "output": "pooled", "input_name": "data"}))
        return str(onnx_path), str(spec)
    return choice, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--model", default="shared")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "photosim-bench")
    args = parser.parse_args()
    photos = make_12mp_jpegs(args.work / "jpegs12mp", args.count)
    model, spec = model_args(args.model, args.work)
    with tempfile.TemporaryDirectory() as data:
        lib = Library.open(Path(data), model=model, model_spec=spec or None)
        lib.embedder()  # session creation is start-up cost, not throughput
        start = time.perf_counter()
        report = lib.index([photos[0].parent])
        elapsed = time.perf_counter() - start
        timings = []
        for path in photos[: min(20, len(photos))]:
            t0 = time.perf_counter()
            lib.similar(path, k=20)
            timings.append((time.perf_counter() - t0) * 1000)
        provider = lib.status().provider
        lib.close()
    print(f"cpu: {platform.processor() or platform.machine()}  cores: {os.cpu_count()}  "
          f"model: {args.model}  provider: {provider}")
    print(f"indexed {report.added} 12-MP JPEGs in {elapsed:.1f} s: "
          f"{report.added / elapsed:.1f} images/s (failed {report.failed})")
    print(f"similar (k=20) over {report.added} photos: median {statistics.median(timings):.2f} ms,"
          f" max {max(timings):.2f} ms")


if __name__ == "__main__":
    main()
