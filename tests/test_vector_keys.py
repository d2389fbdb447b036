"""Stored vectors are keyed by the model file's content, not only by its spec id (issue 17):
another or a tampered file under the same id never mixes its vectors with the real one's, and
a file used again finds its vectors still there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from photosim.core.catalog import Catalog
from photosim.core.catalog.store import encode_vector
from photosim.core.library import Library
from photosim.core.models.spec import load_spec_file
from tests.library_fixtures import make_photo_folder
from tests.modelgen import TINY_DIM, build_classifier


def _swap_in(model: Path, other: Path) -> None:
    """Overwrite ``model`` with ``other``'s bytes, keeping its size check and mtime: what a
    cheap size/mtime check cannot see."""
    stat = model.stat()
    shutil.copyfile(other, model)
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _open(data: Path, model: Path, spec: Path) -> Library:
    return Library.open(data, model=str(model), model_spec=str(spec))


def _index_as_an_older_photosim(data: Path, model: Path, spec: Path, folder: Path) -> str:
    """Index ``folder``, then store its vectors under the bare id, unclaimed, as a photosim
    from before keying by content left them; the key they had."""
    with _open(data, model, spec) as library:
        library.index([folder])
        key = library.spec.vector_key if library.spec else ""
    catalog = Catalog(data / "catalog.sqlite3")
    with catalog.transaction() as conn:
        conn.execute("UPDATE vectors SET model_id = 'tiny-test' WHERE model_id = ?", (key,))
        conn.execute("DELETE FROM settings WHERE key LIKE 'vectors keyed by file:%'")
    catalog.close()
    return key


def test_another_file_under_the_same_id_gets_its_own_vectors(tmp_path: Path,
                                                             tiny_model: tuple[Path, Path]
                                                             ) -> None:
    real, spec = tiny_model
    model = shutil.copy(real, tmp_path / "model.onnx")
    other = build_classifier(tmp_path / "other.onnx", seed=8)
    assert other.stat().st_size == Path(model).stat().st_size  # same shape, other weights
    photos = make_photo_folder(tmp_path / "pics", count=5)
    data = tmp_path / "data"
    with _open(data, model, spec) as library:
        assert library.index([tmp_path / "pics"]).embedded == 5
        first = library.vector_of(photos[0])[0]

    _swap_in(Path(model), other)
    with _open(data, model, spec) as library:
        # Old code: the same id, so the real model's vectors were served for the other file.
        assert library.status().embedded == 0
        assert library.index().embedded == 5
        second = library.vector_of(photos[0])[0]
        assert library.similar(photos[0], k=1)[0].score <= 1.0
    assert float(np.dot(first, second)) < 0.999  # really another model's vector

    _swap_in(Path(model), Path(real))
    with _open(data, model, spec) as library:
        # Back to the first file: its vectors were kept and are used again, nothing embedded.
        assert library.status().embedded == 5
        assert library.index().embedded == 0
        np.testing.assert_allclose(library.vector_of(photos[0])[0], first, atol=1e-3)
        hit = library.similar(photos[1], k=5)
        assert {m.photo.path for m in hit} == set(photos) - {photos[1]}


def test_vectors_stored_under_the_bare_id_are_not_used_for_an_unpinned_file(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    """Vectors from before keying by content cannot be told apart by file unless the spec
    pins one: for an unpinned model they are dropped and computed again."""
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=3)
    data = tmp_path / "data"
    key = _index_as_an_older_photosim(data, model, spec, tmp_path / "pics")
    with _open(data, model, spec) as library:
        assert library.status().embedded == 0
        assert library.index().embedded == 3
    catalog = Catalog(data / "catalog.sqlite3")
    rows = catalog.db.connection().execute("SELECT DISTINCT model_id FROM vectors").fetchall()
    assert [r[0] for r in rows] == [key]
    catalog.close()


def test_a_pinned_file_adopts_the_vectors_stored_under_its_bare_id(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    vector = np.ones(TINY_DIM, np.float32) / np.sqrt(TINY_DIM)
    with catalog.transaction() as conn:
        for content in ("a" * 64, "b" * 64):
            catalog.put_vector(conn, content, "resnet50-v1-12", vector)
        conn.execute("INSERT INTO vectors VALUES (?, ?, ?)",
                     ("c" * 64, "other-model", encode_vector(vector)))
        conn.execute("INSERT INTO video_frames VALUES (?, ?, ?, ?)",
                     ("e" * 64, "resnet50-v1-12", 1.5, encode_vector(vector)))
    assert catalog.claim_unkeyed_vectors("resnet50-v1-12", "resnet50-v1-12@3f03fdef724b2294",
                                         adopt=True) == 2
    assert catalog.has_vector("a" * 64, "resnet50-v1-12@3f03fdef724b2294")
    assert not catalog.has_vector("a" * 64, "resnet50-v1-12")
    assert catalog.has_vector("c" * 64, "other-model")  # another model's are left alone
    frames = catalog.db.connection().execute("SELECT model_id FROM video_frames").fetchall()
    assert [r[0] for r in frames] == ["resnet50-v1-12@3f03fdef724b2294"]  # video frames too
    # Done once: vectors written under the bare id later (an older photosim) stay put.
    with catalog.transaction() as conn:
        catalog.put_vector(conn, "d" * 64, "resnet50-v1-12", vector)
    assert catalog.claim_unkeyed_vectors("resnet50-v1-12", "resnet50-v1-12@3f03fdef724b2294",
                                         adopt=True) == 0
    catalog.close()


def test_only_the_pinned_file_counts_as_pinned(tiny_model: tuple[Path, Path]) -> None:
    from photosim.core.models.spec import builtin_specs
    from photosim.core.models.store import is_pinned_file, with_file

    resnet = builtin_specs()["resnet50-v1-12"]
    assert resnet.file is not None
    assert is_pinned_file(with_file(resnet, resnet.file.sha256))
    assert not is_pinned_file(with_file(resnet, "0" * 64))
    assert not is_pinned_file(with_file(load_spec_file(tiny_model[1]), "0" * 64))
    assert with_file(resnet, resnet.file.sha256).vector_key == "resnet50-v1-12@3f03fdef724b2294"
    assert "file_sha256" not in with_file(resnet, "0" * 64).to_dict()


def test_a_reader_sees_vectors_a_writer_has_not_claimed_yet(tmp_path: Path,
                                                            tiny_model: tuple[Path, Path]
                                                            ) -> None:
    """After an upgrade, read-only commands (which may not move the vectors) still find the
    vectors an older photosim stored under the bare id, until a writer claims them."""
    model, spec = tiny_model
    photos = make_photo_folder(tmp_path / "pics", count=4)
    data = tmp_path / "data"
    _index_as_an_older_photosim(data, model, spec, tmp_path / "pics")
    with Library.open(data, model=str(model), model_spec=str(spec), read_only=True) as reader:
        assert reader.status().embedded == 4
        assert {m.photo.path for m in reader.similar(photos[0], k=5)} == set(photos) - {photos[0]}
    with _open(data, model, spec) as library:  # the writer claims (here: drops) them
        assert library.status().embedded == 0
    with Library.open(data, model=str(model), model_spec=str(spec), read_only=True) as reader:
        assert reader.status().embedded == 0  # from now on the keyed vectors only
