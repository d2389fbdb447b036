"""Judging pairs in worker processes gives exactly the verdicts and groups of judging them in
the calling process, keeps the pixel verdicts, and hears a cancel."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.duplicates import workers
from photosim.core.duplicates.grouping import GroupingOptions, find_groups
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Relation, Snapshot
from photosim.core.duplicates.pairs import PairTable
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.duplicates.verdicts import PixelCache
from photosim.core.fingerprint import fingerprint
from photosim.core.types import DuplicateGroup, Photo
from tests.imagegen import scene


def _library() -> tuple[list[Candidate], np.ndarray, PairTable]:
    """Families of copies (resized, cropped, toned, mirrored, shifted views) of generated
    scenes, with vectors that put every family near its scene; every pair is a candidate."""
    rng = np.random.default_rng(3)
    images: list[Image.Image] = []
    vectors = []
    for seed in range(6):
        base = scene(40 + seed, (480, 360))
        centre = rng.normal(size=32)
        family = [base, base.resize((240, 180)), base.crop((30, 20, 420, 330)),
                  ImageEnhance.Brightness(base).enhance(1.2), ImageOps.mirror(base),
                  base.crop((24, 0, 480, 360)).resize((480, 360))]
        images += family
        vectors += [centre + rng.normal(scale=0.25, size=32) for _ in family]
    unit = np.stack(vectors)
    unit = (unit / np.linalg.norm(unit, axis=1, keepdims=True)).astype(np.float32)
    candidates = []
    for i, img in enumerate(images):
        digest = hashlib.sha256(img.tobytes()).hexdigest()
        photo = Photo(i, Path(f"/lib/p{i}.jpg"), 1000 + i, 0, digest, img.width, img.height,
                      "JPEG")
        candidates.append(Candidate(photo, fingerprint(img), i))
    a, b = np.triu_indices(len(images), 1)
    sims = np.einsum("pd,pd->p", unit[a], unit[b])
    keep = sims >= 0.3
    return candidates, unit, PairTable.of(a[keep], b[keep], sims[keep])


def _summary(groups: list[DuplicateGroup]) -> list[tuple[object, ...]]:
    return [(g.kind, tuple(p.id for p in g.members), g.keeper.id, g.member_kinds, g.cohesion,
             g.relations) for g in groups]


def _grouped(pool_above: int, pixel_cache: PixelCache | None,
             monkeypatch: pytest.MonkeyPatch) -> list[DuplicateGroup]:
    monkeypatch.setattr(workers, "POOL_ABOVE", pool_above)
    candidates, vectors, pairs = _library()
    return find_groups(Snapshot(candidates, vectors), pairs,
                       GroupingOptions(DedupSettings(), pixel_cache=pixel_cache))


@pytest.mark.skipif(workers.workers() < 2, reason="one core: pairs are judged in-process")
@pytest.mark.parametrize("keep_pixels", [False, True])
def test_pool_groups_exactly_as_the_calling_process(keep_pixels: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    here: PixelCache = {}
    pooled: PixelCache = {}
    alone = _grouped(10**9, here if keep_pixels else None, monkeypatch)
    shared = _grouped(0, pooled if keep_pixels else None, monkeypatch)
    assert _summary(shared) == _summary(alone)
    assert any(len(g.members) > 2 for g in alone)  # the families were found at all
    assert pooled == here  # the same pixel verdicts, to be stored


@pytest.mark.skipif(workers.workers() < 2, reason="one core: pairs are judged in-process")
def test_pool_verdicts_and_crop_sides_match_the_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "POOL_ABOVE", 0)
    candidates, vectors, pairs = _library()
    snapshot = Snapshot(candidates, vectors)
    wanted = list(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
    pooled = PairJudge(snapshot, DedupSettings())
    workers.judge_pairs(pooled, wanted)
    alone = PairJudge(snapshot, DedupSettings())
    verdicts: dict[tuple[int, int], Relation] = {}
    for i, j in wanted:
        assert not pooled.needs_pixels(i, j)  # every pair was judged in the pool
        verdicts[(i, j)] = alone(i, j)
        assert pooled.known(i, j) == verdicts[(i, j)]
    reframed = [p for p, r in verdicts.items() if r.reframed]
    assert reframed  # the crops were found
    for i, j in reframed:
        assert pooled.crop_side_known(i, j)
        assert pooled.crop_side(i, j) == alone.crop_side(i, j)


@pytest.mark.skipif(workers.workers() < 2, reason="one core: pairs are judged in-process")
def test_a_cancelled_pool_keeps_what_it_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "POOL_ABOVE", 0)
    candidates, vectors, pairs = _library()
    cancel = CancelToken()
    cancel.cancel()
    judge = PairJudge(Snapshot(candidates, vectors), DedupSettings())
    wanted = list(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
    with pytest.raises(Cancelled):
        workers.judge_pairs(judge, wanted, cancel=cancel)
    judged = [p for p in wanted if not judge.needs_pixels(*p)]
    assert len(judged) < len(wanted)  # stopped before the end...
    for i, j in judged:  # ...and what it judged holds
        assert judge.known(i, j) == PairJudge(Snapshot(candidates, vectors),
                                              DedupSettings())(i, j)


def test_workers_leave_when_their_app_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import sys, time\n"
        "from photosim.core.duplicates import workers\n"
        "if __name__ == '__main__':\n"
        "    pool = workers._shared_pool(2)\n"
        "    pool.submit(time.sleep, 0).result()\n"
        "    print(' '.join(str(p) for p in pool._processes), flush=True)\n"
        "    time.sleep(60)\n")
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert app.stdout is not None
    pids = [int(p) for p in app.stdout.readline().split()]
    assert pids
    app.kill()
    app.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(workers.workers() < 2, reason="one core: pairs are judged in-process")
def test_idle_workers_stop_and_start_again_for_the_next_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(workers, "POOL_ABOVE", 0)
    monkeypatch.setattr(workers, "IDLE_STOP_S", 0.5)
    candidates, vectors, pairs = _library()
    wanted = list(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
    workers.judge_pairs(PairJudge(Snapshot(candidates, vectors), DedupSettings()), wanted)
    pool = workers._pool
    assert pool is not None
    processes = list(pool._processes.values())  # type: ignore[union-attr]
    assert processes and all(p.is_alive() for p in processes)
    deadline = time.monotonic() + 30
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers._pool is None and not any(p.is_alive() for p in processes)
    judge = PairJudge(Snapshot(candidates, vectors), DedupSettings())
    workers.judge_pairs(judge, wanted)  # a later pass starts them again
    assert all(not judge.needs_pixels(i, j) for i, j in wanted)
    workers.shutdown()
