"""Stored neighbour lists: which lists are stale, which entries still hold, and the library
keeping them in its catalog between sessions (real SQLite, hnswlib and onnxruntime)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core.duplicates import neighbours, verdicts
from photosim.core.duplicates import search as search_module
from photosim.core.duplicates.gate import pixel_gate_scores
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.neighbours import NeighbourLists
from photosim.core.duplicates.pairs import PairTable, QueryBatch
from photosim.core.fingerprint import Fingerprint
from photosim.core.library import Library
from photosim.core.types import DuplicateKind, Progress, Stage
from tests.library_fixtures import make_photo_folder, resized_copy

CONTENT = {10: "a", 11: "b", 12: "c", 13: "d"}  # what each photo held when lists were found


def _lists(*rows: tuple[int, str, list[int], list[float]]) -> NeighbourLists:
    """Stored lists, found when the photos held CONTENT; the gate score of each entry is
    100 × its cosine, to tell which entry it came from."""
    return NeighbourLists.from_rows([
        (owner, content, np.array(ids, np.int64).tobytes(), np.array(sims, np.float32).tobytes(),
         (np.array(sims, np.float32) * 100).tobytes(),
         np.array([neighbours.content_check(CONTENT[i]) for i in ids], np.uint32).tobytes())
        for owner, content, ids, sims in rows])


def _pairs(found: PairTable) -> list[tuple[int, int, float, float]]:
    return sorted(zip(found.a.tolist(), found.b.tolist(), found.scores.tolist(),
                      found.gates.tolist(), strict=True))


def test_lists_to_find_are_the_missing_and_the_changed() -> None:
    stored = _lists((10, "a", [11], [0.9]), (11, "b", [10], [0.9]))
    row_ids = np.array([10, 11, 12, 13], np.int64)
    stale = neighbours.lists_to_find(stored, row_ids, ["a", "B", "c", ""])
    assert stale.tolist() == [1, 2]  # 11 changed, 12 has none, 13 is left out ("")


def test_pairs_come_from_current_lists_above_the_floor() -> None:
    stored = _lists((10, "a", [11, 12, 13], [0.95, 0.7, 0.3]),
                    (11, "b", [10], [0.95]),
                    (12, "c", [10], [0.7]))
    row_ids = np.array([12, 10, 11], np.int64)  # rows in any order
    pairs = _pairs(neighbours.pairs_from_lists(stored, row_ids, ["c", "a", "b"], floor=0.5))
    # rows: 12 → 0, 10 → 1, 11 → 2; 13 is not held; 0.3 is under the floor
    assert pairs == [(0, 1, pytest.approx(0.7), pytest.approx(70)),
                     (1, 2, pytest.approx(0.95), pytest.approx(95))]


def test_an_entry_for_a_neighbour_that_changed_since_is_dropped() -> None:
    # 11 changed after 10's list was found: 10's figure for it is outdated, and 11's own
    # new list (which no longer holds 10) decides.
    stored = _lists((10, "a", [11, 12], [0.95, 0.8]), (11, "b2", [12], [0.6]),
                    (12, "c", [10], [0.8]))
    row_ids = np.array([10, 11, 12], np.int64)
    pairs = _pairs(neighbours.pairs_from_lists(stored, row_ids, ["a", "b2", "c"], floor=0.5))
    assert [(i, j) for i, j, _, _ in pairs] == [(0, 2), (1, 2)]


def test_a_stale_list_gives_no_pairs() -> None:
    stored = _lists((10, "old", [11], [0.95]), (11, "b", [], []))
    found = neighbours.pairs_from_lists(stored, np.array([10, 11], np.int64), ["new", "b"], 0.5)
    assert _pairs(found) == []


def test_found_lists_leave_out_the_photo_itself_and_padding() -> None:
    vectors = np.eye(3, dtype=np.float32)

    def query_batch(v: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([[7, 8, -1], [8, 7, -1], [9, -1, -1]], np.int64)[:len(v), :k]
        return ids, np.where(ids >= 0, 0.5, -1.0).astype(np.float32)

    content = {7: "a", 8: "b", 9: "c"}
    found = neighbours.find_lists(query_batch, vectors, np.array([7, 8, 9]), content, 2)
    assert [f.ids.tolist() for f in found] == [[8], [7], []]
    assert [f.content_hash for f in found] == ["a", "b", "c"]
    assert found[0].checks.tolist() == [neighbours.content_check("b")]


def test_gate_scores_are_those_of_each_owner_and_neighbour() -> None:
    rng = np.random.default_rng(2)
    grids = [rng.integers(0, 255, (21, 28), np.uint8) for _ in range(3)]
    prints = {10 + i: Fingerprint(0, 0, 0, 0.0, 4 / 3, g, np.zeros((8, 8, 3), np.uint8))
              for i, g in enumerate(grids)}
    prints[13] = None
    found = [neighbours.FoundList(10, "a", np.array([11, 12, 13]), np.ones(3, np.float32),
                                  np.full(3, np.nan, np.float32), np.zeros(3, np.uint32)),
             neighbours.FoundList(12, "c", np.array([10]), np.ones(1, np.float32),
                                  np.full(1, np.nan, np.float32), np.zeros(1, np.uint32))]
    gated = neighbours.with_gate_scores(found, prints)
    positions = [None, *prints]  # position 0 unused
    order = [positions.index(i) for i in (10, 11, 12)]
    expected = pixel_gate_scores([None, *prints.values()], np.array(order[:1] * 2),
                                       np.array(order[1:]))
    np.testing.assert_allclose(gated[0].gates[:2], expected)
    assert np.isnan(gated[0].gates[2])  # no fingerprint
    assert gated[1].gates[0] == pytest.approx(gated[0].gates[1])  # symmetric


# -- the library ----------------------------------------------------------------------------

@pytest.fixture
def opened(tmp_path: Path, tiny_model: tuple[Path, Path]) -> tuple[Path, Path, Path]:
    model, spec = tiny_model
    return tmp_path / "data", model, spec


def _open(where: tuple[Path, Path, Path]) -> Library:
    data, model, spec = where
    return Library.open(data, model=str(model), model_spec=str(spec))


def _stored(library: Library) -> dict[int, str]:
    """The content each stored list was found for, by photo id."""
    rows = library.catalog.db.connection().execute(
        "SELECT photo_id, content_hash FROM neighbours").fetchall()
    return {r[0]: r[1] for r in rows}


@pytest.fixture
def searched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The photos whose neighbours the library searches for, as it does."""
    owners: list[int] = []
    real = neighbours.find_lists

    def recording(query_batch: QueryBatch, vectors: np.ndarray, found_for: np.ndarray,
                  *rest: object) -> list[neighbours.FoundList]:
        owners.extend(found_for.tolist())
        return real(query_batch, vectors, found_for, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(neighbours, "find_lists", recording)
    return owners


def _groups(library: Library) -> list[frozenset[Path]]:
    return sorted((frozenset(p.path for p in g.members) for g in library.duplicates()),
                  key=lambda g: sorted(map(str, g)))


def test_indexing_stores_every_photos_list_and_a_new_session_reuses_them(
        opened: tuple[Path, Path, Path], tmp_path: Path, searched: list[int]) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=8)
    resized_copy(paths[2], tmp_path / "pics" / "copy.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        stored = _stored(library)
        assert len(stored) == 9 and sorted(searched) == sorted(stored)  # found by indexing
        searched.clear()
        first = _groups(library)
    assert any(paths[2] in g and tmp_path / "pics" / "copy.jpg" in g for g in first)
    with _open(opened) as library:
        assert _groups(library) == first
        assert _stored(library) == stored
    assert searched == []  # nothing was searched again


def test_a_changed_photo_gets_a_new_list_and_the_others_keep_theirs(
        opened: tuple[Path, Path, Path], tmp_path: Path, searched: list[int]) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=6)
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        before = _stored(library)
        searched.clear()
        resized_copy(paths[1], paths[0])  # new content at paths[0]: a copy of paths[1]
        library.index()
        after = _stored(library)
        changed = library.photo(paths[0])
        assert changed is not None and searched == [changed.id]
        assert after == {**before, changed.id: changed.content_hash}
        assert any({paths[0], paths[1]} <= g for g in _groups(library))


def test_lists_lost_or_stale_are_found_again_by_the_duplicate_pass(
        opened: tuple[Path, Path, Path], tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=6)
    shutil.copy(paths[3], tmp_path / "pics" / "exact.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        expected = _groups(library)
        with library.catalog.transaction() as conn:  # as after an upgrade: no lists
            conn.execute("DELETE FROM neighbours")
    with _open(opened) as library:
        assert _groups(library) == expected
        assert len(_stored(library)) == 7


def test_a_rescan_finds_lists_missing_after_an_upgrade(
        opened: tuple[Path, Path, Path], tmp_path: Path, searched: list[int]) -> None:
    make_photo_folder(tmp_path / "pics", count=4)
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        with library.catalog.transaction() as conn:  # as after an upgrade: no lists
            conn.execute("DELETE FROM neighbours")
        searched.clear()
        assert library.index().embedded == 0  # nothing new, and yet
        assert len(_stored(library)) == 4 and len(searched) == 4
        searched.clear()
        library.index()
        assert searched == []  # none missing: nothing searched


def test_a_damaged_list_counts_as_missing_and_is_found_again(
        opened: tuple[Path, Path, Path], tmp_path: Path, searched: list[int]) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    resized_copy(paths[0], tmp_path / "pics" / "small.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        expected = _groups(library)
        damaged = library.photo(paths[0])
        assert damaged is not None
        with library.catalog.transaction() as conn:
            conn.execute("UPDATE neighbours SET sims = substr(sims, 1, 6) WHERE photo_id = ?",
                         (damaged.id,))
    searched.clear()
    with _open(opened) as library:
        assert _groups(library) == expected
    assert searched == [damaged.id]


def test_deleting_a_photo_drops_its_list(opened: tuple[Path, Path, Path],
                                        tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        gone = library.photo(paths[3])
        assert gone is not None and gone.id in _stored(library)
        paths[3].unlink()
        library.index()
        assert gone.id not in _stored(library)


# -- pixel verdicts stored for the next session -----------------------------------------------

def _count_pixel_comparisons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    compared: list[tuple[str, str]] = []
    real = PairJudge._pixel_level

    def counting(judge: PairJudge, i: int, j: int, *rest: object) -> object:
        compared.append(tuple(sorted(str(judge.candidates[x].photo.path.name) for x in (i, j))))
        return real(judge, i, j, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(PairJudge, "_pixel_level", counting)
    return compared


def test_a_new_session_does_not_compare_the_same_pixels_again(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=6)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    compared = _count_pixel_comparisons(monkeypatch)
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        first = _groups(library)
    assert ("photo_01.jpg", "small.jpg") in compared
    compared.clear()
    with _open(opened) as library:
        assert _groups(library) == first
        assert compared == []
        resized_copy(paths[2], paths[1])  # new content at photo_01: its pairs are new
        library.index()
        # per group, the keeper and the members that are the same picture as it
        same = [{p.path for p, k in zip(g.members, g.member_kinds, strict=True)
                 if k in (None, DuplicateKind.EXACT, DuplicateKind.SAME)}
                for g in library.duplicates() if DuplicateKind.SAME in g.kinds()]
    assert compared and all("photo_01.jpg" in pair for pair in compared)
    assert {paths[1], paths[2]} in same  # judged afresh: the same picture as photo_02 now
    assert not any({paths[1], tmp_path / "pics" / "small.jpg"} <= g for g in same)


def test_a_new_session_takes_the_crop_sides_stored_with_the_verdicts(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping asks which of a reframed copy is the crop, two crop searches each: found by
    the first pass, stored with its verdict, and taken from there by the next session."""
    paths = make_photo_folder(tmp_path / "pics", count=4)
    with Image.open(paths[1]) as image:
        image.crop((60, 40, 600, 445)).save(tmp_path / "pics" / "crop.jpg", quality=92)
    searches: list[int] = []
    real = PairJudge._find_crop_side

    def counting(judge: PairJudge, a: int, b: int) -> int | None:
        searches.append(a)
        return real(judge, a, b)

    monkeypatch.setattr(PairJudge, "_find_crop_side", counting)
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        first = library.duplicates()
        framings = [row[0] for row in library.catalog.db.connection().execute(
            "SELECT reframed FROM pixel_verdicts WHERE reframed > 0")]
    crop = [g for g in first if tmp_path / "pics" / "crop.jpg" in {p.path for p in g.members}]
    assert crop and crop[0].keeper.path == paths[1]  # the full framing is kept
    assert searches and framings and all(f in (2, 3, 4) for f in framings)
    searches.clear()
    with _open(opened) as library:
        assert library.duplicates() == first
    assert searches == []


def test_a_damaged_verdict_is_judged_again(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        first = _groups(library)
        with library.catalog.transaction() as conn:
            conn.execute("UPDATE pixel_verdicts SET level = 42 WHERE level IS NOT NULL")
    compared = _count_pixel_comparisons(monkeypatch)
    with _open(opened) as library:
        assert _groups(library) == first
    assert ("photo_01.jpg", "small.jpg") in compared


def test_verdicts_of_another_judge_are_not_taken(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        first = _groups(library)
    compared = _count_pixel_comparisons(monkeypatch)
    monkeypatch.setattr(verdicts, "JUDGE_VERSION", verdicts.JUDGE_VERSION + 1)
    with _open(opened) as library:
        assert _groups(library) == first
        assert ("photo_01.jpg", "small.jpg") in compared
        keys = library.catalog.db.connection().execute(
            "SELECT DISTINCT valid_for FROM pixel_verdicts").fetchall()
    assert len(keys) == 1  # the older judge's verdicts are gone


def test_lists_found_a_few_at_a_time_give_the_pairs_found_all_at_once(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists stored chunk by chunk (a search that can be cancelled) keep every entry between
    photos of different chunks."""
    paths = make_photo_folder(tmp_path / "pics", count=7)
    resized_copy(paths[2], tmp_path / "pics" / "copy.jpg")

    def pairs_found(chunk: int) -> set[tuple[int, int]]:
        monkeypatch.setattr(search_module, "NEIGHBOUR_CHUNK", chunk)
        with _open(opened) as library:
            with library.catalog.transaction() as conn:
                conn.execute("DELETE FROM neighbours")
            library.duplicates()
            found = library._duplicates._neighbours
            assert found is not None
            return set(zip(found.a.tolist(), found.b.tolist(), strict=True))

    with _open(opened) as library:
        library.index([tmp_path / "pics"])
    at_once = pairs_found(100)
    assert at_once and pairs_found(2) == at_once


# -- what a duplicate pass read, kept for the next --------------------------------------------

def test_a_moved_threshold_regroups_without_reading_the_catalog_again(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=5)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        reads: list[int] = []
        real = library.catalog.photos
        monkeypatch.setattr(library.catalog, "photos",
                            lambda *a, **kw: (reads.append(1), real(*a, **kw))[1])
        library.duplicates(0.9)
        library.duplicates(0.5)
        assert len(reads) == 1
        shutil.copy(paths[3], tmp_path / "pics" / "exact.jpg")  # the catalog changes
        library.index()
        groups = library.duplicates(0.5)
        assert len(reads) == 2
        assert any({paths[3], tmp_path / "pics" / "exact.jpg"} <= {p.path for p in g.members}
                   for g in groups)
        monkeypatch.setattr(search_module, "INPUTS_KEPT_S", 0.05)
        library.duplicates(0.5)  # nothing changed: kept, from now on for 50 ms only
        assert len(reads) == 2
        deadline = time.monotonic() + 5
        while library._duplicates._inputs is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert library._duplicates._inputs is None  # let go
        library.duplicates(0.5)
        assert len(reads) == 3


def test_catalog_state_changes_with_any_commit_even_another_process(tmp_path: Path) -> None:
    from photosim.core.catalog import Catalog

    ours, theirs = Catalog(tmp_path / "c.db"), Catalog(tmp_path / "c.db")
    try:
        before = ours.state()
        assert ours.state() == before  # reading changes nothing
        ours.set_setting("a", "1")
        after_ours = ours.state()
        assert after_ours != before
        time.sleep(0.01)
        theirs.set_setting("b", "2")  # another connection, as another process would
        assert ours.state() != after_ours
    finally:
        ours.close()
        theirs.close()


def test_indexing_reports_finding_lists_and_a_cancel_there_keeps_what_was_found(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        searched: list[int]) -> None:
    from photosim.core.cancel import CancelToken

    monkeypatch.setattr(search_module, "NEIGHBOUR_CHUNK", 2)
    make_photo_folder(tmp_path / "pics", count=5)
    token = CancelToken()
    stages: list[Progress] = []

    def progress(p: Progress) -> None:
        stages.append(p)
        if p.stage == Stage.PREPARING_DUPLICATES and p.done == 2:
            token.cancel()  # one chunk of lists stored

    with _open(opened) as library:
        report = library.index([tmp_path / "pics"], progress=progress, cancel=token)
        assert report.cancelled and report.embedded == 5
        assert [(p.done, p.total) for p in stages if p.stage == Stage.PREPARING_DUPLICATES] == \
            [(0, 5), (2, 5)]
        assert len(_stored(library)) == 2
        searched.clear()
        assert not library.index().cancelled
        assert len(_stored(library)) == 5 and len(searched) == 3  # went on from there


def test_a_pass_waiting_for_another_neighbour_search_says_so_and_hears_a_cancel(
        opened: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from photosim.core.cancel import Cancelled, CancelToken

    make_photo_folder(tmp_path / "pics", count=3)
    token = CancelToken()
    heard: list[tuple[Stage, int, int | None]] = []

    def progress(p: Progress) -> None:
        heard.append((p.stage, p.done, p.total))
        if p.stage == Stage.FINDING_NEIGHBOURS:
            token.cancel()

    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        search = library._duplicates
        outcome: list[BaseException] = []

        def waiting_pass() -> None:
            try:
                library.duplicates(progress=progress, cancel=token)
            except BaseException as exc:  # noqa: BLE001 - what ended it is the point
                outcome.append(exc)

        with search._neighbour_lock:  # another thread's long search holds it
            waiting = threading.Thread(target=waiting_pass, daemon=True)
            waiting.start()
            waiting.join(timeout=5)
            assert not waiting.is_alive()  # it did not wait for the other search to end
        assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
        assert (Stage.FINDING_NEIGHBOURS, 0, None) in heard
        assert library.duplicates() is not None  # and it runs once the search is free


@pytest.mark.parametrize("bulk_above, max_bytes", [(0, 1 << 40), (0, 0), (1000, 1 << 40)])
def test_lists_found_after_indexing_are_those_a_duplicate_pass_finds(
        opened: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        bulk_above: int, max_bytes: int) -> None:
    """Indexing finds lists with every vector in memory, or, when they would take too much
    memory (or the lists are few), re-ranked from the index's files: the same lists."""
    monkeypatch.setattr(search_module, "NEIGHBOUR_BULK_ABOVE", bulk_above)
    monkeypatch.setattr(search_module, "NEIGHBOUR_BULK_MAX_BYTES", max_bytes)
    paths = make_photo_folder(tmp_path / "pics", count=8)
    resized_copy(paths[2], tmp_path / "pics" / "copy.jpg")

    def lists(library: Library) -> dict[int, list[int]]:
        rows = library.catalog.db.connection().execute(
            "SELECT photo_id, ids FROM neighbours").fetchall()
        return {r[0]: np.frombuffer(r[1], np.int64).tolist() for r in rows}

    with _open(opened) as library:
        library.index([tmp_path / "pics"])
        by_indexing = lists(library)
        with library.catalog.transaction() as conn:
            conn.execute("DELETE FROM neighbours")
        library.duplicates()  # with every vector in memory
        assert lists(library) == by_indexing
