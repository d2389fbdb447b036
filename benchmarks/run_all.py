"""Every speed and scale figure of issue 8 in one table: figure, target, measured, pass/fail.

    python benchmarks/run_all.py            # full: 1M vectors, 200 JPEGs (an hour or more)
    python benchmarks/run_all.py --quick    # 100k vectors, 32 JPEGs (a few minutes)

Pipeline figures index generated 12-MP JPEGs through the real Library (decode, model, catalog,
index) with a ResNet-50-shaped random-weight model (same compute as the real one) in fp32 and
as static int8 (QDQ, calibrated on real photos from /usr/share/backgrounds when present), and
with the shared EfficientNet-Lite0. Each is the median of ``--repeat`` runs; next to it is the
process CPU time per image, which a busy shared machine does not inflate the way it inflates
wall time. Scale figures use synthetic vectors (benchmarks/index_bench.py, dedup_scale.py,
cluster_eval.py). The load average is printed with each figure.

GUI figures (click-to-grid, cold start, scroll frame time) come from benchmarks/gui_bench.py,
run as a subprocess so that no Qt state enters this runner; it builds (once, under ``--work``)
and drives the real app over a 100k-photo library.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import onnx

from benchmarks import (
    cancel_latency,
    cluster_eval,
    decode_memory,
    dedup_scale,
    index_bench,
    index_overhead,
    real_dupes,
    startup_bench,
    video_throughput,
)
from benchmarks.index_throughput import SHARED, make_12mp_jpegs, model_args
from photosim.core.cluster import cluster_vectors
from photosim.core.index import VectorIndex
from photosim.core.library import Library
from photosim.core.models.featurecut import FEATURES_OUTPUT, cut_to_pooled
from photosim.core.models.spec import ModelSpec
from photosim.core.quantize import embedding_agreement, quantize_model
from tests.imagegen import scene

REAL_PHOTOS = Path("/usr/share/backgrounds")
EFFICIENTNET_PRE = {"mean": [127.0] * 3, "std": [128.0] * 3, "interpolation": "bicubic"}


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    passed: bool | None  # None: informative, no target
    load: str


class Table:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, figure: str, target: str, measured: str, passed: bool | None) -> None:
        row = Row(figure, target, measured, passed, load_average())
        self.rows.append(row)
        print(f"  {figure}: {measured} [{verdict(passed)}] (load {row.load})", flush=True)

    def print(self) -> None:
        header = Row("figure", "target", "measured", None, "load 1/5/15")
        cells = [(r.figure, r.target, r.measured, verdict(r.passed) if r is not header
                  else "pass/fail", r.load) for r in [header, *self.rows]]
        widths = [max(len(c[i]) for c in cells) for i in range(5)]
        for cell in cells:
            print("  ".join(v.ljust(w) for v, w in zip(cell, widths, strict=True)).rstrip())


def verdict(passed: bool | None) -> str:
    return "-" if passed is None else ("PASS" if passed else "FAIL")


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- models ----------------------------------------------------------------------------------

def calibration_photos(work: Path) -> list[Path]:
    """Real photos when the machine has some, else generated scenes (then say so)."""
    found = sorted(p for p in REAL_PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if len(found) >= 10:
        return found
    print("  no real photos found: calibrating on generated scenes", flush=True)
    folder = work / "calibration"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(40):
        path = folder / f"scene_{seed}.jpg"
        if not path.exists():
            scene(500 + seed, (640, 480)).save(path, quality=90)
        paths.append(path)
    return paths


def write_spec(path: Path, data: dict[str, object]) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def resnet_models(work: Path, photos: list[Path]) -> dict[str, tuple[str, str]]:
    """fp32 and int8 ResNet-50-shaped models: (model path, spec path) by name."""
    fp32, fp32_spec = model_args("resnet50-random", work)
    pooled = work / "resnet50_random_pooled.onnx"
    if not pooled.exists():
        onnx.save(cut_to_pooled(onnx.load(fp32)), str(pooled))
    int8 = work / "resnet50_random_int8.onnx"
    spec = ModelSpec(id="resnet50-random-int8", name="ResNet-50 (random, int8)", dim=2048,
                     input_name="data", variant="int8")
    if not int8.exists():
        quantize_model(pooled, int8, photos[::2], spec)
    int8_spec = write_spec(work / "resnet50_random_int8.json",
                           {"id": spec.id, "name": spec.name, "dim": 2048,
                            "output": FEATURES_OUTPUT,  # already cut: the library must not cut
                            "input_name": "data", "variant": "int8"})
    return {"ResNet-50 fp32": (fp32, fp32_spec), "ResNet-50 int8": (str(int8), int8_spec)}


def efficientnet_models(work: Path, photos: list[Path], table: Table
                        ) -> dict[str, tuple[str, str]]:
    src = SHARED / "efficientnet_lite0_embed.onnx"
    if not src.is_file():
        table.add("EfficientNet-Lite0", "-", f"skipped: {src} missing", None)
        return {}
    data: dict[str, object] = {"id": "efficientnet-lite0-bench", "name": "EfficientNet-Lite0",
                               "dim": 1280, "output": "embedding", "input_name": "input",
                               "preprocess": EFFICIENTNET_PRE}
    spec = ModelSpec.from_dict(data)
    int8 = work / "efficientnet_lite0_int8.onnx"
    quantize_model(src, int8, photos[::2], spec)
    agreement = embedding_agreement(src, int8, photos[1::2], spec)
    table.add("EfficientNet-Lite0 int8 vs fp32 (held-out real photos)", "cosine >= 0.98",
              f"mean cos {agreement.mean_cosine:.3f}, min {agreement.min_cosine:.3f}, "
              f"nearest neighbour kept {agreement.top1_neighbour_agreement:.0%} "
              f"({agreement.photos} photos)", agreement.mean_cosine >= 0.98)
    int8_data = {**data, "id": "efficientnet-lite0-bench-int8", "variant": "int8"}
    return {"EfficientNet-Lite0 fp32": (str(src), write_spec(work / "effl0.json", data)),
            "EfficientNet-Lite0 int8": (str(int8), write_spec(work / "effl0_int8.json",
                                                               int8_data))}


# -- pipeline --------------------------------------------------------------------------------

def index_once(folder: Path, model: str, spec: str) -> tuple[float, float, int]:
    """(images/s wall, CPU ms per image, images) for one fresh library indexing ``folder``,
    arranged as the Library arranges it on this machine (on the CPU: each decode worker runs
    a single-threaded session on its own picture)."""
    with tempfile.TemporaryDirectory() as data:
        lib = Library.open(Path(data), model=model, model_spec=spec)
        lib.embedder()  # session start-up is not throughput
        wall, cpu = time.perf_counter(), cpu_seconds()
        report = lib.index([folder])
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        lib.close()
    if report.failed or not report.added:
        raise RuntimeError(f"indexing failed: {report}")
    return report.added / wall, 1000 * cpu / report.added, report.added


def inference_ceiling(model: str, workers: int, per_worker: int = 12) -> tuple[float, float]:
    """(images/s wall, CPU ms per image) of the model alone on random 224×224 inputs, one
    single-threaded session per core run side by side: what no pipeline can beat."""
    import onnxruntime as ort

    def session() -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    sessions = [session() for _ in range(workers)]
    name = sessions[0].get_inputs()[0].name
    batch = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    for warm in sessions:
        warm.run(None, {name: batch})

    def loop(s: ort.InferenceSession) -> None:
        for _ in range(per_worker):
            s.run(None, {name: batch})

    wall, cpu = time.perf_counter(), cpu_seconds()
    threads = [threading.Thread(target=loop, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    count = workers * per_worker
    return count / wall, 1000 * cpu / count


def pipeline_figures(table: Table, models: dict[str, tuple[str, str]], jpegs: Path,
                     repeat: int) -> None:
    targets = {"ResNet-50 fp32": 24.0, "ResNet-50 int8": 45.0}
    cores = os.cpu_count() or 1
    for name, (model, spec) in models.items():
        ceiling = inference_ceiling(model, cores)
        runs = [index_once(jpegs, model, spec) for _ in range(repeat)]
        rate = statistics.median(r[0] for r in runs)
        cpu_ms = statistics.median(r[1] for r in runs)
        target = targets.get(name)
        table.add(f"{name} inference alone, {cores} single-threaded sessions (the ceiling)", "-",
                  f"{ceiling[0]:.1f} img/s wall; {ceiling[1]:.1f} CPU ms/img", None)
        table.add(f"index 12-MP JPEGs, {name} ({runs[0][2]} images, median of {repeat})",
                  f">= {target:.0f} img/s" if target else "-",
                  f"{rate:.1f} img/s wall; {cpu_ms:.0f} CPU ms/img "
                  f"(= {1000 * cores / cpu_ms:.1f} img/s on {cores} idle cores)",
                  rate >= target if target else None)


def overhead_figures(table: Table, work: Path, count_12mp: int, repeat: int) -> None:
    """Index CPU per real photo against decoding it and running the model alone
    (benchmarks/index_overhead.py), small photos and 12-MP ones."""
    for figure, target, measured, passed in index_overhead.rows(work, count_12mp, repeat):
        table.add(figure, target, measured, passed)


# -- scale -----------------------------------------------------------------------------------

def timed(work: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def index_figures(table: Table, n: int, work: Path, queries: int) -> VectorIndex:
    dim = 2048
    vectors = index_bench.generate(work / "vectors.npy", n, dim, 3000, 0.5, 1)
    probe = index_bench.queries_like(vectors, queries, 2)
    np.save(work / "queries.npy", probe)
    truth = index_bench.exact_top(vectors, probe, 10)
    index, build_s = timed(lambda: VectorIndex.build("bench", dim, np.arange(n), vectors))
    assert isinstance(index, VectorIndex)
    index.save(work / "index")
    figures = index_bench.query_figures(index, probe, truth)
    label = f"{n // 1000}k x {dim}-d"
    table.add(f"find similar p99, k=20, {label} (build {build_s:.0f} s)", "<= 5 ms at 1M",
              f"p99 {figures['p99_ms']:.2f} ms wall, {figures['cpu_p99_ms']:.2f} ms CPU; "
              f"recall@10 {figures['recall@10']:.3f}", figures["p99_ms"] <= 5.0)
    memory = index_bench.loaded_memory(work / "index", dim, work / "queries.npy")
    resident = memory["loaded_anon_MiB"] + memory["loaded_file_MiB"]
    table.add(f"index + vectors in memory, {label}", "<= 1.5 GB at 1M",
              f"{resident:.0f} MiB resident after load + 200 queries (vector files "
              f"{memory['vector_files_MiB']:.0f} MiB on disk, read on demand)",
              resident <= 1536 * n / 1_000_000)
    return index


def duplicate_figures(table: Table, n: int, work: Path) -> None:
    """All duplicate groups of one synthetic library (benchmarks/dedup_scale.py), as the app
    finds them: ``Library.duplicates`` on a real catalog and index, in a new session, with the
    neighbour lists that indexing stored (the target row); then, for reference, the pass that
    must find every list first (once after an upgrade or a change of model), and the same
    library's two steps without a catalog (the index's neighbours, then grouping)."""
    for label, decay in (("flat features: neighbours that are not copies stay under the "
                          "CNN floors", 0.0),
                         ("features as index_bench: many non-copies above the edited floor",
                          dedup_scale.DECAY)):
        library = dedup_scale.synthetic(n, 2048, 0.2, np.random.default_rng(0), decay=decay)
        found = dedup_scale.library_duplicates(
            library, work / f"dedup-library-{n}-2048-0.2-0.0-{decay}")
        table.add(f"all duplicate groups, {n // 1000}k photos, 20 % in copy families; {label}",
                  "<= 10 s at 100k",
                  f"{found.new_session} in a new session, neighbour lists stored by indexing "
                  f"({found.groups} groups); regroup {found.regroup}",
                  found.new_session.wall <= 10.0 * n / 100_000)
        table.add(f"  the same, every neighbour list found first ({label.split(':')[0]})", "-",
                  f"{found.without_lists} (once after an upgrade or a change of model)", None)
        figures = dedup_scale.measure(n, 2048, work, decay=decay)
        table.add(f"  the same without a catalog: index neighbours + grouping "
                  f"({label.split(':')[0]})", "-", figures.summary(), None)


def real_photo_figures(table: Table, work: Path, quick: bool) -> None:
    """Index and duplicate passes on real photos (benchmarks/real_dupes.py), and a peer on
    the same files, in this run."""
    shares = real_dupes.QUICK_SHARES if quick else real_dupes.FULL_SHARES
    for figure, target, measured, passed in real_dupes.rows(work / "real-dupes", shares):
        table.add(figure, target, measured, passed)


def cluster_figures(table: Table, n: int) -> None:
    vectors, _ = cluster_eval.synthetic(n, groups=300)
    result, seconds = timed(lambda: cluster_vectors(np.arange(n), vectors))
    assert isinstance(result, tuple)
    table.add(f"clusters, {n // 1000}k x 2048-d", "<= 30 s at 100k",
              f"{seconds:.1f} s ({len(result[0])} clusters)", seconds <= 30.0 * n / 100_000)


def gui_figures(table: Table, work: Path, quick: bool) -> None:
    """The GUI bench in its own process; its rows (measured there, with the load average
    of when each was measured) join the table."""
    out = work / "gui_figures.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).with_name("gui_bench.py")), "--json", str(out),
               "--work", str(work / "gui100k"), *(["--quick"] if quick else [])]
    done = subprocess.run(command, check=False)
    if done.returncode != 0 or not out.is_file():
        table.add("GUI figures", "-", f"gui_bench.py failed (exit {done.returncode})", False)
        return
    for row in json.loads(out.read_text()):
        table.rows.append(Row(row["figure"], row["target"], row["measured"], row["passed"],
                              row["load"]))


def memory_figures(table: Table, work: Path) -> None:
    """Peak RSS decoding the worst pictures under the pixel limit (decode_memory.py), each
    in its own process."""
    for row in decode_memory.rows(work / "bombs", 13000):
        table.add(str(row["figure"]), str(row["target"]), str(row["measured"]),
                  bool(row["passed"]))
    for row in cancel_latency.rows(work, 13000):  # Ctrl-C while decoding those pictures
        table.add(str(row["figure"]), str(row["target"]), str(row["measured"]),
                  bool(row["passed"]))


def video_figures(table: Table, seconds: int = 20) -> None:
    """Indexing a 1080p30 clip through the real Library (video_throughput.py --library)."""
    took, frames, _ = video_throughput.time_library_index(seconds)
    table.add(f"video indexing, 1080p30 {seconds} s clip ({frames} frames)",
              ">= 1 video s per wall s", f"{seconds / took:.1f} video s per wall s",
              seconds / took >= 1.0)


def startup_figures(table: Table, runs: int) -> None:
    """CLI start-up as whole processes, as a ratio to importing numpy and Pillow."""
    for name, seconds, ratio in startup_bench.startup_rows(runs):
        table.add(f"start-up: {name}", f"<= {startup_bench.TARGET_RATIO:.0f}x numpy+PIL",
                  f"{seconds * 1000:.0f} ms = {ratio:.1f}x",
                  ratio <= startup_bench.TARGET_RATIO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k vectors, 32 JPEGs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "photosim-bench")
    parser.add_argument("--skip", default="",
                        help="comma list: startup,pipeline,overhead,video,index,dedup,realdupes,"
                             "cluster,gui,memory")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    n_vectors, n_jpegs = (100_000, 32) if args.quick else (1_000_000, 200)
    print(f"cpu: {cpu_model()}, {os.cpu_count()} cores; load {load_average()}", flush=True)
    table = Table()
    args.work.mkdir(parents=True, exist_ok=True)
    if "startup" not in skip:
        startup_figures(table, max(args.repeat, 7))
    if "pipeline" not in skip:
        photos = calibration_photos(args.work)
        jpegs = args.work / f"jpegs12mp_{n_jpegs}"
        make_12mp_jpegs(jpegs, n_jpegs)
        models = {**resnet_models(args.work, photos),
                  **efficientnet_models(args.work, photos, table)}
        pipeline_figures(table, models, jpegs, args.repeat)
    if "overhead" not in skip:
        overhead_figures(table, args.work, 16 if args.quick else 48, args.repeat)
    if "video" not in skip:
        video_figures(table)
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        if "index" not in skip:
            index_figures(table, n_vectors, Path(folder), 200 if args.quick else 300)
    if "dedup" not in skip:
        duplicate_figures(table, 100_000, args.work)
    if "realdupes" not in skip:
        real_photo_figures(table, args.work, args.quick)
    if "cluster" not in skip:
        cluster_figures(table, 100_000)
    if "gui" not in skip:
        gui_figures(table, args.work, args.quick)
    if "memory" not in skip:
        memory_figures(table, args.work)
    print(f"\ncpu: {cpu_model()}, {os.cpu_count()} cores; mode: "
          f"{'quick' if args.quick else 'full'}")
    table.print()


if __name__ == "__main__":
    main()
