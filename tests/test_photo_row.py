"""A catalog row (``PhotoRow``) read through its named readers says what the Photo made from
it says: the readers name the right columns of what the catalog returns."""

from __future__ import annotations

from pathlib import Path

from photosim.core.library import Library
from photosim.core.types import photo_from_row, row_date_taken, row_path, row_size
from tests.library_fixtures import make_photo_folder


def test_the_row_readers_agree_with_the_photo_made_from_the_row(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    library = Library.open(tmp_path / "data", model=str(tiny_model[0]),
                           model_spec=str(tiny_model[1]))
    try:
        make_photo_folder(tmp_path / "pics", count=3)
        library.index([tmp_path / "pics"])
        rows = library.photo_rows()
        assert len(rows) == 3
        for row in rows:
            photo = photo_from_row(row)
            assert (Path(row_path(row)), row_size(row), row_date_taken(row)) == \
                (photo.path, photo.size, photo.date_taken)
            assert photo == library.photo(photo.path)
    finally:
        library.close()
