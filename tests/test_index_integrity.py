"""Row checksums of the vector segments, content keys, and the litter of killed saves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from photosim.core.index import (
    HEADER_NAME,
    RepairSource,
    VectorIndex,
    content_key,
    content_keys,
)

DIM = 32


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def saved_index(folder: Path, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(n, dtype=np.int64)
    vectors = unit_vectors(n)
    index = VectorIndex(DIM, "m")
    index.add(ids, vectors, ids + 1000)
    index.save(folder)
    return ids, vectors


def only_segment(folder: Path) -> Path:
    header = json.loads((folder / HEADER_NAME).read_text())
    (segment,) = header["segments"]
    return folder / segment["name"]


def repair_from(ids: np.ndarray, vectors: np.ndarray) -> RepairSource:
    def repair(wanted: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        picked = np.asarray(wanted, np.int64)
        return picked, vectors[picked], picked + 1000
    return repair


def test_eight_random_bytes_in_a_row_are_healed_from_the_source(tmp_path: Path) -> None:
    ids, vectors = saved_index(tmp_path)
    segment = only_segment(tmp_path)
    with open(segment, "r+b") as handle:  # 8 bytes in the middle of row 7
        handle.seek(7 * DIM * 2 + 20)
        handle.write(b"\x7b\x7b\xff\x7b\x00\x7c\x7b\x7b")
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    index.repair = repair_from(ids, vectors)
    best = index.query(vectors[7], 1)[0]
    assert best[0] == 7 and abs(best[1] - 1.0) < 1e-3  # the exact copy is still found
    assert index.damaged_rows == 1
    assert 7 in index and index.content_key_of(7) == 1007
    index.save(tmp_path)  # the healed row is written again; the next load is clean
    again = VectorIndex.load(tmp_path, "m", DIM)
    assert again is not None
    assert again.query(vectors[7], 1)[0][0] == 7 and again.damaged_rows == 0


def test_a_segment_of_random_bytes_never_passes_as_vectors(tmp_path: Path) -> None:
    ids, vectors = saved_index(tmp_path)
    segment = only_segment(tmp_path)
    segment.write_bytes(np.random.default_rng(5).bytes(segment.stat().st_size))
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    # Without a source, damaged rows are dropped, never scored as garbage.
    assert index.query(vectors[3], 5) == []
    assert index.damaged_rows > 0 and 3 not in index
    healed = VectorIndex.load(tmp_path, "m", DIM)
    assert healed is not None
    healed.repair = repair_from(ids, vectors)
    found = healed.query(vectors[3], 5)
    assert found[0][0] == 3 and abs(found[0][1] - 1.0) < 1e-3


def test_compaction_heals_damaged_rows_instead_of_copying_them(tmp_path: Path) -> None:
    ids, vectors = saved_index(tmp_path)
    with open(only_segment(tmp_path), "r+b") as handle:
        handle.seek(11 * DIM * 2)
        handle.write(b"\x00" * 8)
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    index.repair = repair_from(ids, vectors)
    index.remove(range(100, 200))  # enough garbage to rewrite the rows at the next save
    index.save(tmp_path)
    again = VectorIndex.load(tmp_path, "m", DIM)
    assert again is not None
    best = again.query(vectors[11], 1)[0]
    assert best[0] == 11 and abs(best[1] - 1.0) < 1e-3 and again.damaged_rows == 0


def test_content_keys_survive_a_save_and_find_stale_entries(tmp_path: Path) -> None:
    ids, _ = saved_index(tmp_path, n=50)
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    catalog_keys = ids + 1000
    catalog_keys[[4, 9]] = 77  # the catalog has other bytes for photos 4 and 9
    assert index.stale_ids(ids, catalog_keys).tolist() == [4, 9]
    assert index.stale_ids(np.array([999]), np.array([1])).tolist() == []  # not held: not stale
    assert content_key("ff" * 16) > 0 and content_key(None) == 0
    assert content_keys(["0" * 32, "a" * 32]).tolist() == [0, int("a" * 16, 16) >> 1]


def test_a_killed_saves_temporary_files_are_removed_by_the_next_save(tmp_path: Path) -> None:
    saved_index(tmp_path, n=20)
    litter = [tmp_path / ".graph-0123abcd.hnsw.k1d2x9.tmp",
              tmp_path / ".vectors-0123abcd.f16.zz81q.tmp", tmp_path / ".header.json.ozcqikea.tmp"]
    for path in litter:
        path.write_bytes(b"x" * 1000)
    keep = tmp_path / ".notes.tmp"  # not ours: left alone
    keep.write_bytes(b"y")
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    index.add([500], unit_vectors(1, seed=9))
    index.save(tmp_path)
    assert not any(path.exists() for path in litter) and keep.exists()


def test_a_batch_query_over_damaged_rows_without_a_source_drops_them(tmp_path: Path) -> None:
    _, vectors = saved_index(tmp_path)
    segment = only_segment(tmp_path)
    with open(segment, "r+b") as handle:
        for row in range(0, 200, 3):
            handle.seek(row * DIM * 2)
            handle.write(b"\x11" * 8)
    index = VectorIndex.load(tmp_path, "m", DIM)
    assert index is not None
    found, sims = index.query_batch(vectors[:40], 5)
    for row in range(1, 40):
        if row % 3:  # intact rows still find themselves first
            assert found[row, 0] == row and sims[row, 0] > 0.999
    assert not set(found[found >= 0].tolist()) & set(range(0, 200, 3))
