"""How long a CLI command takes to start, as a ratio to `python -c "import numpy, PIL.Image"`.

    python benchmarks/startup_bench.py              # 7 runs each, median
    python benchmarks/startup_bench.py --runs 15

Each figure is a whole process (interpreter start, imports, the command's work), the median of
``--runs``, timed alternately with the baseline so that a load spike on a shared machine hits
both. The target (issue 19) is at most 3x the baseline for `--version`, `--help` and `status`;
`status` runs on a small library indexed once with a generated model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 3.0
BASELINE = [sys.executable, "-c", "import numpy, PIL.Image"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "photosim", *args]


def wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_pair(command: list[str], runs: int) -> tuple[float, float]:
    """(median of ``command``, median of the baseline), run alternately."""
    ours, base = [], []
    for _ in range(runs):
        base.append(wall_seconds(BASELINE))
        ours.append(wall_seconds(command))
    return statistics.median(ours), statistics.median(base)


def small_library(work: Path) -> list[str]:
    """Global options of a 6-photo library indexed with the tiny generated model."""
    from tests.library_fixtures import make_photo_folder
    from tests.modelgen import write_tiny_model_with_spec

    model, spec = write_tiny_model_with_spec(work / "model", classifier=True)
    make_photo_folder(work / "pics", count=6)
    options = ["--data-dir", str(work / "data"), "--model", str(model), "--model-spec", str(spec)]
    subprocess.run(cli(*options, "index", str(work / "pics")), check=True,
                   stdout=subprocess.DEVNULL)
    return options


def startup_rows(runs: int) -> list[tuple[str, float, float]]:
    """(command, median seconds, ratio to the baseline) per measured command."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        options = small_library(Path(folder))
        for name, command in (("photosim --version", cli("--version")),
                              ("photosim --help", cli("--help")),
                              ("photosim status", cli(*options, "status"))):
            ours, base = median_pair(command, runs)
            rows.append((name, ours, ours / base))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}; median of {args.runs} runs")
    for name, seconds, ratio in startup_rows(args.runs):
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        print(f"{name:<20} {seconds * 1000:6.0f} ms  {ratio:4.1f}x baseline  [{verdict}]")


if __name__ == "__main__":
    main()
