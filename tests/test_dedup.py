"""Duplicate grouping: kinds told apart, chain-safe groups, remembered decisions, fast pairs."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from photosim.core.duplicates import gate, geometry
from photosim.core.duplicates import pairs as pair_module
from photosim.core.duplicates.grouping import GroupingOptions, find_groups
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Candidate, Level, Snapshot
from photosim.core.duplicates.pairs import PairTable, hash_pairs
from photosim.core.duplicates.prefilter import could_relate
from photosim.core.duplicates.settings import DedupSettings
from photosim.core.fingerprint import Fingerprint, fingerprint, hamming
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo
from tests.imagegen import scene


def _photo(pid: int, img: Image.Image | None = None, content: str | None = None,
           folder: str = "/lib", date: str | None = None) -> Photo:
    w, h = img.size if img is not None else (640, 480)
    digest = content or hashlib.sha256(img.tobytes() if img else str(pid).encode()).hexdigest()
    return Photo(pid, Path(folder) / f"p{pid}.jpg", 1000 + pid, 0, digest, w, h, "JPEG", date)


def _jpeg(img: Image.Image, quality: int = 70) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _candidates(images: list[Image.Image], **photo_kwargs: object) -> list[Candidate]:
    return [Candidate(_photo(i, img), fingerprint(img), i) for i, img in enumerate(images)]


def _groups(candidates: list[Candidate], vectors: np.ndarray | None,
            pairs: list[tuple[int, int, float]], settings: DedupSettings,
            gate_scores: np.ndarray | None = None, **options: Any) -> list[DuplicateGroup]:
    """find_groups over pairs written as ``(i, j, score)``."""
    table = PairTable.of([p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs],
                         gate_scores)
    return find_groups(Snapshot(candidates, vectors), table,
                       GroupingOptions(settings, **options))


def _all_pairs(vectors: np.ndarray) -> list[tuple[int, int, float]]:
    sims = vectors @ vectors.T
    return [(i, j, float(sims[i, j])) for i, j in itertools.combinations(range(len(vectors)), 2)]


def _kinds(groups: list[DuplicateGroup]) -> dict[DuplicateKind, list[set[int]]]:
    """Per kind, the photos each group holds at that kind or a stricter one: its keeper and
    the members so related to it (as the per-kind groups before the partition were)."""
    order = list(DuplicateKind)
    out: dict[DuplicateKind, list[set[int]]] = {}
    for g in groups:
        for kind in g.kinds():
            out.setdefault(kind, []).append(
                {p.id for p, k in zip(g.members, g.member_kinds, strict=True)
                 if k is None or order.index(k) <= order.index(kind)})
    return out


def test_kinds_are_told_apart() -> None:
    rng = np.random.default_rng(0)
    original = scene(10, (640, 480))
    shot = scene(11, (640, 480))  # a different picture of "the same scene": the CNN agrees
    images = [original, _jpeg(original.resize((320, 240))), original.crop((40, 30, 560, 420)),
              ImageOps.mirror(original), shot, scene(12)]
    base, other = rng.normal(size=64), rng.normal(size=64)
    vectors = _unit(np.stack([base + rng.normal(scale=s, size=64) for s in
                              (0.0, 0.05, 0.3, 0.3, 0.3)] + [other]))
    candidates = _candidates(images)
    exact = Candidate(replace(_photo(6, content=candidates[0].photo.content_hash),
                              size=candidates[0].photo.size), candidates[0].fingerprint, 0)
    groups = _groups([*candidates, exact], vectors, _all_pairs(vectors), DedupSettings())
    # One group per photo: the picture, its copies of every kind and the other shot, each
    # member with its own relation to the keeper.
    assert len(groups) == 1
    group = groups[0]
    assert group.keeper.id == 0  # the identical copies' first by path
    assert _member_kinds(group) == {0: None, 6: DuplicateKind.EXACT, 1: DuplicateKind.SAME,
                                    2: DuplicateKind.EDITED, 3: DuplicateKind.EDITED,
                                    4: DuplicateKind.SIMILAR}
    assert group.kind is DuplicateKind.EDITED  # its loosest copy; the shot is not a copy
    assert group.kinds() == {DuplicateKind.EXACT, DuplicateKind.SAME, DuplicateKind.EDITED,
                             DuplicateKind.SIMILAR}


def _member_kinds(group: DuplicateGroup) -> dict[int, DuplicateKind | None]:
    return {p.id: k for p, k in zip(group.members, group.member_kinds, strict=True)}


def test_exact_copies_need_no_vectors_or_fingerprints() -> None:
    candidates = [Candidate(_photo(i, content="same" if i < 3 else f"x{i}"), None, None)
                  for i in range(5)]
    groups = _groups(candidates, None, [], DedupSettings())
    assert [(g.kind, {p.id for p in g.members}, g.cohesion) for g in groups] == \
        [(DuplicateKind.EXACT, {0, 1, 2}, 1.0)]


def test_no_chaining_through_a_middle_photo() -> None:
    # A≈B and B≈C by the CNN, but A and C are far apart: never one group.
    a, c = np.zeros(3, np.float32), np.zeros(3, np.float32)
    a[0], c[1] = 1, 1
    b = _unit(a + c)
    vectors = np.stack([a, b, c])
    candidates = [Candidate(_photo(i), None, i) for i in range(3)]
    settings = DedupSettings(similar_cosine=0.7)
    groups = _groups(candidates, vectors, _all_pairs(vectors), settings)
    assert len(groups) == 1
    assert {p.id for p in groups[0].members} in ({0, 1}, {1, 2})
    assert groups[0].cohesion == pytest.approx(float(a @ b), abs=1e-6)


def test_not_duplicate_decisions_are_never_proposed_again() -> None:
    img = scene(20)
    images = [img, _jpeg(img, 80), _jpeg(img.resize((320, 240)), 60)]
    candidates = _candidates(images)
    blocked = [frozenset({0, 1})]
    groups = _groups(candidates, None, [], DedupSettings(), not_duplicates=blocked)
    for g in groups:
        assert not {0, 1} <= {p.id for p in g.members}
    assert any(len(g.members) == 2 for g in groups)


def test_group_reports_central_member_first_and_keeper_from_reference_folder() -> None:
    img = scene(21, (800, 600))
    photos = [Photo(0, Path("/ref/a.jpg"), 10, 0, "a", 400, 300, "JPEG"),
              Photo(1, Path("/lib/b.jpg"), 99, 0, "b", 800, 600, "JPEG"),
              Photo(2, Path("/lib/c.jpg"), 50, 0, "c", 640, 480, "JPEG")]
    prints = [fingerprint(img.resize((400, 300))), fingerprint(img), fingerprint(_jpeg(img))]
    candidates = [Candidate(p, f, None) for p, f in zip(photos, prints, strict=True)]
    groups = _groups(candidates, None, [], DedupSettings(),
                         reference_folders=[Path("/ref")])
    assert len(groups) == 1 and groups[0].kind is DuplicateKind.SAME
    assert groups[0].keeper.id == 0 and "reference folder" in groups[0].keep_reason
    assert 0 < groups[0].cohesion <= 1
    assert len(groups[0].members) == 3


def test_different_capture_times_are_never_copies() -> None:
    img = scene(22)
    candidates = [Candidate(_photo(0, img, date="2024-05-01T10:00:00"), fingerprint(img), None),
                  Candidate(_photo(1, _jpeg(img), date="2024-05-01T10:00:09"),
                            fingerprint(_jpeg(img)), None)]
    groups = _groups(candidates, None, [], DedupSettings())
    assert all(g.kind is DuplicateKind.SIMILAR for g in groups)


def test_threshold_maps_to_settings() -> None:
    assert DedupSettings.from_threshold(None) == DedupSettings()
    assert DedupSettings.from_threshold(0.8).similar_cosine == 0.8
    with pytest.raises(ValueError):
        DedupSettings.from_threshold(1.5)


def test_neighbour_pairs_are_unique_above_floor_and_map_ids_to_rows() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng.normal(size=(50, 8)))
    ids = np.arange(1000, 1050)

    def query_batch(v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = v @ vectors.T
        order = np.argsort(-sims, axis=1)[:, :k]
        return ids[order], np.take_along_axis(sims, order, axis=1)

    pairs = pair_module.neighbour_pairs_from_index(query_batch, vectors, 5, 0.3,
                                                 row_ids=ids).triples()
    seen = {(i, j) for i, j, _ in pairs}
    assert len(seen) == len(pairs) and all(i < j for i, j in seen)
    for i, j, s in pairs:
        assert s >= 0.3 and s == pytest.approx(float(vectors[i] @ vectors[j]), abs=1e-5)
    best = int(np.argsort(-(vectors @ vectors[0]))[1])
    if float(vectors[0] @ vectors[best]) >= 0.3:
        assert (0, best) in seen


def _random_print(h: int) -> Fingerprint:
    grid = np.zeros((21, 28), np.uint8)
    return Fingerprint(h, h, h, 0.0, 4 / 3, grid, np.zeros((8, 8, 3), np.uint8))


def test_hash_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(2)
    hashes = [int(x) for x in rng.integers(0, 2**63, size=400, dtype=np.int64)]
    for i in range(0, 100, 2):  # plant near copies at 1..9 bits
        flips = rng.choice(64, size=1 + i % 9, replace=False)
        hashes[i + 1] = hashes[i] ^ int(sum(1 << int(b) for b in flips))
    prints: list[Fingerprint | None] = [_random_print(h) for h in hashes]
    prints[3] = None
    found = {(i, j) for i, j, _ in hash_pairs(prints, 8).triples()}
    expected = {(i, j) for i, j in itertools.combinations(range(len(hashes)), 2)
                if prints[i] and prints[j] and hamming(hashes[i], hashes[j]) <= 8}
    assert found == expected and len(expected) >= 40


@pytest.mark.timeout(120)
def test_real_model_groups_copies_and_keeps_different_photos_apart(
        real_model_dir: Path) -> None:
    """Real photos, the real model: copies grouped by kind, different photos never."""
    import onnxruntime as ort
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    coffee = Image.fromarray(data.coffee())
    images = [astronaut, _jpeg(astronaut.resize((256, 256)), 60),
              astronaut.crop((40, 20, 460, 440)), astronaut.convert("L").convert("RGB"),
              ImageOps.mirror(astronaut), coffee, _jpeg(coffee, 50),
              Image.fromarray(data.chelsea()), Image.fromarray(data.rocket())]
    session = ort.InferenceSession(str(real_model_dir / "efficientnet_lite0_embed.onnx"),
                                   providers=["CPUExecutionProvider"])
    vectors = _unit(session.run(None, {"input": np.stack([_model_input(i) for i in images])})[0])
    groups = _groups(_candidates(images), vectors, _all_pairs(vectors), DedupSettings())
    kinds = _kinds(groups)
    assert {0, 1} in kinds[DuplicateKind.SAME] and {5, 6} in kinds[DuplicateKind.SAME]
    # Grayscale and mirrored copies and the 82 % crop are edits of one picture.
    assert {0, 1, 2, 3, 4} in kinds[DuplicateKind.EDITED]
    assert all(2 not in m for m in kinds[DuplicateKind.SAME])
    for members in (m for found in kinds.values() for m in found):
        assert members <= {0, 1, 2, 3, 4} or members <= {5, 6}


def _model_input(img: Image.Image) -> np.ndarray:
    """EfficientNet-Lite0 preprocessing (see the shared model README)."""
    side = int(0.875 * min(img.size))
    left, top = (img.width - side) // 2, (img.height - side) // 2
    crop = img.convert("RGB").crop((left, top, left + side, top + side))
    x = (np.asarray(crop.resize((224, 224), Image.Resampling.BICUBIC), np.float32) - 127) / 128
    return x.transpose(2, 0, 1)


# -- pixel evidence ---------------------------------------------------------------------------
def _smooth_grid(seed: int, shape: tuple[int, int] = (21, 28)) -> np.ndarray:
    """A photo-like grayscale grid: random blobs, smooth at the cell scale."""
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).normal(size=shape)
    grid = gaussian_filter(noise, 1.5)
    return ((grid - grid.min()) / np.ptp(grid) * 220 + 20).astype(np.float32)


def test_a_tone_curve_costs_nothing_and_a_shift_costs_everything() -> None:
    grid = _smooth_grid(1)
    curved = np.clip(255 * (grid / 255) ** 0.6 * 1.3, 0, 255).astype(np.float32)  # gamma, clip
    shifted = np.roll(grid, 2, axis=1)
    tone, moved = geometry.tone_residuals(np.stack([grid, grid]), curved, 0.06), \
        geometry.tone_residuals(np.stack([grid, grid]), shifted, 0.06)
    assert tone.max() < 0.1 < 1.0 < moved.min()


def test_a_crop_fits_inside_its_original_and_a_shifted_view_does_not() -> None:
    wide = _smooth_grid(2, (30, 40))
    original = wide[4:25, 4:32]  # a 21 × 28 view of the scene
    crop = geometry.resize_grid(original[3:18, 4:24], (21, 28))  # 71 % of it, enlarged
    shifted = wide[4:25, 10:38]  # the scene re-shot 6 cells to the right
    fit = geometry.containment(original, crop, 0.45, 0.6, 0.06)
    miss = geometry.containment(original, shifted, 0.45, 0.6, 0.06)
    assert fit.residual < DedupSettings().crop_residual < DedupSettings().crop_residual_loose \
        < miss.residual



def test_a_crop_search_finds_the_same_fit_from_kept_windows() -> None:
    """The windows of a photo's grid are kept for its next crop search: a search that finds
    them kept must reach the fit a search from scratch reaches, and nothing may change them."""
    wide = _smooth_grid(2, (30, 40))
    original = wide[4:25, 4:32]
    smalls = (geometry.resize_grid(original[3:18, 4:24], (21, 28)), wide[4:25, 10:38])
    from_scratch = []
    for small in smalls:
        geometry._windows.clear()
        from_scratch.append(geometry.containment(original, small, 0.45, 0.6, 0.06))
    kept = [geometry.containment(original, small, 0.45, 0.6, 0.06) for small in smalls]
    assert kept == from_scratch
    assert not any(w.flags.writeable for w in geometry._centred_windows(original, (12, 16)))

def test_a_crop_joins_its_originals_watermarked_copy_but_not_a_reshot_view() -> None:
    """Crop and watermark together hide the crop from a direct comparison; the original, whose
    framing the watermarked copy shares, vouches for it. A re-shot view containing the
    cropped region is not pulled in by the crop."""
    from PIL import ImageDraw, ImageEnhance

    wide = scene(21, (800, 480))
    original = wide.crop((80, 0, 720, 480))
    marked = ImageEnhance.Brightness(original).enhance(1.4)
    ImageDraw.Draw(marked).text((30, 400), "© a photographer", fill=(255, 255, 255),
                                font_size=48)
    crop = original.crop((200, 100, 600, 400))
    reshot = wide.crop((160, 0, 800, 480))
    candidates = _candidates([original, marked, crop, reshot])
    judge = PairJudge(Snapshot(candidates), DedupSettings())
    assert judge(1, 2).level is None  # too much edited for a direct verdict
    assert judge(0, 1).level == judge(0, 2).level == Level.EDITED
    groups = _groups(candidates, None,
                         [(i, j, 0.0) for i, j in itertools.combinations(range(4), 2)],
                     DedupSettings())
    edited = _kinds(groups).get(DuplicateKind.EDITED, [])
    assert {0, 1, 2} in edited
    assert all(3 not in members for members in edited)


def test_a_reshot_scene_stays_beside_every_copy_of_the_shot() -> None:
    """A grayscale copy falls far from a re-shot in the CNN's view; the shot it copies vouches
    for it, so the similar-scene group holds the copy too. Unrelated photos stay out."""
    rng = np.random.default_rng(3)
    shot, reshot = scene(31, (640, 480)), scene(32, (640, 480))
    gray = ImageOps.grayscale(shot).convert("RGB")
    base = rng.normal(size=64)
    vectors = _unit(np.stack([base, base + 0.35 * rng.normal(size=64),
                              base + 1.2 * rng.normal(size=64), rng.normal(size=64)]))
    images = [shot, reshot, gray, scene(33)]
    cos = vectors @ vectors.T
    assert cos[0, 1] >= 0.9 > cos[1, 2]  # the re-shot looks like the shot, not like its copy
    groups = _groups(_candidates(images), vectors, _all_pairs(vectors), DedupSettings())
    kinds = _kinds(groups)
    assert {0, 2} in kinds[DuplicateKind.EDITED]
    assert {0, 1, 2} in kinds[DuplicateKind.SIMILAR]


def test_each_member_says_how_it_differs_from_the_keeper() -> None:
    original = scene(41, (640, 480))
    images = [original, _jpeg(original.resize((320, 240))),
              original.crop((80, 60, 560, 420)), ImageOps.mirror(original)]
    candidates = [Candidate(_photo(i, img), fingerprint(img), None)
                  for i, img in enumerate(images)]
    candidates[0] = Candidate(replace(candidates[0].photo, size=50_000),  # the keeper
                              candidates[0].fingerprint, None)
    candidates[2] = Candidate(replace(candidates[2].photo, format="PNG"),
                              candidates[2].fingerprint, None)
    groups = _groups(candidates, None,
                         [(i, j, 0.0) for i, j in itertools.combinations(range(4), 2)],
                     DedupSettings())
    edited = next(g for g in groups if g.kind == DuplicateKind.EDITED)
    said = {p.id: edited.relation_of(p) for p in edited.members}
    assert edited.keeper.id == 0 and said[0] == ""
    assert said[1] == "same picture, smaller (320×240)"
    assert said[2] == "cropped, smaller (480×360), PNG"
    assert said[3] == "mirrored"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 4000), st.integers(0, 3)),
                min_size=2, max_size=4))
def test_any_shapes_and_contents_are_judged_without_error(shapes: list[tuple[int, int, int]]
                                                          ) -> None:
    """Panoramas, slivers, flat and noisy pictures: every pair gets a verdict, never an error."""
    rng = np.random.default_rng(len(shapes))
    candidates = []
    for n, (w, h, content) in enumerate(shapes):
        small = (max(1, round(64 * w / max(w, h))), max(1, round(64 * h / max(w, h))))
        pixels = [np.full((*small[::-1], 3), 128, np.uint8),  # flat
                  rng.integers(0, 256, (*small[::-1], 3), dtype=np.uint8),  # noise
                  np.asarray(scene(n, (max(small[0], 8), max(small[1], 8))).resize(small)),
                  np.zeros((*small[::-1], 3), np.uint8)][content]
        img = Image.fromarray(pixels).resize((w if w < 600 else 600, h if h < 600 else 600))
        candidates.append(Candidate(_photo(n, img), fingerprint(img), None))
    judge = PairJudge(Snapshot(candidates), DedupSettings())
    for i, j in itertools.combinations(range(len(candidates)), 2):
        relation = judge(i, j)
        assert relation.level is None or relation.level in Level
        assert 0.0 <= relation.score <= 1.0

def test_pairs_ruled_out_in_bulk_are_all_unrelated_to_the_judge() -> None:
    """The vectorised pre-filter only drops pairs the scalar judge would find unrelated."""
    rng = np.random.default_rng(7)
    n = 60
    vectors = _unit(rng.normal(size=(n, 6)) + 0.3)  # cosines spread over the whole range
    base = int(rng.integers(0, 2**63))
    candidates = []
    for i in range(n):
        flips = rng.choice(64, size=int(rng.integers(0, 12)), replace=False)
        h = base ^ int(sum(1 << int(b) for b in flips))
        grid = rng.integers(0, 256, size=(21, 28), dtype=np.uint8)
        fp = None if i % 7 == 0 else Fingerprint(h, h, h, 0.0, 4 / 3, grid,
                                                 np.zeros((8, 8, 3), np.uint8))
        content = f"c{i % 23}" if i % 5 else None  # some files share content
        candidates.append(Candidate(_photo(i, content=content or f"own{i}"), fp,
                                    None if i % 11 == 0 else i))
    settings = DedupSettings(similar_cosine=0.8)
    lo, hi = (np.array(x, np.int64) for x in zip(*itertools.combinations(range(n), 2),
                                                  strict=True))
    maybe = could_relate(Snapshot(candidates, vectors), lo, hi, settings)
    judge = PairJudge(Snapshot(candidates, vectors), settings)
    ruled_out = [(i, j) for i, j, m in zip(lo.tolist(), hi.tolist(), maybe.tolist(),
                                           strict=True) if not m]
    assert len(ruled_out) > len(lo) // 4
    assert all(judge(i, j).level is None for i, j in ruled_out)
    levels = {judge(i, j).level for i, j, m in zip(lo.tolist(), hi.tolist(), maybe.tolist(),
                                                   strict=True) if m}
    assert {Level.EXACT, Level.SIMILAR} <= levels  # both kinds of reason kept


@pytest.mark.parametrize(("max_distance", "chunks", "radius"), [
    (0, 1, 0), (3, 4, 0), (6, 7, 0), (8, 9, 0), (4, 3, 1), (6, 4, 1), (8, 5, 1), (8, 3, 2),
    (10, 4, 2), (16, 6, 2)])
def test_hash_pairs_match_brute_force_with_every_chunking(
        max_distance: int, chunks: int, radius: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each way of splitting the hashes (exact chunks or probing near chunk values) finds
    exactly the pairs within the distance, each once."""
    rng = np.random.default_rng(max_distance + 10 * radius)
    hashes = [int(x) for x in rng.integers(0, 2**63, size=300, dtype=np.int64)]
    for i in range(0, 120, 2):  # near copies at 0..19 bits
        flips = rng.choice(64, size=i % 20, replace=False)
        hashes[i + 1] = hashes[i] ^ int(sum(1 << int(b) for b in flips))
    hashes[200:204] = [hashes[0]] * 4  # a bucket with several equal hashes
    assert chunks * (radius + 1) > max_distance  # the pigeonhole condition
    monkeypatch.setattr(pair_module, "_hash_chunking", lambda count, distance: (chunks, radius))
    prints: list[Fingerprint | None] = [_random_print(h) for h in hashes]
    found = hash_pairs(prints, max_distance).triples()
    expected = {(i, j) for i, j in itertools.combinations(range(len(hashes)), 2)
                if hamming(hashes[i], hashes[j]) <= max_distance}
    assert {(i, j) for i, j, _ in found} == expected and len(found) == len(expected)
    assert all(s == 1 - hamming(hashes[i], hashes[j]) / 64 for i, j, s in found)


def test_the_pixel_gate_passes_copies_and_crops_and_stops_other_scenes() -> None:
    original = scene(51, (640, 480))
    images = [original, _jpeg(original.resize((320, 240))), original.crop((120, 90, 560, 420)),
              ImageOps.mirror(original), scene(52, (640, 480)), scene(53, (480, 640))]
    candidates = _candidates(images)
    lo = np.array([0, 0, 0, 0, 0], np.int64)
    hi = np.array([1, 2, 3, 4, 5], np.int64)
    assert gate.pixel_gate(candidates, lo, hi, DedupSettings().pixel_gate_ncc).tolist() == \
        [True, True, True, False, False]


def test_large_groupings_give_the_same_groups_through_the_pixel_gate() -> None:
    """Past ``pixel_gate_above`` pairs the gate spares the judge; the groups stay the same."""
    rng = np.random.default_rng(5)
    originals = [scene(60 + k, (640, 480)) for k in range(3)]
    images = [img for o in originals for img in
              (o, _jpeg(o.resize((320, 240))), o.crop((80, 60, 560, 420)), ImageOps.mirror(o))]
    common, base = rng.normal(size=64), rng.normal(size=(3, 64))
    vectors = _unit(2 * common + np.repeat(base, 4, axis=0) + 0.4 * rng.normal(size=(12, 64)))
    pairs = _all_pairs(vectors)
    cross = [(i, j) for i, j, cos in pairs if i // 4 != j // 4]
    assert min(cos for i, j, cos in pairs if i // 4 != j // 4) > DedupSettings().edited_cosine
    lo, hi = (np.array(side, np.int64) for side in zip(*cross, strict=True))
    assert not gate.pixel_gate(_candidates(images), lo, hi, 0.75).any()  # look-alikes stop
    plain = _groups(_candidates(images), vectors, pairs, DedupSettings())
    gated = _groups(_candidates(images), vectors, pairs, DedupSettings(pixel_gate_above=0))
    assert _kinds(gated) == _kinds(plain)
    assert len(_kinds(plain)[DuplicateKind.EDITED]) == 3
    # Gate scores known beforehand (stored with the neighbour lists) decide the same way;
    # scores that say "cannot agree" for every pair leave only what the CNN alone relates.
    candidates = _candidates(images)
    prints = [c.fingerprint for c in candidates]
    a, b = (np.array(side, np.int64) for side in zip(*[(i, j) for i, j, _ in pairs],
                                                       strict=True))
    known = gate.pixel_gate_scores(prints, a, b)
    settings = DedupSettings(pixel_gate_above=0)
    assert _kinds(_groups(candidates, vectors, pairs, settings, gate_scores=known)) == \
        _kinds(plain)
    refused = _groups(_candidates(images), vectors, pairs, settings,
                          gate_scores=np.full(len(pairs), -1.0, np.float32))
    assert DuplicateKind.EDITED not in _kinds(refused)


def test_gate_windows_sample_the_smoothed_grid_where_each_window_lies() -> None:
    """The separable sampling (two matrix products) sees what direct interpolation of the
    smoothed grid at each window's cell centres sees."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    rng = np.random.default_rng(3)
    cells = (np.arange(6) + 0.5) / 6
    for shape in [(21, 28), (28, 21), (16, 33)]:
        grid = rng.uniform(0, 255, shape).astype(np.float32)
        windows = gate._gate_windows(grid[np.newaxis])[0]
        smoothed = gaussian_filter(grid, 1.0, mode="nearest")
        expected = []
        for scale in gate._GATE_SCALES:
            offsets = np.linspace(0, 1 - scale, gate._GATE_STEPS if scale < 1 else 1)
            for oy, ox in itertools.product(offsets, offsets):
                y, x = np.meshgrid((oy + scale * cells) * shape[0] - 0.5,
                                   (ox + scale * cells) * shape[1] - 0.5, indexing="ij")
                expected.append(map_coordinates(smoothed, [y.ravel(), x.ravel()], order=1,
                                                mode="nearest"))
        assert windows.shape == (gate._GATE_WINDOWS, 36)
        np.testing.assert_allclose(windows, np.array(expected), atol=1e-3)
        whole = gate._gate_windows(grid[np.newaxis], whole_only=True)[0]
        np.testing.assert_allclose(whole, windows[-1:], atol=1e-4)


# -- different shots are never copies; crops of one photo are -----------------------------------
def _vectors_with_cosines(cosines: list[float], seed: int = 5) -> np.ndarray:
    """Unit vectors whose cosine with the first is each of ``cosines`` (1.0 for the first)."""
    rng = np.random.default_rng(seed)
    base = _unit(rng.normal(size=64))
    out = [base]
    for c in cosines:
        other = rng.normal(size=64)
        other = _unit(other - (other @ base) * base)
        out.append(_unit(c * base + np.sqrt(1 - c * c) * other))
    return np.stack(out).astype(np.float32)


def test_a_burst_shot_with_the_subject_moved_is_never_a_copy() -> None:
    """Same framing, the subject moved by 3 % of the width: the pixels line up about as well as
    a heavy edit's, but the CNN sees a different picture (0.8): at most a similar scene."""
    from skimage import data

    shot = Image.fromarray(data.astronaut())
    burst = shot.copy()
    burst.paste(shot.crop((100, 0, 400, 512)), (116, 0))
    vectors = _vectors_with_cosines([0.8])
    groups = _groups(_candidates([shot, burst]), vectors, _all_pairs(vectors),
                     DedupSettings())
    assert all(k in (None, DuplicateKind.SIMILAR) for g in groups for k in g.member_kinds)
    # the same pixels with the CNN agreeing, as it does for a watermark or a tone edit: a copy
    vectors = _vectors_with_cosines([0.95])
    groups = _groups(_candidates([shot, burst]), vectors, _all_pairs(vectors),
                     DedupSettings())
    assert [g.member_kinds for g in groups] in ([(None, DuplicateKind.EDITED)],
                                                [(DuplicateKind.EDITED, None)])


def test_capture_times_a_second_apart_are_different_shots() -> None:
    img = scene(23)
    candidates = [Candidate(_photo(0, img, date="2024-05-01T10:00:00"), fingerprint(img), None),
                  Candidate(_photo(1, _jpeg(img), date="2024-05-01T10:00:01"),
                            fingerprint(_jpeg(img)), None)]
    groups = _groups(candidates, None, [], DedupSettings())
    assert all(k in (None, DuplicateKind.SIMILAR) for g in groups for k in g.member_kinds)


def test_several_crops_of_one_photo_are_all_its_copies() -> None:
    """A 5-15 % crop, a square crop and a straightened crop do not contain one another, but
    each is cut from the original: all are its edited copies, in its one group."""
    from skimage import data

    original = Image.fromarray(data.coffee())  # 600 × 400
    crops = [original.crop((30, 20, 570, 380)), original.crop((150, 0, 550, 400)),
             original.rotate(3, Image.Resampling.BICUBIC).crop((40, 30, 560, 370))]
    images = [original, *(_jpeg(c, 85) for c in crops)]
    vectors = _vectors_with_cosines([0.93, 0.9, 0.92])
    groups = _groups(_candidates(images), vectors, _all_pairs(vectors), DedupSettings())
    assert len(groups) == 1
    group = groups[0]
    assert group.keeper.id == 0
    assert {p.id: k for p, k in zip(group.members, group.member_kinds, strict=True)} == \
        {0: None, 1: DuplicateKind.EDITED, 2: DuplicateKind.EDITED, 3: DuplicateKind.EDITED}
    assert sorted(p.id for p in group.suggested_trash()) == [1, 2, 3]
