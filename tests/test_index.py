"""VectorIndex against brute-force numpy, and its persistence under damage and failed writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from photosim.core import index as index_module
from photosim.core.index import HEADER_NAME, VectorIndex

DIM = 32
MODEL = "test-model"


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    sims = vectors @ query
    order = np.argsort(-sims, kind="stable")[:k]
    return [int(ids[i]) for i in order]


def recall(found: list[int], expected: list[int]) -> float:
    return len(set(found) & set(expected)) / len(expected)


@pytest.fixture
def built() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    ids = np.arange(100, 600, dtype=np.int64)
    vectors = unit_vectors(len(ids))
    return VectorIndex.build(MODEL, DIM, ids, vectors), ids, vectors


def test_query_matches_brute_force_with_exact_scores(built: tuple) -> None:
    index, ids, vectors = built
    queries = unit_vectors(20, seed=1)
    for query in queries:
        hits = index.query(query, 10)
        assert recall([i for i, _ in hits], brute_force(ids, vectors, query, 10)) >= 0.9
        for photo_id, score in hits:
            # Full vectors are kept as float16: scores are exact to about 1e-3.
            assert score == pytest.approx(float(vectors[photo_id - 100] @ query), abs=2e-3)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_a_stored_vector_finds_itself_first(built: tuple) -> None:
    index, ids, vectors = built
    hits = index.query(vectors[7], 3)
    assert hits[0][0] == ids[7]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-4)


def test_exclude_drops_ids_but_still_returns_k(built: tuple) -> None:
    index, ids, vectors = built
    hits = index.query(vectors[7], 5, exclude={int(ids[7]), 999_999})
    assert len(hits) == 5
    assert int(ids[7]) not in [i for i, _ in hits]


def test_re_adding_an_id_replaces_its_vector(built: tuple) -> None:
    index, ids, vectors = built
    index.add([int(ids[0])], vectors[1:2])
    assert len(index) == len(ids)
    hits = index.query(vectors[1], 2)
    assert {i for i, _ in hits} == {int(ids[0]), int(ids[1])}
    assert all(score == pytest.approx(1.0, abs=1e-4) for _, score in hits)


def test_removed_ids_never_come_back(built: tuple) -> None:
    index, ids, vectors = built
    gone = [int(i) for i in ids[:250]]
    index.remove([*gone, 123_456_789])
    assert len(index) == 250
    assert gone[0] not in index and int(ids[300]) in index
    for query in vectors[:30]:
        found = [i for i, _ in index.query(query, 10)]
        assert len(found) == 10 and not set(found) & set(gone)
    found_ids, _ = index.query_batch(vectors[:30], 10)
    assert not set(found_ids.ravel().tolist()) & set(gone)


def test_a_removed_id_can_be_added_again(built: tuple) -> None:
    index, ids, vectors = built
    index.remove([int(ids[3])])
    index.add([int(ids[3])], vectors[3:4])
    assert int(ids[3]) in index
    assert index.query(vectors[3], 1)[0][0] == ids[3]


def test_k_is_clipped_to_the_live_count_and_empty_gives_nothing() -> None:
    index = VectorIndex(DIM, MODEL)
    assert index.query(unit_vectors(1)[0], 5) == []
    ids_out, sims_out = index.query_batch(unit_vectors(2), 3)
    assert (ids_out == -1).all() and ids_out.shape == (2, 3)
    index.add([1, 2, 3], unit_vectors(3))
    index.remove([2])
    assert sorted(i for i, _ in index.query(unit_vectors(1, seed=5)[0], 10)) == [1, 3]
    ids_out, sims_out = index.query_batch(unit_vectors(2, seed=5), 4)
    assert ids_out.dtype == np.int64 and sims_out.dtype == np.float32
    assert (np.sort(ids_out[:, :2], axis=1) == [1, 3]).all()
    assert (ids_out[:, 2:] == -1).all()


def test_query_batch_agrees_with_query(built: tuple) -> None:
    index, _, _ = built
    queries = unit_vectors(5, seed=3)
    ids_out, sims_out = index.query_batch(queries, 4)
    for row, query in enumerate(queries):
        hits = index.query(query, 4)
        assert ids_out[row].tolist() == [i for i, _ in hits]
        assert sims_out[row] == pytest.approx([s for _, s in hits], abs=1e-5)


def test_grows_past_its_capacity() -> None:
    index = VectorIndex(DIM, MODEL, capacity=4)
    vectors = unit_vectors(300)
    for start in range(0, 300, 7):
        index.add(np.arange(start, min(start + 7, 300)), vectors[start:start + 7])
    assert len(index) == 300
    assert index.ids().tolist() == list(range(300))
    assert index.query(vectors[299], 1)[0][0] == 299


def test_wrong_shapes_are_refused() -> None:
    index = VectorIndex(DIM, MODEL)
    with pytest.raises(ValueError):
        index.add([1, 2], unit_vectors(3))
    with pytest.raises(ValueError):
        index.add([1], unit_vectors(1, dim=DIM + 1))


def test_save_and_load_round_trip(built: tuple, tmp_path: Path) -> None:
    index, ids, _ = built
    index.remove([int(ids[0])])
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, MODEL, DIM)
    assert loaded is not None
    assert loaded.ids().tolist() == index.ids().tolist()
    for query in unit_vectors(5, seed=9):
        assert loaded.query(query, 10) == index.query(query, 10)
    loaded.add([10_000], unit_vectors(1, seed=4))  # still writable, grows after a load
    assert 10_000 in loaded and int(ids[0]) not in loaded
    header = json.loads((tmp_path / HEADER_NAME).read_text())
    assert header["model_id"] == MODEL and header["dim"] == DIM and header["count"] == 499


def test_saving_again_replaces_the_files_of_the_previous_save(built: tuple,
                                                               tmp_path: Path) -> None:
    index, _, _ = built
    index.save(tmp_path)
    first = set(tmp_path.iterdir())
    index.save(tmp_path)
    assert len(set(tmp_path.iterdir())) == len(first)
    assert VectorIndex.load(tmp_path, MODEL, DIM) is not None


def test_load_refuses_other_models_dims_and_formats(built: tuple, tmp_path: Path) -> None:
    index, _, _ = built
    index.save(tmp_path)
    assert VectorIndex.load(tmp_path / "nothing-here", MODEL, DIM) is None
    assert VectorIndex.load(tmp_path, "other-model", DIM) is None
    assert VectorIndex.load(tmp_path, MODEL, DIM * 2) is None
    header_path = tmp_path / HEADER_NAME
    header = json.loads(header_path.read_text())
    header_path.write_text(json.dumps({**header, "format": 0}))
    assert VectorIndex.load(tmp_path, MODEL, DIM) is None


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != HEADER_NAME)


DAMAGES = [(kind, damage) for kind in ("graph-", "slots-")
           for damage in ("truncate", "garbage", "flip", "header", "missing")]
# Vector rows are plain floats that cannot crash anything: only their size is checked.
DAMAGES += [("vectors-", "truncate"), ("vectors-", "missing")]


@pytest.mark.parametrize(("kind", "damage"), DAMAGES)
def test_load_refuses_damaged_files(built: tuple, tmp_path: Path, kind: str, damage: str) -> None:
    index, _, _ = built
    index.save(tmp_path)
    graph = next(p for p in data_files(tmp_path) if p.name.startswith(kind))
    data = graph.read_bytes()
    if damage == "truncate":
        graph.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        graph.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif damage == "flip":
        graph.write_bytes(data[:500] + bytes([data[500] ^ 0xFF]) + data[501:])
    elif damage == "header":
        (tmp_path / HEADER_NAME).write_bytes(b"\x00\xffnot json")
    else:
        graph.unlink()
    assert VectorIndex.load(tmp_path, MODEL, DIM) is None


FAILING_SAVE = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    import numpy as np
    from photosim.core.index import VectorIndex
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex.build("test-model", 32, np.arange(3000), vectors)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-limit writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        index.save(Path(sys.argv[1]))
    except OSError as error:
        print("save failed:", error)
        sys.exit(3)
    """
)


def test_a_failed_save_leaves_the_previous_index_loadable(built: tuple, tmp_path: Path) -> None:
    """A real failed write (file size limit, like a full disk) must not replace a good index."""
    index, ids, _ = built
    index.save(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = subprocess.run([sys.executable, "-c", FAILING_SAVE, str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    loaded = VectorIndex.load(tmp_path, MODEL, DIM)
    assert loaded is not None and len(loaded) == len(ids)


def clustered_vectors(n: int, dim: int = 64, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Non-negative, clustered, normalised, with a decaying spectrum: shaped like pooled CNN
    features (whose variance concentrates in a few directions), unlike uniform noise."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / (1.0 + np.arange(dim)) ** 0.75
    centres = rng.gamma(0.5, 1.0, (clusters, dim)) * scale
    noise = rng.gamma(0.5, 0.35, (n, dim)) * scale
    vectors = centres[rng.integers(clusters, size=n)] + noise
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def mean_recall(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray,
                queries: np.ndarray) -> float:
    return float(np.mean([
        recall([i for i, _ in index.query(q, 10)], brute_force(ids, vectors, q, 10))
        for q in queries]))


def test_a_growing_index_switches_to_a_projected_graph_and_keeps_recall(tmp_path: Path) -> None:
    vectors = clustered_vectors(3000)
    ids = np.arange(3000, dtype=np.int64) * 3 + 7
    index = VectorIndex(64, MODEL, capacity=16, reduce_above=1000, reduced_dim=24)
    for start in range(0, 3000, 500):
        index.add(ids[start:start + 500], vectors[start:start + 500])
    index.save(tmp_path)
    header_before = json.loads((tmp_path / HEADER_NAME).read_text())
    assert header_before["projection"]["dim"] == 24
    queries = clustered_vectors(40, seed=5)
    assert mean_recall(index, ids, vectors, queries) >= 0.95
    hits = index.query(vectors[10], 5)
    assert hits[0][0] == ids[10]
    assert hits[1][1] == pytest.approx(float(vectors[ids.tolist().index(hits[1][0])] @ vectors[10]),
                                       abs=2e-3)
    loaded = VectorIndex.load(tmp_path, MODEL, 64)
    assert loaded is not None
    assert [i for i, _ in loaded.query(vectors[10], 5)] == [i for i, _ in hits]


def test_build_of_a_large_library_projects_from_the_start(tmp_path: Path) -> None:
    vectors = clustered_vectors(2500, seed=2)
    ids = np.arange(2500, dtype=np.int64)
    import photosim.core.index as index_module

    small = index_module.REDUCE_ABOVE
    index_module.REDUCE_ABOVE = 1000
    try:
        index = VectorIndex.build(MODEL, 64, ids, vectors)
    finally:
        index_module.REDUCE_ABOVE = small
    index.save(tmp_path)
    assert json.loads((tmp_path / HEADER_NAME).read_text())["graph"]["space"] == "ip"
    assert mean_recall(index, ids, vectors, clustered_vectors(40, seed=6)) >= 0.95


def test_many_saves_with_changes_stay_consistent_and_compact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each save adds a segment of new rows; replacements and removals are compacted away."""
    import photosim.core.index as index_module

    monkeypatch.setattr(index_module, "MAX_SEGMENTS", 4)
    vectors = clustered_vectors(1200, seed=3)
    index = VectorIndex(64, MODEL, reduce_above=500, reduced_dim=16)
    rng = np.random.default_rng(0)
    expected: dict[int, np.ndarray] = {}
    for round_ in range(12):
        new_ids = np.arange(round_ * 100, round_ * 100 + 100)
        index.add(new_ids, vectors[new_ids])
        expected.update({int(i): vectors[i] for i in new_ids})
        replaced = rng.choice(sorted(expected), 20, replace=False)
        fresh = clustered_vectors(20, seed=100 + round_)
        index.add(replaced, fresh)
        expected.update({int(i): v for i, v in zip(replaced, fresh, strict=True)})
        gone = rng.choice(sorted(expected), 10, replace=False)
        index.remove(gone)
        for i in gone:
            del expected[int(i)]
        index.save(tmp_path)
        index = VectorIndex.load(tmp_path, MODEL, 64)
        assert index is not None
    assert index.ids().tolist() == sorted(expected)
    for photo_id in list(expected)[::97]:
        best = index.query(expected[photo_id], 1)[0]
        assert best[0] == photo_id and best[1] == pytest.approx(1.0, abs=1e-3)
    header = json.loads((tmp_path / HEADER_NAME).read_text())
    assert len(header["segments"]) <= 4
    stored_rows = sum(s["rows"] for s in header["segments"])
    assert stored_rows <= len(expected) * 1.5
    named = {f["name"] for f in header["files"].values()} | {s["name"] for s in header["segments"]}
    named |= {s["crc"]["name"] for s in header["segments"]}
    assert {p.name for p in tmp_path.iterdir()} == named | {HEADER_NAME}


def test_saving_into_another_folder_copies_the_vectors(built: tuple, tmp_path: Path) -> None:
    index, ids, _ = built
    index.save(tmp_path / "a")
    loaded = VectorIndex.load(tmp_path / "a", MODEL, DIM)
    assert loaded is not None
    loaded.save(tmp_path / "b")
    import shutil

    shutil.rmtree(tmp_path / "a")
    again = VectorIndex.load(tmp_path / "b", MODEL, DIM)
    assert again is not None and again.ids().tolist() == ids.tolist()


SAMPLE_PHOTOS = ("astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins",
                 "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
                 "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text", "cat")


def photo_variants(rng: np.random.Generator, per_photo: int) -> list:
    """scikit-image's sample photos with random crops, flips and quarter turns of each."""
    import skimage.data
    from PIL import Image

    images = []
    for name in SAMPLE_PHOTOS:
        image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        for _ in range(per_photo):
            w, h = image.size
            side = rng.uniform(0.45, 1.0)
            cw, ch = int(w * side), int(h * side)
            x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
            variant = image.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.3:
                variant = variant.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            variant = variant.rotate(90 * int(rng.integers(4)), expand=True)
            images.append(variant)
    return images


def embed_lite0(model_dir: Path, images: list) -> np.ndarray:
    """EfficientNet-Lite0 embeddings, preprocessed as /work/shared/models/README.md says."""
    import onnxruntime as ort
    from PIL import Image

    session = ort.InferenceSession(str(model_dir / "efficientnet_lite0_embed.onnx"),
                                   providers=["CPUExecutionProvider"])
    batch = []
    for image in images:
        w, h = image.size
        side = int(0.875 * min(w, h))
        box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
        square = image.crop(box).resize((224, 224), Image.Resampling.BICUBIC)
        batch.append(((np.asarray(square, np.float32) - 127.0) / 128.0).transpose(2, 0, 1))
    outputs = [session.run(["embedding"], {"input": np.stack(batch[i:i + 32])})[0]
               for i in range(0, len(batch), 32)]
    vectors = np.concatenate(outputs).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.realmodel
@pytest.mark.slow
def test_projected_graph_keeps_recall_on_real_photo_embeddings(real_model_dir: Path) -> None:
    """The reduced design (128 of 1280 dims, re-ranked) on real embeddings of real photos."""
    rng = np.random.default_rng(0)
    vectors = embed_lite0(real_model_dir, photo_variants(rng, per_photo=12))
    ids = np.arange(len(vectors), dtype=np.int64)
    reduced = VectorIndex(vectors.shape[1], MODEL, reduce_above=100, reduced_dim=128)
    reduced.add(ids, vectors)
    full = VectorIndex(vectors.shape[1], MODEL, reduce_above=10**9)
    full.add(ids, vectors)
    queries = vectors[rng.choice(len(vectors), 60, replace=False)]
    reduced_recall = mean_recall(reduced, ids, vectors, queries)
    full_recall = mean_recall(full, ids, vectors, queries)
    print(f"recall@10 on real embeddings: reduced {reduced_recall:.3f}, full {full_recall:.3f}")
    assert reduced_recall >= 0.95
    assert reduced_recall >= full_recall - 0.03


def test_unsaved_rows_spill_into_the_folder_of_the_last_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import photosim.core.index as index_module

    monkeypatch.setattr(index_module, "SPILL_ROWS", 100)
    vectors = unit_vectors(700)
    index = VectorIndex(DIM, MODEL)
    index.add(np.arange(50), vectors[:50])
    index.save(tmp_path)
    for start in range(50, 700, 50):
        index.add(np.arange(start, start + 50), vectors[start:start + 50])
    assert len(list(tmp_path.glob("vectors-*"))) >= 4  # spilled before any save
    assert VectorIndex.load(tmp_path, MODEL, DIM) is not None  # the last save still loads
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, MODEL, DIM)
    assert loaded is not None and len(loaded) == 700
    assert loaded.query(vectors[650], 1)[0][0] == 650


def test_bulk_rerank_with_vectors_in_memory_matches_the_disk_path() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((600, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1600, dtype=np.int64)
    index = VectorIndex.build("m", 48, ids, vectors)
    plain_ids, plain_sims = index.query_batch(vectors[:50], 10)
    bulk_ids, bulk_sims = index.query_batch(vectors[:50], 10, known=(ids, vectors))
    assert np.array_equal(plain_ids, bulk_ids)
    assert np.allclose(plain_sims, bulk_sims, atol=2e-3)  # disk rows are float16
    # A candidate the caller does not know is never returned.
    partial_ids, _ = index.query_batch(vectors[:5], 10, known=(ids[:300], vectors[:300]))
    assert set(partial_ids[partial_ids >= 0].tolist()) <= set(ids[:300].tolist())


def test_locality_order_is_a_permutation_that_keeps_regions_together() -> None:
    rng = np.random.default_rng(8)
    centres = unit_vectors(5, seed=9)
    labels = rng.integers(5, size=400)
    vectors = centres[labels] + rng.normal(0, 0.01, (400, DIM)).astype(np.float32)
    order = index_module.locality_order(vectors, cells=50)
    assert sorted(order.tolist()) == list(range(400))
    # Tight regions come out as runs: few changes of region along the order.
    assert int((np.diff(labels[order]) != 0).sum()) < 50


def test_bulk_query_in_locality_order_gives_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = unit_vectors(900, seed=4)
    ids = np.arange(5000, 5900, dtype=np.int64)
    index = VectorIndex(DIM, MODEL, reduce_above=100, reduced_dim=12)
    index.add(ids, vectors)
    monkeypatch.setattr(index_module, "LOCALITY_ABOVE", 10**9)
    plain = index.query_batch(vectors, 8, known=(ids, vectors), candidates=20)
    plain_disk = index.query_batch(vectors[:200], 8)
    monkeypatch.setattr(index_module, "LOCALITY_ABOVE", 50)
    ordered = index.query_batch(vectors, 8, known=(ids, vectors), candidates=20)
    ordered_disk = index.query_batch(vectors[:200], 8)
    assert np.array_equal(plain[0], ordered[0]) and np.array_equal(plain[1], ordered[1])
    assert np.array_equal(plain_disk[0], ordered_disk[0])
    assert np.array_equal(plain_disk[1], ordered_disk[1])
