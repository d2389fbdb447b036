"""Library-adapted ranking (core/ranking.py): order, copies kept on top, the stored fit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from photosim.core import ranking

if TYPE_CHECKING:
    from photosim.core.library import Library


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def _kinds(rng: np.random.Generator, kinds: int = 6, each: int = 20) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Pooled-CNN-like vectors: a large shared non-negative component, a weak direction per
    kind and strong per-photo noise (so plain cosine mixes kinds up)."""
    dim = 64
    shared = np.abs(rng.standard_normal(dim)) * 3
    centres = rng.standard_normal((kinds, dim))
    labels = np.repeat(np.arange(kinds), each)
    vectors = shared + centres[labels] + 1.6 * rng.standard_normal((len(labels), dim))
    return _unit(vectors), labels


def _mean_precision_at(vectors: np.ndarray, labels: np.ndarray, fit: ranking.RankingFit | None,
                       k: int = 10) -> float:
    precisions = []
    for query in range(len(vectors)):
        others = np.array([i for i in range(len(vectors)) if i != query])
        found, _ = ranking.rerank(vectors[query], others, vectors[others], fit, k)
        precisions.append(np.mean(labels[found] == labels[query]))
    return float(np.mean(precisions))


def test_without_a_fit_the_order_is_plain_cosine() -> None:
    vectors, _ = _kinds(np.random.default_rng(1))
    ids = np.arange(10, 10 + len(vectors))
    found, scores = ranking.rerank(vectors[0], ids, vectors, None, 7)
    expected = np.argsort(-(vectors @ vectors[0]), kind="stable")[:7]
    assert found.tolist() == ids[expected].tolist()
    np.testing.assert_allclose(scores, (vectors @ vectors[0])[expected], rtol=1e-5)


def test_adapted_ranking_finds_more_of_the_same_kind_than_cosine() -> None:
    vectors, labels = _kinds(np.random.default_rng(2))
    fit = ranking.fit(vectors, len(vectors))
    plain = _mean_precision_at(vectors, labels, None)
    adapted = _mean_precision_at(vectors, labels, fit)
    assert adapted > plain + 0.03, (plain, adapted)


def test_scores_stay_plain_cosine_and_copies_keep_the_top_places() -> None:
    rng = np.random.default_rng(3)
    vectors, _ = _kinds(rng)
    query = vectors[0]
    copy = _unit(query + 0.05 * rng.standard_normal(query.shape))  # cosine ~0.99
    library = np.vstack([vectors[1:], copy[None]])
    ids = np.arange(len(library))
    fit = ranking.fit(library, len(library))
    found, scores = ranking.rerank(query, ids, library, fit, 10)
    assert found[0] == len(library) - 1  # the copy
    cosine = library @ query
    np.testing.assert_allclose(scores, cosine[found], rtol=1e-5)
    plain_top = np.argsort(-cosine, kind="stable")[:ranking.KEEP_FIRST]
    assert found[:ranking.KEEP_FIRST].tolist() == plain_top.tolist()


def test_fit_round_trips_and_knows_when_it_is_stale(tmp_path: Path) -> None:
    vectors, _ = _kinds(np.random.default_rng(4))
    fit = ranking.fit(vectors, 1000)
    path = tmp_path / "ranking" / "model.npz"
    ranking.save_fit(path, fit)
    loaded = ranking.load_fit(path, vectors.shape[1])
    assert loaded is not None and loaded.photos == 1000
    np.testing.assert_array_equal(loaded.mean, fit.mean)
    assert ranking.load_fit(path, vectors.shape[1] + 1) is None  # another model's size
    assert ranking.load_fit(tmp_path / "missing.npz", 64) is None
    path.write_bytes(b"not a fit")
    assert ranking.load_fit(path, 64) is None
    assert not fit.stale(1200) and fit.stale(1250) and fit.stale(800)


def test_library_learns_the_ranking_saves_it_and_refits_as_it_grows(
        tmp_path: Path, tiny_model: tuple[Path, Path]) -> None:
    from photosim.core.library import Library
    from tests.library_fixtures import make_photo_folder, resized_copy

    model, spec = tiny_model
    photos = make_photo_folder(tmp_path / "pics", count=ranking.MIN_PHOTOS + 9, size=(96, 72))
    copy = resized_copy(photos[0], tmp_path / "pics" / "copy.jpg")
    library = Library.open(tmp_path / "data", model=str(model), model_spec=str(spec))
    try:
        library.index([tmp_path / "pics"])
        matches = library.similar(photos[0], k=5)
        assert matches[0].photo.path == copy
        saved = list((tmp_path / "data" / "ranking").glob("*.npz"))
        assert len(saved) == 1
        fit = ranking.load_fit(saved[0], library.spec.dim if library.spec else 0)
        assert fit is not None and fit.photos == ranking.MIN_PHOTOS + 10
        # Library.similar answers in the ranking's order (not re-sorted by the cosine shown).
        index = library.vector_index()
        assert index is not None
        vector, photo = library.vector_of(photos[5])
        assert photo is not None
        pool = index.neighbourhood(vector, ranking.pool_size(20), {photo.id})
        expected, _ = ranking.rerank(vector, *pool, fit, 20)
        assert [m.photo.id for m in library.similar(photos[5], k=20)] == expected.tolist()
        make_photo_folder(tmp_path / "more", count=20, size=(96, 72))
        library.index([tmp_path / "more"])
        library.similar(photos[0], k=5)
        refitted = ranking.load_fit(saved[0], fit.mean.shape[0])
        assert refitted is not None and refitted.photos == ranking.MIN_PHOTOS + 30
    finally:
        library.close()


def test_video_hits_join_the_ranked_photos_without_re_sorting_them() -> None:
    from photosim.core.frame_search import FrameHit, with_video_times
    from photosim.core.types import Match, Photo

    photos = {i: Photo(i, Path(f"/p/{i}.jpg"), 1, 1, None) for i in range(5)}
    ranked = [Match(photos[0], 0.7), Match(photos[1], 0.4), Match(photos[2], 0.6),
              Match(photos[3], 0.3)]
    merged = with_video_times(ranked, [FrameHit(4, 0.5, 12.0)], photos, 4)
    assert [(m.photo.id, m.score) for m in merged] == [(0, 0.7), (4, 0.5), (1, 0.4), (2, 0.6)]
    assert merged[1].time == 12.0


# -- the classifier's guesses ------------------------------------------------------------------

GOLDEN_RETRIEVER, LABRADOR, TABBY_CAT, SPORTS_CAR = 207, 208, 281, 817


def _sure(*classes: int) -> ranking.ClassGuesses:
    """One row per class, all its probability on that class (padded to the stored top 10)."""
    ids = np.array([[c, *range(990, 999)] for c in classes], np.int16)
    probs = np.zeros(ids.shape, np.float32)
    probs[:, 0] = 1.0
    return ranking.ClassGuesses(ids, probs)


def test_class_gram_follows_wordnet_from_breed_to_dog_to_animal() -> None:
    gram = ranking.class_gram(_sure(GOLDEN_RETRIEVER, GOLDEN_RETRIEVER, LABRADOR, TABBY_CAT,
                                    SPORTS_CAR))
    same, breeds, dog_cat, dog_car = gram[0, 1], gram[0, 2], gram[0, 3], gram[0, 4]
    assert same > breeds > dog_cat > dog_car >= 0, (same, breeds, dog_cat, dog_car)
    np.testing.assert_allclose(gram, gram.T)


def _reference_scores(query: np.ndarray, candidates: np.ndarray, mean: np.ndarray,
                      guesses: ranking.ClassGuesses) -> np.ndarray:
    """The ranking done step by step on explicit vectors (dense class features beside the
    centred ones), to check the Gram-matrix arithmetic of `adapted_scores`."""
    spread = ranking._class_spread().toarray()
    dense = np.zeros((len(guesses), 1000), np.float32)
    np.put_along_axis(dense, guesses.ids.astype(np.int64), guesses.probs, axis=1)
    features = dense @ spread * np.sqrt(ranking.CLASS_WEIGHT)
    rows = np.hstack([np.vstack([query, candidates]) - mean, features])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    probe, pool = rows[0], rows[1:]
    gram = pool @ pool.T
    np.fill_diagonal(gram, -np.inf)
    augmented = pool + pool[np.argmax(gram, axis=1)]
    augmented /= np.linalg.norm(augmented, axis=1, keepdims=True)
    best = np.argsort(-(augmented @ probe), kind="stable")[:ranking.QUERY_NEIGHBOURS]
    expanded = probe + augmented[best].sum(axis=0)
    return augmented @ (expanded / np.linalg.norm(expanded))


def test_adapted_scores_order_as_the_explicit_computation() -> None:
    rng = np.random.default_rng(5)
    vectors, labels = _kinds(rng, kinds=4, each=8)
    guesses = _sure(*[(GOLDEN_RETRIEVER, TABBY_CAT, SPORTS_CAR, LABRADOR)[k] for k in labels])
    fit = ranking.fit(vectors, len(vectors))
    scores = ranking.adapted_scores(vectors[0], vectors[1:], fit, guesses)
    reference = _reference_scores(vectors[0], vectors[1:], fit.mean, guesses)
    assert np.argsort(-scores, kind="stable").tolist() == np.argsort(
        -reference, kind="stable").tolist()


def _noisy_kinds(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                    ranking.ClassGuesses]:
    """Vectors where the kinds barely show, and guesses that are right four times in five
    (a wrong guess picks another kind's class)."""
    vectors, labels = _kinds(rng, kinds=4, each=20)
    vectors = _unit(vectors + 0.1 * rng.standard_normal(vectors.shape))
    kinds = np.array([GOLDEN_RETRIEVER, TABBY_CAT, SPORTS_CAR, 404])  # 404: airliner
    wrong = rng.random(len(labels)) < 0.2
    guessed = np.where(wrong, kinds[(labels + 1) % 4], kinds[labels])
    return vectors, labels, _sure(*guessed.tolist())


def test_class_guesses_find_more_of_the_same_kind_than_the_vectors_alone() -> None:
    vectors, labels, guesses = _noisy_kinds(np.random.default_rng(6))
    fit = ranking.fit(vectors, len(vectors))
    with_classes, alone = [], []
    for query in range(len(vectors)):
        others = np.array([i for i in range(len(vectors)) if i != query])
        rows = np.concatenate([[query], others])
        pool_guesses = ranking.ClassGuesses(guesses.ids[rows], guesses.probs[rows])
        for found_in, classes in ((with_classes, pool_guesses), (alone, None)):
            found, _ = ranking.rerank(vectors[query], others, vectors[others], fit, 10, classes)
            found_in.append(np.mean(labels[found] == labels[query]))
    assert np.mean(with_classes) > np.mean(alone) + 0.05, (np.mean(with_classes), np.mean(alone))


def test_a_copy_stays_first_when_the_guesses_disagree_with_it() -> None:
    rng = np.random.default_rng(7)
    vectors, _ = _kinds(rng)
    query = vectors[0]
    copy = _unit(query + 0.05 * rng.standard_normal(query.shape))
    library = np.vstack([vectors[1:], copy[None]])
    # The query is guessed a retriever; its copy a car, and every other photo a retriever.
    guesses = _sure(GOLDEN_RETRIEVER, *[GOLDEN_RETRIEVER] * (len(library) - 1), SPORTS_CAR)
    fit = ranking.fit(library, len(library))
    found, _ = ranking.rerank(query, np.arange(len(library)), library, fit, 10, guesses)
    assert found[0] == len(library) - 1


def test_guesses_that_do_not_match_the_pool_are_left_out() -> None:
    vectors, _ = _kinds(np.random.default_rng(8))
    fit = ranking.fit(vectors, len(vectors))
    ids = np.arange(1, len(vectors))
    alone = ranking.rerank(vectors[0], ids, vectors[1:], fit, 15)
    short = ranking.rerank(vectors[0], ids, vectors[1:], fit, 15, _sure(TABBY_CAT, LABRADOR))
    assert alone[0].tolist() == short[0].tolist()


def test_library_ranks_real_photos_with_their_stored_guesses_when_asked(
        tmp_path: Path, real_library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.library_fixtures import make_photo_folder, resized_copy

    photos = make_photo_folder(tmp_path / "pics", count=ranking.MIN_PHOTOS + 5, size=(320, 240))
    copy = resized_copy(photos[3], tmp_path / "elsewhere" / "copy.jpg", factor=0.7)
    real_library.index([tmp_path / "pics"])
    assert real_library.classifier_head() is not None
    index, spec = real_library.vector_index(), real_library.spec
    assert index is not None and spec is not None
    vector, photo = real_library.vector_of(photos[5])
    assert photo is not None
    pool_ids, pool = index.neighbourhood(vector, ranking.pool_size(20), {photo.id})
    stored = real_library.catalog.classes_of(spec.vector_key, [photo.id, *pool_ids.tolist()])
    rows = [stored[i] for i in [photo.id, *pool_ids.tolist()]]
    guesses = ranking.ClassGuesses(np.stack([r[0] for r in rows]),
                                   np.stack([r[1] for r in rows]))
    fit = real_library._ranking_fit(index)
    assert fit is not None
    expected, _ = ranking.rerank(vector, pool_ids, pool, fit, 20, guesses)
    alone, _ = ranking.rerank(vector, pool_ids, pool, fit, 20)
    assert expected.tolist() != alone.tolist()  # the guesses do change the order
    assert not ranking.USE_CLASS_GUESSES  # off by default: the vectors alone rank
    assert [m.photo.id for m in real_library.similar(photos[5], k=20)] == alone.tolist()
    monkeypatch.setattr(ranking, "USE_CLASS_GUESSES", True)
    assert [m.photo.id for m in real_library.similar(photos[5], k=20)] == expected.tolist()
    # A photo from outside the library is classified on the fly; its original comes first.
    assert real_library.similar(copy, k=5)[0].photo.path == photos[3]
