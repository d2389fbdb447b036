"""The keeper is the photo the others were made from; each rule, and the reason naming it.
What may be trashed: copies only, never another shot, never a reference file."""

from __future__ import annotations

from pathlib import Path

import pytest

from photosim.core.duplicates.formats import format_rank
from photosim.core.duplicates.keeper import Link, choose_keeper
from photosim.core.duplicates.policy import (
    bulk_trash,
    may_suggest_trash,
    reclaimable_bytes,
    suggested_trash,
    with_keeper,
)
from photosim.core.types import DuplicateGroup, DuplicateKind, Photo

EXACT, SAME, EDITED, SIMILAR = (DuplicateKind.EXACT, DuplicateKind.SAME, DuplicateKind.EDITED,
                                DuplicateKind.SIMILAR)


def _photo(pid: int, path: str, fmt: str = "JPEG", w: int = 4000, h: int = 3000,
           size: int = 3_000_000, date: str | None = None, camera: str | None = None,
           mtime: int = 0) -> Photo:
    return Photo(pid, Path("/lib") / path, size, mtime, f"h{pid}", w, h, fmt, date, 1, camera)


def _links(*pairs: tuple[Photo, Photo, Link]) -> dict[frozenset[int], Link]:
    return {frozenset((a.id, b.id)): link for a, b, link in pairs}


def test_full_framing_beats_a_larger_crop() -> None:
    original = _photo(1, "a.jpg", w=2000, h=1500, size=900_000, mtime=5)
    crop = _photo(2, "b.jpg", w=3000, h=2250, size=4_000_000, mtime=1)  # bigger, older file
    keeper, reason = choose_keeper([crop, original],
                                   _links((original, crop, Link(EDITED, crop=crop.id))))
    assert keeper == original
    assert reason.startswith("Full framing")


def test_unedited_beats_a_bigger_brightened_copy() -> None:
    original = _photo(1, "Wallpapers/FallenLeaf.jpg", size=2_000_000, mtime=1)
    bright = _photo(2, "Wallpapers/FallenLeaf_bright.jpg", size=3_500_000, mtime=9)
    mirrored = _photo(3, "Wallpapers/FallenLeaf_m.jpg", size=3_300_000, mtime=8)
    links = _links((original, bright, Link(EDITED, edited=True)),
                   (original, mirrored, Link(EDITED, edited=True)),
                   (bright, mirrored, Link(EDITED, edited=True)))
    keeper, reason = choose_keeper([bright, mirrored, original], links)
    assert keeper == original
    assert reason.startswith("Unedited")


def test_an_edit_direction_follows_camera_metadata_before_file_age() -> None:
    original = _photo(1, "x.jpg", date="2024:05:01 10:00:00", camera="X100", mtime=9)
    edit = _photo(2, "y.jpg", mtime=1)  # an older file, but stripped of the camera's metadata
    keeper, _ = choose_keeper([edit, original], _links((original, edit,
                                                        Link(EDITED, edited=True))))
    assert keeper == original


def test_camera_heic_beats_its_jpeg_export_but_a_stripped_heic_does_not() -> None:
    heic = _photo(1, "IMG_1.HEIC", "HEIF", size=2_000_000, date="2024-05-01T10:00:00",
                  camera="iPhone", mtime=1)
    jpeg = _photo(2, "IMG_1.jpg", "JPEG", size=5_000_000, mtime=9)  # the export, stripped
    keeper, reason = choose_keeper([jpeg, heic])
    assert keeper == heic and reason.startswith("Camera metadata")
    exported = _photo(3, "IMG_1.heic", "HEIF", size=1_000_000, mtime=9)
    plain = _photo(4, "IMG_1.jpg", "JPEG", mtime=1)
    assert choose_keeper([exported, plain])[0] == plain
    assert format_rank(exported) < format_rank(plain) == format_rank(heic)
    raw = _photo(5, "IMG_1.CR2", "CR2", mtime=9)
    assert choose_keeper([heic, raw])[0] == raw


def test_png_and_webp_reencodes_lose_to_the_jpeg_whatever_their_size() -> None:
    jpeg = _photo(1, "a.jpg", size=1_000_000, mtime=5)
    png = _photo(2, "a.png", "PNG", size=9_000_000, mtime=1)
    webp = _photo(3, "a.webp", "WEBP", size=800_000, mtime=1)
    assert choose_keeper([png, webp, jpeg]) == (jpeg, "Original format (JPEG)")


def test_camera_metadata_beats_stripped_and_resolution_beats_downscale() -> None:
    tagged = _photo(1, "a.jpg", date="2024-05-01T10:00:00", mtime=9)
    stripped = _photo(2, "b.jpg", size=9_000_000, mtime=1)
    keeper, reason = choose_keeper([stripped, tagged])
    assert keeper == tagged and reason.startswith("Camera metadata")
    big = _photo(3, "c.jpg", w=4032, h=3024, size=1_000_000, mtime=9)
    small = _photo(4, "d.jpg", w=2016, h=1512, size=5_000_000, mtime=1)
    assert choose_keeper([small, big]) == (big, "Higher resolution (4032×3024)")


@pytest.mark.parametrize("copy_path", ["Copies/Grey (copy).jpg", "Wallpapers/Grey (1).jpg",
                                       "Downloads/Grey.jpg", "WhatsApp Images/Grey.jpg",
                                       "Wallpapers/Grey-edited.jpg", "Pictures/Copy of Grey.jpg"])
def test_identical_files_keep_the_better_place_and_name(copy_path: str) -> None:
    original = _photo(1, "Wallpapers/plasma/Grey.jpg", mtime=9)  # newer, and longer path
    copy = _photo(2, copy_path, mtime=1)
    keeper, reason = choose_keeper([copy, original], _links((original, copy, Link(EXACT))))
    assert keeper == original
    assert reason.startswith("Better place and name")


def test_identical_files_in_equal_places_keep_the_oldest() -> None:
    first, second = _photo(1, "b/x.jpg", mtime=1), _photo(2, "a/x.jpg", mtime=2)
    assert choose_keeper([second, first]) == (first, "Oldest file")
    shot = _photo(3, "c/x.jpg", date="2020-01-01T00:00:00", camera="X", mtime=9)
    later = _photo(4, "d/x.jpg", date="2021-01-01T00:00:00", camera="X", mtime=1)
    assert choose_keeper([later, shot]) == (shot, "Oldest capture (2020-01-01T00:00:00)")


def test_file_size_alone_never_decides() -> None:
    small, big = _photo(1, "a/x.jpg", size=1_000, mtime=1), _photo(2, "b/x.jpg", size=9_000,
                                                                   mtime=2)
    assert choose_keeper([big, small])[0] == small  # the older one, not the bigger


def test_reference_folder_comes_first() -> None:
    ref = _photo(1, "ref/x.jpg", w=100, h=100, mtime=9)
    other = _photo(2, "lib/x.jpg", mtime=1)
    keeper, reason = choose_keeper([other, ref], reference_folders=[Path("/lib/ref")])
    assert keeper == ref and reason == "In a reference folder"


def test_the_choice_never_depends_on_member_order() -> None:
    a, b = _photo(1, "a.jpg"), _photo(2, "b.jpg")
    assert choose_keeper([a, b])[0] == choose_keeper([b, a])[0]
    with pytest.raises(ValueError):
        choose_keeper([])


# -- what may be trashed ---------------------------------------------------------------------
def _group(kinds: dict[Photo, DuplicateKind | None]) -> DuplicateGroup:
    members = tuple(kinds)
    keeper = next(p for p, k in kinds.items() if k is None)
    return DuplicateGroup(EDITED, members, 0.9, keeper, "why", ("",) * len(members),
                          tuple(kinds.values()))


def test_bulk_actions_never_include_another_shot_or_a_reference_file() -> None:
    keeper, copy, edit = _photo(1, "k.jpg"), _photo(2, "c.jpg"), _photo(3, "e.jpg")
    shot, kept_ref = _photo(4, "burst.jpg"), _photo(5, "ref/c.jpg")
    group = _group({keeper: None, copy: SAME, edit: EDITED, shot: SIMILAR, kept_ref: EXACT})
    shots = _group({_photo(6, "s1.jpg"): None, _photo(7, "s2.jpg"): SIMILAR})
    refs = [Path("/lib/ref")]
    assert bulk_trash([group, shots], refs) == [copy, edit]
    assert suggested_trash(shots, refs) == []
    assert not may_suggest_trash(group, shot, refs)
    assert reclaimable_bytes([group, shots], refs) == copy.size + edit.size


def test_a_users_keeper_choice_is_kept_and_said() -> None:
    keeper, copy = _photo(1, "k.jpg"), _photo(2, "c.jpg")
    group = _group({keeper: None, copy: SAME})
    mine = with_keeper(group, copy)
    assert mine.keeper == copy and mine.keep_reason == "Your choice"
    assert bulk_trash([mine], []) == [keeper]


def test_a_screenshot_holding_the_photo_is_not_its_original() -> None:
    photo = _photo(1, "IMG_1.jpg", w=1600, h=1200, mtime=5)
    screenshot = _photo(2, "Screenshot 1.png", "PNG", w=2560, h=1600, mtime=1)
    # the judge found the photo shown inside the screenshot, framed in interface
    keeper, reason = choose_keeper([screenshot, photo], _links(
        (photo, screenshot, Link(EDITED, crop=photo.id, screenshot=True))))
    assert keeper == photo and reason.startswith("Full framing")


def test_a_png_original_keeps_its_frame_over_a_jpeg_cut_from_it() -> None:
    """A PNG original (a scan, an export, a download) and a JPEG cut from it: the JPEG lies
    inside the PNG as a screenshot's photo would, but not framed in interface, so the PNG is
    the full framing, however much of it the JPEG fills."""
    original = _photo(1, "scan.png", "PNG", w=640, h=480, mtime=5)
    crop = _photo(2, "scan_cut.jpg", w=420, h=315, mtime=1)
    keeper, reason = choose_keeper([crop, original], _links(
        (original, crop, Link(EDITED, crop=crop.id))))
    assert keeper == original and reason.startswith("Full framing")
