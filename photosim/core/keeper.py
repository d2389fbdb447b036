"""Which copy of a duplicate group to keep, and why, in words a user can check.

The most common complaint about duplicate finders is that they suggest keeping the wrong copy:
the JPEG export instead of the HEIC original, the smaller file, the copy without EXIF. The
order of preference here follows what users say they expect: a file in a reference folder is
never proposed for deletion; then the original format; then resolution; then file size at equal
resolution; then richer EXIF; then sharpness; then the oldest capture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from photosim.core.types import Photo
from photosim.core.units import human_size

RAW_FORMATS = frozenset({"DNG", "CR2", "CR3", "NEF", "ARW", "ORF", "RW2", "RAF", "PEF", "SRW"})
# Higher is more likely the camera's original. PNG/WebP copies of photos are almost always
# exports or screenshots, so they rank below JPEG even though they may be larger files.
_FORMAT_RANK = {"HEIF": 3, "HEIC": 3, "AVIF": 3, "JPEG": 2, "MPO": 2, "TIFF": 2, "PNG": 1}


@dataclass(frozen=True)
class _Criterion:
    value: Callable[[Photo], float]  # higher is better
    describe: Callable[[Photo, bool], str]  # (photo, beats every other copy) -> phrase


def format_rank(photo: Photo) -> int:
    """How "original" a file format is: RAW 4, HEIF 3, JPEG/TIFF 2, PNG 1, anything else 0."""
    fmt = (photo.format or "").upper()
    if fmt in RAW_FORMATS or photo.path.suffix.lstrip(".").upper() in RAW_FORMATS:
        return 4
    return _FORMAT_RANK.get(fmt, 0)


def choose_keeper(members: Sequence[Photo], reference_folders: Sequence[Path] = (),
                  sharpness: Mapping[int, float] | None = None) -> tuple[Photo, str]:
    """The copy to keep and a sentence saying why (e.g. "largest resolution (4032×3024)")."""
    if not members:
        raise ValueError("choose_keeper needs at least one photo")
    criteria = _criteria(reference_folders, sharpness or {})
    ranked = sorted(members, key=lambda p: _sort_key(p, criteria), reverse=True)
    keeper = ranked[0]
    if len(ranked) == 1:
        return keeper, "the only copy"
    return keeper, _reason(keeper, ranked[1:], criteria)


def _criteria(reference_folders: Sequence[Path],
              sharpness: Mapping[int, float]) -> list[_Criterion]:
    def in_reference(p: Photo) -> float:
        return float(any(p.path.is_relative_to(r) for r in reference_folders))

    def older(p: Photo) -> float:
        # ISO 8601 strings sort by time; an earlier capture is more likely the original.
        return -_date_ordinal(p.date_taken) if p.date_taken else float("-inf")

    def most(best: str, better: str) -> Callable[[bool], str]:
        return lambda alone: best if alone else better

    return [
        _Criterion(in_reference, lambda p, alone: "in a reference folder"),
        _Criterion(lambda p: float(format_rank(p)),
                   lambda p, alone: f"{_format_name(p)} original"),
        _Criterion(lambda p: float(p.pixels), lambda p, alone:
                   f"{most('largest', 'larger')(alone)} resolution ({p.width}×{p.height})"),
        _Criterion(lambda p: float(p.size), lambda p, alone:
                   f"{most('largest', 'larger')(alone)} file ({human_size(p.size)})"),
        _Criterion(lambda p: float(p.exif_fields), lambda p, alone:
                   f"{most('most', 'more')(alone)} EXIF metadata ({p.exif_fields} fields)"),
        _Criterion(lambda p: sharpness.get(p.id, 0.0),
                   lambda p, alone: most("sharpest", "sharper")(alone)),
        _Criterion(older, lambda p, alone:
                   f"{most('oldest', 'older')(alone)} capture ({p.date_taken})"),
    ]


def _sort_key(photo: Photo, criteria: list[_Criterion]) -> tuple[object, ...]:
    # The path breaks the last ties so the choice never depends on the order of `members`.
    return (*(c.value(photo) for c in criteria), _reverse_text(str(photo.path)))


def _reason(keeper: Photo, others: Sequence[Photo], criteria: list[_Criterion]) -> str:
    """Name the criteria where the keeper stands out, up to the one that decided it.

    Criteria before the deciding one are named only where the keeper beats every other copy;
    the deciding one says "larger" rather than "largest" when a copy ruled out earlier is bigger.
    """
    runner_up = others[0]
    parts: list[str] = []
    for criterion in criteria:
        mine = criterion.value(keeper)
        beats_all = mine > max(criterion.value(p) for p in others)
        decisive = mine > criterion.value(runner_up)
        if beats_all or decisive:
            parts.append(criterion.describe(keeper, beats_all))
        if decisive:
            break
    if not parts:
        return "all copies are equivalent; kept the first by path"
    return _join(parts)


def _join(parts: list[str]) -> str:
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return text[0].upper() + text[1:]


def _format_name(photo: Photo) -> str:
    fmt = (photo.format or photo.path.suffix.lstrip(".") or "unknown").upper()
    return "HEIC" if fmt == "HEIF" else fmt


def _date_ordinal(iso: str) -> float:
    digits = "".join(ch for ch in iso if ch.isdigit())[:14].ljust(14, "0")
    return float(digits)


def _reverse_text(text: str) -> tuple[int, ...]:
    # Sorting is descending, so negate code points to make the smallest path win ties.
    return tuple(-ord(ch) for ch in text)
