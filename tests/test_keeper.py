"""Keep-best: reference folders, originals, resolution, size, EXIF, sharpness; with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from photosim.core.keeper import choose_keeper
from photosim.core.types import Photo


def _photo(pid: int, name: str, fmt: str = "JPEG", w: int = 4000, h: int = 3000,
           size: int = 3_000_000, exif: int = 10, date: str | None = None) -> Photo:
    return Photo(pid, Path("/lib") / name, size, 0, f"h{pid}", w, h, fmt, date, 1, None,
                 exif_fields=exif)


def test_heic_original_beats_larger_jpeg_export() -> None:
    heic = _photo(1, "IMG_1.HEIC", "HEIF", size=2_000_000)
    jpeg = _photo(2, "IMG_1.jpg", "JPEG", size=5_000_000)
    keeper, reason = choose_keeper([jpeg, heic])
    assert keeper == heic
    assert "HEIC original" in reason


def test_higher_resolution_wins_at_equal_format_and_reason_names_it() -> None:
    small = _photo(1, "a.jpg", w=2000, h=1500, size=9_000_000)
    big = _photo(2, "b.jpg", w=4032, h=3024, size=1_000_000)
    keeper, reason = choose_keeper([small, big])
    assert keeper == big
    assert reason == "Largest resolution (4032×3024)"


def test_larger_file_then_exif_then_sharpness_then_age_break_ties() -> None:
    a, b = _photo(1, "a.jpg", size=1_000), _photo(2, "b.jpg", size=2_000)
    assert choose_keeper([a, b])[0] == b
    c, d = _photo(3, "c.jpg", exif=3), _photo(4, "d.jpg", exif=40)
    keeper, reason = choose_keeper([c, d])
    assert keeper == d and "EXIF" in reason
    e, f = _photo(5, "e.jpg"), _photo(6, "f.jpg")
    keeper, reason = choose_keeper([e, f], sharpness={5: 10.0, 6: 90.0})
    assert keeper == f and reason == "Sharpest"
    g = _photo(7, "g.jpg", date="2020-01-01T10:00:00")
    h = _photo(8, "h.jpg", date="2019-01-01T10:00:00")
    assert choose_keeper([g, h])[0] == h


def test_reference_folder_always_wins(tmp_path: Path) -> None:
    ref = Path("/lib/archive")
    tiny = Photo(1, ref / "x.jpg", 10, 0, "h1", 100, 100, "JPEG")
    raw = _photo(2, "x.dng", "DNG")
    keeper, reason = choose_keeper([raw, tiny], reference_folders=[ref])
    assert keeper == tiny and "reference folder" in reason


def test_choice_does_not_depend_on_order_and_needs_members() -> None:
    a, b = _photo(1, "a.jpg"), _photo(2, "b.jpg")
    assert choose_keeper([a, b])[0] == choose_keeper([b, a])[0]
    with pytest.raises(ValueError):
        choose_keeper([])
