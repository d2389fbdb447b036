"""The facade end to end with the tiny generated model: real SQLite, hnswlib, onnxruntime."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.duplicates import search as search_module
from photosim.core.duplicates.judge import PairJudge
from photosim.core.duplicates.kinds import Level
from photosim.core.errors import FileChangedError, ProtectedFileError
from photosim.core.fingerprint import is_current
from photosim.core.library import Library
from photosim.core.types import DuplicateGroup, DuplicateKind, Progress, Stage
from tests.library_fixtures import make_photo_folder, resized_copy


@pytest.fixture
def library(tmp_path: Path, tiny_model: tuple[Path, Path]) -> Library:
    model, spec = tiny_model
    lib = Library.open(tmp_path / "data", model=str(model), model_spec=str(spec))
    yield lib
    lib.close()


def test_index_then_reindex_skips_unchanged_files(library: Library, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "pics", count=6)
    first = library.index([tmp_path / "pics"])
    assert (first.added, first.embedded, first.failed) == (6, 6, 0)
    second = library.index()
    assert (second.added, second.unchanged, second.embedded) == (0, 6, 0)
    assert library.status().embedded == 6


def test_changed_file_is_re_embedded_and_renamed_file_is_not(library: Library,
                                                             tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    library.index([tmp_path / "pics"])
    resized_copy(paths[1], paths[0])  # new content at the same path
    moved = paths[2].with_name("renamed.jpg")
    paths[2].rename(moved)
    report = library.index()
    assert report.updated == 1 and report.moved == 1 and report.embedded == 1
    assert library.photo(moved) is not None and library.photo(paths[2]) is None


def test_deleted_file_leaves_catalog_and_index(library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    library.index([tmp_path / "pics"])
    paths[3].unlink()
    assert library.index().removed == 1
    results = library.similar(paths[0], k=10)
    assert all(m.photo.path != paths[3] for m in results)
    assert len(results) == 2


def test_resized_copy_is_its_nearest_neighbour(library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=8)
    copy = resized_copy(paths[5], tmp_path / "pics" / "copy_of_5.jpg")
    library.index([tmp_path / "pics"])
    best = library.similar(copy, k=3)[0]
    assert best.photo.path == paths[5]
    assert best.score > 0.95
    outside = resized_copy(paths[3], tmp_path / "outside.jpg", factor=0.7)
    assert library.similar(outside, k=1)[0].photo.path == paths[3]


def test_unreadable_files_are_recorded_with_a_reason(library: Library, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "pics", count=2)
    (tmp_path / "pics" / "empty.jpg").write_bytes(b"")
    (tmp_path / "pics" / "notes.jpg").write_text("not a picture")
    report = library.index([tmp_path / "pics"])
    assert report.failed == 2 and report.added == 2
    errors = {p.path.name: p.error for p in library.errors()}
    assert set(errors) == {"empty.jpg", "notes.jpg"}
    assert all(errors.values())


def test_exact_copies_form_an_exact_group(library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=4)
    shutil.copy2(paths[0], tmp_path / "pics" / "dup.jpg")
    library.index([tmp_path / "pics"])
    groups = library.duplicates(kinds={DuplicateKind.EXACT})
    assert len(groups) == 1
    group = groups[0]
    identical = {p.path.name for p, kind in zip(group.members, group.member_kinds, strict=True)
                 if kind in (None, DuplicateKind.EXACT)}
    assert identical == {paths[0].name, "dup.jpg"}


def test_trash_then_undo_restores_the_file(library: Library, tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=3)
    library.index([tmp_path / "pics"])
    photo = library.photo(paths[1])
    assert photo is not None
    action = library.trash([photo])
    assert not paths[1].exists()
    trash_files = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    assert [p.name for p in trash_files.iterdir()] == [paths[1].name]
    assert library.photo(paths[1]) is None
    assert library.undo(action.id) == [paths[1]]
    assert paths[1].exists() and library.photo(paths[1]) is not None
    assert library.actions()[0].undone


def test_trash_refuses_reference_folders_and_changed_files(library: Library,
                                                           tmp_path: Path) -> None:
    keep = make_photo_folder(tmp_path / "originals", count=1)
    other = make_photo_folder(tmp_path / "pics", count=1)
    library.add_folder(tmp_path / "originals", reference=True)
    library.index([tmp_path / "originals", tmp_path / "pics"])
    with pytest.raises(ProtectedFileError):
        library.trash([library.photo(keep[0])])  # type: ignore[list-item]
    shown = library.photo(other[0])
    other[0].write_bytes(other[0].read_bytes() + b"\0")  # edited since it was shown
    with pytest.raises(FileChangedError):
        library.trash([shown])  # type: ignore[list-item]
    assert keep[0].exists() and other[0].exists()


def test_missing_index_is_rebuilt_from_the_catalog(tmp_path: Path,
                                                   tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    paths = make_photo_folder(tmp_path / "pics", count=5)
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        lib.index([tmp_path / "pics"])
    shutil.rmtree(tmp_path / "data" / "index")
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        assert len(lib.similar(paths[0], k=10)) == 4
        assert lib.index().embedded == 0


def test_without_a_model_the_library_runs_in_reduced_mode(tmp_path: Path) -> None:
    paths = make_photo_folder(tmp_path / "pics", count=3)
    shutil.copy2(paths[0], tmp_path / "pics" / "again.jpg")
    with Library.open(tmp_path / "data") as lib:
        report = lib.index([tmp_path / "pics"])
        status = lib.status()
        assert report.added == 4 and report.embedded == 0
        assert not status.visual_search
        assert "photosim models download" in status.message
        assert len(lib.duplicates(kinds={DuplicateKind.EXACT})) == 1


def test_cancelled_run_keeps_its_work_and_the_next_run_resumes(library: Library,
                                                                tmp_path: Path) -> None:
    from photosim.core.cancel import CancelToken

    make_photo_folder(tmp_path / "pics", count=40, size=(320, 240))
    token = CancelToken()

    def stop_after_first_batch(p: Progress) -> None:
        if p.stage == "indexing" and p.done > 0:
            token.cancel()

    first = library.index([tmp_path / "pics"], progress=stop_after_first_batch, cancel=token)
    assert first.cancelled and 0 < first.embedded < 40
    second = library.index()
    assert not second.cancelled
    assert second.unchanged == first.added and second.embedded == 40 - first.embedded
    assert library.status().embedded == 40


def test_undo_works_after_a_restart(tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    model, spec = tiny_model
    paths = make_photo_folder(tmp_path / "pics", count=3)
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        lib.index([tmp_path / "pics"])
        lib.trash([lib.photo(paths[0]), lib.photo(paths[2])])  # type: ignore[list-item]
    assert not paths[0].exists() and not paths[2].exists()
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        assert sorted(lib.undo()) == sorted([paths[0], paths[2]])
        assert len(lib.photos()) == 3 and lib.status().embedded == 3
    assert paths[0].exists() and paths[2].exists()


def test_a_new_model_embeds_files_indexed_without_one(tmp_path: Path,
                                                      tiny_model: tuple[Path, Path]) -> None:
    make_photo_folder(tmp_path / "pics", count=4)
    with Library.open(tmp_path / "data") as reduced:  # no model: hashes and metadata only
        assert reduced.index([tmp_path / "pics"]).embedded == 0
    model, spec = tiny_model
    with Library.open(tmp_path / "data", model=str(model), model_spec=str(spec)) as lib:
        report = lib.index()
        assert (report.embedded, report.refreshed, report.updated, report.unchanged) == \
            (4, 4, 0, 0)
        assert lib.index().unchanged == 4


def test_fingerprints_of_an_older_version_are_computed_again_once(
        library: Library, tmp_path: Path) -> None:
    """A library indexed before the fingerprints last changed: the next index computes them
    again without embedding anything, drops what the duplicate finder derived from the old
    ones, and finds the same groups as before."""
    paths = make_photo_folder(tmp_path / "pics", count=4)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    library.index([tmp_path / "pics"])
    groups = group_ids(library.duplicates(0.9))
    before = library.catalog.fingerprints()
    assert set(before) and all(is_current(data) for data in before.values())
    with library.catalog.transaction() as conn:  # as an older version left them
        conn.execute("UPDATE photos SET fingerprint = "
                     "CAST(X'01' || substr(fingerprint, 2) AS BLOB)")
        conn.execute("INSERT INTO pixel_verdicts VALUES ('a', 'b', 'old', 1, 0.9, 0, 0)")
    assert not any(is_current(data) for data in library.catalog.fingerprints().values())
    report = library.index()
    # The files did not change: refreshed, not updated (what the user is told).
    assert (report.refreshed, report.updated, report.unchanged, report.embedded) == (5, 0, 0, 0)
    assert library.catalog.fingerprints() == before
    assert library.catalog.pixel_verdicts("old") == []
    assert library.index().unchanged == 5
    assert groups and group_ids(library.duplicates(0.9)) == groups


def test_a_new_threshold_regroups_without_comparing_pixels_again(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slider moves the similar-scene threshold only: pixel verdicts carry over."""
    paths = make_photo_folder(tmp_path / "pics", count=6)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    library.index([tmp_path / "pics"])
    compared: list[tuple[int, int]] = []
    real = PairJudge._pixel_level

    def counting(judge: PairJudge, i: int, j: int, *rest: object) -> object:
        compared.append((i, j))
        return real(judge, i, j, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(PairJudge, "_pixel_level", counting)
    first = library.duplicates(0.9)
    assert compared and any(g.kind == DuplicateKind.SAME for g in first)
    compared.clear()
    again = library.duplicates(0.5)
    assert compared == []
    same = [{p.id for p in g.members} for g in again if g.kind == DuplicateKind.SAME]
    assert same == [{p.id for p in g.members} for g in first if g.kind == DuplicateKind.SAME]
    library.index([tmp_path / "pics"])  # nothing changed: the verdicts still hold
    library.duplicates(0.9)
    assert compared == []


def group_ids(groups: list[DuplicateGroup]) -> list[tuple[str, frozenset[int]]]:
    return sorted((g.kind, frozenset(p.id for p in g.members)) for g in groups)


@pytest.fixture
def with_copies(library: Library, tmp_path: Path) -> Library:
    """Eight photos, three of them copies (resized, exact), without stored neighbour lists (as
    after an upgrade), so that a duplicate search has neighbours to find; the tests ask for
    them three photos at a time so that the search has chunks."""
    paths = make_photo_folder(tmp_path / "pics", count=8)
    resized_copy(paths[1], tmp_path / "pics" / "small.jpg")
    resized_copy(paths[2], tmp_path / "pics" / "smaller.jpg", factor=0.4)
    shutil.copy2(paths[3], tmp_path / "pics" / "same.jpg")
    library.index([tmp_path / "pics"])
    with library.catalog.transaction() as conn:
        conn.execute("DELETE FROM neighbours")
    return library


def test_a_duplicate_search_reports_its_stages_in_order_with_sane_counts(
        with_copies: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "NEIGHBOUR_CHUNK", 3)
    reports: list[tuple[Stage, int, int | None]] = []
    groups = with_copies.duplicates(progress=lambda p: reports.append((p.stage, p.done, p.total)),
                                    cancel=CancelToken())  # as the GUI asks: in chunks
    assert groups
    stages = list(dict.fromkeys(stage for stage, _, _ in reports))
    assert stages == [Stage.READING_LIBRARY, Stage.FINDING_NEIGHBOURS, Stage.COMPARING_PIXELS,
                      Stage.GROUPING]
    for stage in stages:
        counts = [(done, total) for s, done, total in reports if s == stage]
        assert all(total is None or 0 <= done <= total for done, total in counts)
        assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    assert [r for r in reports if r[0] == Stage.FINDING_NEIGHBOURS] == \
        [(Stage.FINDING_NEIGHBOURS, done, 11) for done in (0, 3, 6, 9, 11)]
    judged = [total for stage, _, total in reports if stage == Stage.COMPARING_PIXELS and total]
    assert judged and judged[0] >= 3  # at least the three copy pairs were compared
    assert [r for r in reports if r[0] == Stage.GROUPING] == \
        [(Stage.GROUPING, done, len(Level)) for done in range(len(Level))]


@pytest.mark.parametrize("stage", [Stage.READING_LIBRARY, Stage.FINDING_NEIGHBOURS,
                                   Stage.COMPARING_PIXELS, Stage.GROUPING])
def test_a_cancelled_duplicate_search_stops_and_leaves_the_library_usable(
        with_copies: Library, tmp_path: Path, tiny_model: tuple[Path, Path],
        monkeypatch: pytest.MonkeyPatch, stage: Stage) -> None:
    monkeypatch.setattr(search_module, "NEIGHBOUR_CHUNK", 3)
    token = CancelToken()
    after: list[Stage] = []

    def report(now: Progress) -> None:
        if token.cancelled:
            after.append(now.stage)
        elif now.stage == stage and (stage != Stage.FINDING_NEIGHBOURS or now.done == 6):
            token.cancel()  # in the middle of the neighbour search: two chunks answered

    with pytest.raises(Cancelled):
        with_copies.duplicates(0.9, progress=report, cancel=token)
    assert after == []  # stopped at the very next look
    asked = []
    index = with_copies.vector_index()
    assert index is not None
    real_query = index.query_batch
    monkeypatch.setattr(index, "query_batch", lambda vectors, *a, **kw: (
        asked.append(len(vectors)), real_query(vectors, *a, **kw))[1])
    groups = with_copies.duplicates(0.9)
    if stage == Stage.FINDING_NEIGHBOURS:
        assert asked == [5]  # carried on from the two chunks stored before (6 of 11)
    fresh = Library.open(tmp_path / "data", model=str(tiny_model[0]),
                         model_spec=str(tiny_model[1]))
    try:
        assert group_ids(groups) == group_ids(fresh.duplicates(0.9))
    finally:
        fresh.close()
    assert any(g.kind == DuplicateKind.SAME for g in groups)
