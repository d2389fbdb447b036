"""Time to a duplicate list on real photos: index, first and later duplicate pass, and a peer.

    python benchmarks/real_dupes.py [--quick] [--work DIR] [--profile]

On the real-photo library of benchmarks/real_library.py (built once, kept in the cache),
with EfficientNet-Lite0 int8 (quantized here from /work/shared/models, calibrated on the
library's own photos): a fresh ``Library`` indexes the photos, then runs its first duplicate
pass (no verdicts stored yet; neighbour lists stored by indexing, as the app does), then a
later pass in a new session (what ``photosim dupes`` meets the next time). Wall time and CPU
time (this process and its worker processes) for each, the passes as a share of indexing.

The passes are measured at three library sizes (a quarter, half and all of the 3000-file
library's scenes, each with all its files; ``--quick``: a sixteenth, an eighth and a
quarter), and the first pass's growth extrapolated to 100k photos: a power law fitted to the
two largest sizes.

A peer run on the same files in the same run: the ``czkawka`` PyO3 binding (``pip install
czkawka``; not a dependency of photosim, installed only for this benchmark) with its default
settings; skipped, and said so, when not installed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import real_library
from photosim.core.duplicates import workers
from photosim.core.library import Library
from photosim.core.models.spec import ModelSpec
from photosim.core.types import DuplicateGroup, Photo

SHARED = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", "/work/shared/models"))
EFFICIENTNET = {"id": "efficientnet-lite0-bench-int8", "name": "EfficientNet-Lite0 int8",
                "dim": 1280, "output": "embedding", "input_name": "input", "variant": "int8",
                "preprocess": {"mean": [127.0] * 3, "std": [128.0] * 3,
                               "interpolation": "bicubic"}}


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


@dataclass(frozen=True)
class Trust:
    """What "Apply suggestions" would trash, against the library's manifest."""

    trashed: int  # members suggested for the trash
    other_shots: int  # of them, not a copy of their keeper: a burst frame, a view, another photo
    copies_found: int  # copies (manifest kinds) offered for the trash or kept over one
    copies: int
    keeper_copies: int  # groups holding an original whose keeper is made from one
    with_original: int  # groups holding an original (or a view: an original of its own)

    def __str__(self) -> str:
        return (f"{self.trashed} offered for the trash, {self.other_shots} of them another "
                f"shot or photo; copies found {self.copies_found}/{self.copies}; keeper a "
                f"copy in {self.keeper_copies} of {self.with_original} groups with an original")


def trust(groups: list[DuplicateGroup], folder: Path, manifest: dict[str, dict[str, Any]]
          ) -> Trust:
    """Score the suggestions: a member offered for the trash must show the pixels of its
    keeper or a part of them (one source photo, one region inside the other). A burst frame
    of a full-frame photo is cut from inside it, so pixels alone cannot tell it from a crop;
    two frames of a burst, two views, or a frame and a view are each their own framing."""
    def item(photo: Photo) -> dict[str, Any]:
        return manifest[photo.path.relative_to(folder).as_posix()]

    trashed = other = keeper_copies = with_original = 0
    found: set[str] = set()
    for group in groups:
        keeper = item(group.keeper)
        if any(item(p)["kind"] in _ORIGINALS for p in group.members):
            with_original += 1
            keeper_copies += keeper["kind"] not in (*_ORIGINALS, "exact")
        for photo, suggestion in zip(group.members, group.suggestions, strict=True):
            if suggestion != "trash":
                continue
            member = item(photo)
            trashed += 1
            if member["source"] != keeper["source"] or not _nested(member, keeper):
                other += 1
            else:
                found.update(str(m["path"]) for m in (member, keeper))
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    copies = [path for path in present if manifest[path]["kind"] not in (*_ORIGINALS, "burst")]
    return Trust(trashed, other, sum(c in found for c in copies), len(copies), keeper_copies,
                 with_original)


_ORIGINALS = ("original", "view")  # a view is a photo of its own, as far as its copies go


def _nested(a: dict[str, Any], b: dict[str, Any], slack: float = 0.005) -> bool:
    """Whether one item's region of the source lies inside the other's."""
    def inside(x: list[float], y: list[float]) -> bool:
        return x[0] >= y[0] - slack and x[1] >= y[1] - slack and \
            x[2] <= y[2] + slack and x[3] <= y[3] + slack
    return inside(a["region"], b["region"]) or inside(b["region"], a["region"])


@dataclass(frozen=True)
class Run:
    photos: int
    index: Timing
    first: Timing
    later: Timing
    groups: int
    trust: Trust

    def ratios(self) -> str:
        return (f"first pass {self.first.wall / self.index.wall:.1%} of index wall "
                f"({self.first.cpu / self.index.cpu:.1%} of its CPU), later pass "
                f"{self.later.wall / self.index.wall:.1%}")


def cpu_seconds() -> float:
    """CPU of this process and of its (finished or idle-reaped) worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: object) -> tuple[object, Timing]:
    """The result of ``work()`` and its wall and CPU time, its worker processes included
    (stopped at the end so that their CPU counts: the next pass starts them again, as a new
    ``photosim dupes`` process does)."""
    assert callable(work)
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    workers.shutdown()
    return result, Timing(time.perf_counter() - wall, cpu_seconds() - cpu)


def int8_model(work: Path, photos: list[Path]) -> tuple[str, str]:
    """EfficientNet-Lite0 quantized to int8 (static, calibrated on real photos), with its spec."""
    from photosim.core.quantize import quantize_model

    model, spec_path = work / "efficientnet_lite0_int8.onnx", work / "effl0_int8.json"
    if not model.is_file():
        spec = ModelSpec.from_dict(EFFICIENTNET)
        quantize_model(SHARED / "efficientnet_lite0_embed.onnx", model, photos[:40], spec)
    spec_path.write_text(json.dumps(EFFICIENTNET))
    return str(model), str(spec_path)


def subset(library: Path, share: float, out: Path) -> Path:
    """The files of the first ``share`` of the library's scenes (each with all its files),
    as hard links (no extra space) under ``out``."""
    items = json.loads((library / "manifest.json").read_text())["items"]
    scenes = sorted({i["scene"] for i in items})
    kept = set(scenes[:max(1, round(len(scenes) * share))])
    folder = out / f"share-{share:g}"
    if not folder.is_dir():
        for item in items:
            if item["scene"] in kept:
                target = folder / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(library / "photos" / item["path"], target)
    return folder


def measure(folder: Path, model: str, spec: str, manifest: dict[str, dict[str, Any]],
            profile: Path | None = None) -> Run:
    """Index ``folder`` into a fresh library, then its first duplicate pass, then a later one
    in a new session; the first pass's suggestions scored against ``manifest``."""
    with tempfile.TemporaryDirectory() as data:
        lib = Library.open(Path(data), model=model, model_spec=spec)
        report, index = timed(lambda: lib.index([folder]))
        profiler = cProfile.Profile() if profile else None
        pool_above = workers.POOL_ABOVE
        if profiler:
            # In this process, so that the profile sees the judge's work, not a wait on
            # the worker pool (its timings then stand for one core).
            workers.POOL_ABOVE = sys.maxsize
            profiler.enable()
        try:
            groups, first = timed(lib.duplicates)
        finally:
            workers.POOL_ABOVE = pool_above
        if profiler and profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").dump_stats(str(profile))
        lib.close()
        lib = Library.open(Path(data), model=model, model_spec=spec)
        _, later = timed(lib.duplicates)
        lib.close()
    added = getattr(report, "added", 0)
    assert isinstance(groups, list)
    return Run(added, index, first, later, len(groups), trust(groups, folder, manifest))


def peer(folder: Path) -> tuple[Timing, int] | str:
    """czkawka's similar-image search over ``folder`` in a child process: (time, groups), or
    why it was skipped."""
    code = ("import time, resource, sys\nfrom pathlib import Path\n"
            "from czkawka import ImageSimilarity\n"
            "f = ImageSimilarity(); f.set_directories([Path(sys.argv[1])])\n"
            "t = time.perf_counter(); g = f.find_similar(); w = time.perf_counter() - t\n"
            "r = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(w, r.ru_utime + r.ru_stime, len(g))\n")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"skipped: czkawka not usable here ({last}; pip install czkawka)"
    wall, cpu, groups = done.stdout.split()
    return Timing(float(wall), float(cpu)), int(groups)


def growth(runs: list[Run], target: int = 100_000) -> tuple[float, float]:
    """(exponent b of first-pass CPU ∝ photos^b between the two largest runs, CPU seconds
    extrapolated linearly to ``target`` photos). CPU, not wall: a shared machine's load moves
    wall time between runs far more. Linear, not the fitted power: each photo brings at most
    ``NEIGHBOURS_K`` pairs to judge, so once the per-pass start-up (spawning workers) is paid
    the work grows with the photos; a fitted b below 1 is that start-up thinning out."""
    small, big = runs[-2], runs[-1]
    b = math.log(big.first.cpu / small.first.cpu) / math.log(big.photos / small.photos)
    return b, big.first.cpu * target / big.photos


FULL_SHARES = (0.25, 0.5, 1.0)  # of the library's scenes: three sizes, to see growth
QUICK_SHARES = (0.0625, 0.125, 0.25)

# (figure, target, measured, passed: None when informative)
Row = tuple[str, str, str, bool | None]


def rows(work: Path, shares: tuple[float, ...] = FULL_SHARES, files: int = 3000,
         profile: bool = False) -> list[Row]:
    """The table's rows (for run_all.py too): the library, the passes at its largest size
    measured here, their growth, and the peer."""
    library = real_library.CACHE / f"real-library-{files}-0"
    real_library.build(library, files, 0)
    work.mkdir(parents=True, exist_ok=True)
    photos = sorted((library / "photos").rglob("*.jpg"))
    model, spec = int8_model(work, photos)
    manifest = {i["path"]: i for i in json.loads((library / "manifest.json").read_text())["items"]}
    out: list[Row] = [("real-photo library (benchmarks/real_library.py)", "-",
                       real_library.summary(library), None)]
    runs = []
    for share in shares:
        folder = subset(library, share, work / f"subsets-{files}") if share < 1 else \
            library / "photos"
        run = measure(folder, model, spec, manifest,
                      work / "first_pass.prof" if profile and share == shares[-1] else None)
        runs.append(run)
        print(f"  {run.photos} photos: index {run.index}; first pass {run.first}; later "
              f"{run.later}; {run.groups} groups; {run.ratios()}; {run.trust}", flush=True)
    full = runs[-1]
    label = f"{full.photos} real photos, EfficientNet-Lite0 int8, {os.cpu_count()} cores"
    out.append((f"first duplicate pass vs index, {label}", "<= 10 % of index",
                f"index {full.index}; first pass {full.first} = "
                f"{full.first.wall / full.index.wall:.0%} of index wall, "
                f"{full.first.cpu / full.index.cpu:.0%} of its CPU",
                full.first.wall <= 0.1 * full.index.wall))
    out.append((f"suggestions on the first pass, {full.photos} real photos",
                "0 other shots", str(full.trust), full.trust.other_shots == 0))
    out.append((f"later duplicate pass (new session) vs index, {label}", "-",
                f"{full.later} = {full.later.wall / full.index.wall:.0%} of index wall", None))
    b, at_100k = growth(runs)
    sizes = ", ".join(f"{r.photos}: {r.first.cpu:.1f} s" for r in runs)
    cores = os.cpu_count() or 1
    out.append(("first pass CPU growth, extrapolated to 100k real photos", "-",
                f"{sizes} CPU; n^{b:.2f} between the two largest; linear (at most 16 pairs a "
                f"photo) -> ~{at_100k / 60:.0f} CPU min at 100k = ~{at_100k / 60 / cores:.0f} "
                f"min on {cores} idle cores", None))
    found = peer(library / "photos" if shares[-1] == 1 else
                 subset(library, shares[-1], work / f"subsets-{files}"))
    if isinstance(found, str):
        out.append(("time to a duplicate list vs czkawka", "-", found, None))
    else:
        timing, groups = found
        mine = full.index.wall + full.first.wall
        out.append((f"time to a duplicate list vs czkawka, same {full.photos} files, same run",
                    "-", f"photosim index + first dupes {mine:.1f} s ({full.groups} groups) vs "
                    f"czkawka {timing} ({groups} groups) = {mine / timing.wall:.1f}x", None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a sixteenth, an eighth and a quarter of the library")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "photosim-real-dupes")
    parser.add_argument("--profile", action="store_true",
                        help="profile the first pass at full size into WORK/first_pass.prof "
                             "(judged in this one process, so its time is one core's)")
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}", flush=True)
    for figure, target, measured, _ in rows(args.work, QUICK_SHARES if args.quick else
                                            FULL_SHARES, profile=args.profile):
        print(f"{figure} [{target}]: {measured}")
    print(f"load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}", flush=True)
    if args.profile:
        pstats.Stats(str(args.work / "first_pass.prof")).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
