"""VectorIndex against brute-force numpy, and its persistence under damage and failed writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

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
            assert score == pytest.approx(float(vectors[photo_id - 100] @ query), abs=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_a_stored_vector_finds_itself_first(built: tuple) -> None:
    index, ids, vectors = built
    hits = index.query(vectors[7], 3)
    assert hits[0][0] == ids[7]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)


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
    assert all(score == pytest.approx(1.0, abs=1e-5) for _, score in hits)


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


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "header", "missing"])
def test_load_refuses_damaged_files(built: tuple, tmp_path: Path, damage: str) -> None:
    index, _, _ = built
    index.save(tmp_path)
    graph = next(p for p in data_files(tmp_path) if p.name.startswith("graph-"))
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
