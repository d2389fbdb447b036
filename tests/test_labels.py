"""Class names, word search and cluster names, checked with the shared real model on real
photos (scikit-image's sample photographs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageOps

from photosim.core.embedder import to_input
from photosim.core.labels import (
    NEUTRAL_NAME,
    ClassifierHead,
    UnknownWordError,
    cluster_name,
    dense_probs,
    imagenet_labels,
    known_words,
    plural,
    rank_by_word,
    rank_by_word_top,
    top_classes,
    word_to_classes,
)
from photosim.core.models.spec import builtin_specs

skimage_data = pytest.importorskip("skimage.data")

CAT_CLASSES = set(range(281, 286))
DOG_CLASSES = set(range(151, 269))
ESPRESSO = 967


def test_the_thousand_labels_in_class_order() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000
    assert labels[0] == "tench" and labels[281] == "tabby cat" and labels[967] == "espresso"
    assert labels[999] == "toilet paper"


@pytest.mark.parametrize(("word", "expected"), [
    ("dog", DOG_CLASSES), ("Dogs", DOG_CLASSES), ("espresso", {ESPRESSO}), ("castle", {483}),
    ("tiger", {292}), ("seashore", {978}), ("sports car", {817}), ("sports-car", {817}),
    ("puppies", DOG_CLASSES), ("rooster", {7}),
])
def test_words_name_classes(word: str, expected: set[int]) -> None:
    assert set(word_to_classes(word)) == expected


def test_cat_means_every_cat_in_wordnet_house_cats_and_big_cats() -> None:
    cats = set(word_to_classes("CATS"))
    assert CAT_CLASSES | {286, 287, 291, 292} <= cats  # cougar, lynx, lion, tiger
    assert not cats & DOG_CLASSES and len(cats) == 13
    assert set(word_to_classes("house cat")) == CAT_CLASSES


def test_car_means_every_kind_of_car_but_not_a_tram() -> None:
    cars = set(word_to_classes("car"))
    assert set(word_to_classes("automobile")) < cars  # a car is also a railway car
    assert {436, 468, 511, 609, 627, 656, 751, 817} <= cars
    assert 829 not in cars  # streetcar


@pytest.mark.parametrize(("word", "includes", "excludes"), [
    ("animal", DOG_CLASSES | CAT_CLASSES | {0, 1, 7, 8, 9, 300}, {ESPRESSO, 817, 483}),
    ("mammal", DOG_CLASSES | CAT_CLASSES | {101, 340}, {0, 7, 9, 300}),  # no fish, birds
    ("bird", {7, 8, 9, 10, 130, 144}, DOG_CLASSES),
    ("fish", {0, 1, 2, 389, 391}, {7, 151}),
    ("vehicle", {436, 511, 817, 555, 472, 404}, {483, 151}),  # cars, trucks, boats, planes
    ("building", {497, 410, 449, 580, 598}, {817}),  # not only the church
    ("structure", {483, 821, 839}, {151}),
    ("tool", {587}, {151, 817}),  # hammer
    ("instrument", {402, 546, 579, 881, 420}, {151}),  # guitars, pianos, banjo
    ("food", {ESPRESSO, 963, 930, 948, 954}, {151}),
    ("fruit", {948, 954, 950, 951}, {ESPRESSO}),
    ("flower", {985, 986}, {948}),
    ("furniture", {423, 453, 532, 831}, {817}),
    ("device", {402, 409, 745}, {151}),  # guitar, clock, projector
])
def test_words_above_the_classes_name_every_class_beneath(word: str, includes: set[int],
                                                          excludes: set[int]) -> None:
    found = set(word_to_classes(word))
    assert includes <= found, sorted(includes - found)
    assert not excludes & found


@pytest.mark.parametrize(("synonym", "word"), [
    ("automobile", "motorcar"), ("domestic dog", "dog"), ("beast", "animal"),
    ("musical instrument", "musical instrument"), ("edifice", "building"),
    ("Canis familiaris", "dog"), ("auto", "automobile"),
])
def test_synonyms_name_the_same_classes(synonym: str, word: str) -> None:
    assert word_to_classes(synonym) and word_to_classes(synonym) == word_to_classes(word)


@pytest.mark.parametrize(("many", "one"), [
    ("animals", "animal"), ("vehicles", "vehicle"), ("buildings", "building"),
    ("wolves", "wolf"), ("geese", "goose"), ("butterflies", "butterfly"),
    ("boxes", "box"), ("mice", "mouse"), ("fishes", "fish"), ("fish", "fish"),
])
def test_plurals_name_what_the_singular_names(many: str, one: str) -> None:
    assert word_to_classes(one) and word_to_classes(many) == word_to_classes(one)


def test_unknown_words() -> None:
    assert word_to_classes("xyzzy") == []
    assert word_to_classes("  ") == []
    assert word_to_classes("windmill") == []  # no class, and mills' classes are not windmills
    with pytest.raises(UnknownWordError, match="xyzzy"):
        rank_by_word("xyzzy", np.zeros((2, 1000), np.float32))
    words = known_words()
    assert {"dog", "tabby cat", "animal", "vehicle", "furniture", "musical instrument"} <= set(
        words)


def test_rank_by_word_orders_rows_by_mass_and_drops_traces() -> None:
    probs = np.zeros((5, 1000), np.float32)
    probs[0, 281] = 0.3
    probs[1, 282], probs[1, 285] = 0.5, 0.4  # two cat classes add up
    probs[2, 151] = 0.9  # a dog
    probs[3, 283], probs[3, 151] = 0.03, 0.9  # a trace of cat in a clear dog photo
    probs[4, 285], probs[4, 420] = 0.04, 0.2  # a cat the model thinks less likely than a banjo
    assert rank_by_word("cat", probs).tolist() == [1, 0, 4]
    assert rank_by_word("animals", probs).tolist() == [3, 1, 2, 0, 4]


def test_a_word_finds_photos_whose_classes_are_unsure_between_its_kinds() -> None:
    """A guitar the model splits over acoustic and electric guitar (and a banjo) is found,
    however small each single class is: the guitar mass is what counts."""
    probs = np.zeros((2, 1000), np.float32)
    probs[0, 402], probs[0, 546], probs[0, 420] = 0.04, 0.03, 0.3
    probs[1, 579], probs[1, 881] = 0.03, 0.02  # grand and upright piano
    probs[1, 401] = 0.05  # accordion
    assert rank_by_word("guitar", probs).tolist() == [0]
    assert rank_by_word("piano", probs).tolist() == [1]
    assert rank_by_word("instruments", probs).tolist() == [0, 1]


def test_top_classes_keep_what_word_search_needs() -> None:
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((50, 1000)).astype(np.float32) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ids, top = top_classes(probs, k=10)
    assert ids.shape == (50, 10) and np.all(np.diff(top, axis=1) <= 0)
    assert np.array_equal(ids[:, 0], probs.argmax(axis=1))
    dense = dense_probs(ids, top)
    assert np.allclose(dense[np.arange(50)[:, None], ids], top) and (dense > 0).sum() == 500
    with pytest.raises(UnknownWordError):
        rank_by_word_top("xyzzy", ids, top)
    probs[7, 281] = probs[3, 283] = 5.0  # two clear cats
    ids, top = top_classes(probs / probs.sum(axis=1, keepdims=True))
    assert rank_by_word_top("cat", ids, top)[:2].tolist() in ([7, 3], [3, 7])


def test_cluster_names_from_agreement() -> None:
    probs = np.full((5, 1000), 0.1 / 999, np.float32)
    probs[:, 978] = 0.9
    assert cluster_name(probs) == "beaches"  # the display name of the seashore class
    breeds = np.zeros((4, 1000), np.float32)
    for row, breed in enumerate((151, 180, 207, 250)):
        breeds[row, breed] = 0.9  # different breeds: no single class, but all dogs
    assert cluster_name(breeds) == "dogs"
    birds = np.zeros((5, 1000), np.float32)
    for row, kind in enumerate((7, 8, 130, 144, 151)):  # four birds and a dog
        birds[row, kind] = 0.9
    assert cluster_name(birds) == "birds"
    hunters = np.zeros((3, 1000), np.float32)
    for row, kind in enumerate((161, 162, 281)):  # two hounds and a cat: hounds, not animals
        hunters[row, kind] = 0.9
    assert cluster_name(hunters) == "hounds"
    mixed = np.zeros((3, 1000), np.float32)
    mixed[0, 10], mixed[1, 500], mixed[2, 900] = 1, 1, 1
    assert cluster_name(mixed) == NEUTRAL_NAME
    assert cluster_name(mixed, fallback="Group 7") == "Group 7"


def test_cluster_names_count_probability_mass_not_top_classes() -> None:
    torn = np.full((4, 1000), 0.3 / 998, np.float32)
    torn[:, 161] = torn[:, 162] = 0.35  # each photo torn between basset and beagle
    torn[0, 161] += 0.01  # basset wins one vote more: top-1 votes would say "basset hounds"
    assert cluster_name(torn) == "hounds"
    rockets = np.full((3, 1000), 0.4 / 998, np.float32)
    rockets[:, 657], rockets[:, 744] = 0.33, 0.27  # ImageNet's two "missile" classes
    assert cluster_name(rockets) == "missiles"
    unsure = np.full((4, 1000), 0.95 / 999, np.float32)
    unsure[:, 10] = 0.05  # every photo's best guess is a finch, but only at 5 %
    assert cluster_name(unsure) == NEUTRAL_NAME


def test_plurals_of_names() -> None:
    assert [plural(w) for w in ("dog", "box", "butterfly", "mouse", "produce",
                                "sports equipment")] == \
        ["dogs", "boxes", "butterflies", "mice", "produce", "sports equipment"]


# -- finding the head in a graph -------------------------------------------------------------

def head_graph(path: Path, kind: str, features: int = 8) -> tuple[Path, np.ndarray]:
    """A pooled-features -> 1000 logits model with its head as ``gemm`` (weights [in, out],
    alpha/beta) or ``matmul`` (MatMul then Add); returns the file and sample features."""
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((features, 1000)).astype(np.float32)
    bias = rng.standard_normal(1000).astype(np.float32)
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    pre = helper.make_node("Relu", ["x"], ["pooled"])
    if kind == "gemm":
        head = [helper.make_node("Gemm", ["pooled", "w", "b"], ["logits"], alpha=0.5, beta=2.0)]
    else:
        head = [helper.make_node("MatMul", ["pooled", "w"], ["mm"]),
                helper.make_node("Add", ["mm", "b"], ["logits"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", features])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])]
    graph = helper.make_graph([pre, *head], kind, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path, np.abs(rng.standard_normal((3, features))).astype(np.float32)


@pytest.mark.parametrize("kind", ["gemm", "matmul"])
def test_head_read_from_the_graph_computes_what_the_graph_computes(tmp_path: Path,
                                                                   kind: str) -> None:
    path, features = head_graph(tmp_path / f"{kind}.onnx", kind)
    head = ClassifierHead.from_onnx(path)
    assert head is not None
    expected = ort.InferenceSession(str(path)).run(None, {"x": features})[0]
    assert np.allclose(head.logits(features), expected, atol=1e-4)


def test_a_head_that_is_not_imagenet_is_not_used(tiny_model: tuple[Path, Path]) -> None:
    assert ClassifierHead.from_onnx(tiny_model[0]) is None  # 10 classes, not 1000


# -- with the shared real model --------------------------------------------------------------

def real_photos() -> dict[str, Image.Image]:
    photos = {name: Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
              for name in ("chelsea", "coffee", "astronaut", "rocket")}
    cat = photos["chelsea"]
    photos["chelsea_mirrored"] = ImageOps.mirror(cat)
    photos["chelsea_cropped"] = cat.crop((40, 10, 420, 290))
    photos["coffee_small"] = photos["coffee"].resize((300, 200))
    return photos


@pytest.fixture(scope="module")
def embedded(real_model_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(names, unit features, feature norms, reference logits) for the real photos."""
    photos = real_photos()
    pre = builtin_specs()["efficientnet-lite0"].preprocess
    batch = np.stack([to_input(image, pre) for image in photos.values()])
    features = _run(real_model_dir / "efficientnet_lite0_embed.onnx", batch)
    logits = _run(real_model_dir / "efficientnet_lite0_logits.onnx", batch)
    norms = np.linalg.norm(features, axis=1)
    return list(photos), features / norms[:, None], norms, logits


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(None, {"input": batch})[0]
    return result


@pytest.fixture(scope="module")
def head(real_model_dir: Path) -> ClassifierHead:
    found = ClassifierHead.from_onnx(real_model_dir / "efficientnet_lite0_logits.onnx")
    assert found is not None
    return found


@pytest.mark.realmodel
def test_head_is_found_only_where_there_is_one(real_model_dir: Path,
                                               head: ClassifierHead) -> None:
    assert head.weight.shape == (1000, 1280)
    assert ClassifierHead.from_onnx(real_model_dir / "efficientnet_lite0_embed.onnx") is None


@pytest.mark.realmodel
def test_head_on_stored_unit_features_reproduces_the_model(
        head: ClassifierHead, embedded: tuple[list[str], np.ndarray, np.ndarray, np.ndarray],
) -> None:
    _, unit, norms, logits = embedded
    assert np.allclose(head.logits(unit, norms), logits, atol=1e-3)
    probs = head.scores(unit, norms)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    assert np.array_equal(top5, np.argsort(-logits, axis=1)[:, :5])


@pytest.mark.realmodel
def test_a_cat_photo_is_found_by_cat_and_coffee_by_espresso(
        head: ClassifierHead, embedded: tuple[list[str], np.ndarray, np.ndarray, np.ndarray],
) -> None:
    names, unit, norms, _ = embedded
    probs = head.scores(unit, norms)
    found_by_cat = [names[i] for i in rank_by_word("cat", probs)]
    assert set(found_by_cat) == {"chelsea", "chelsea_mirrored", "chelsea_cropped"}
    found_by_espresso = [names[i] for i in rank_by_word("Espresso", probs)]
    assert set(found_by_espresso) == {"coffee", "coffee_small"}
    assert rank_by_word("dog", probs).size == 0
    animals = {names[i] for i in rank_by_word("animals", probs)}
    assert {"chelsea", "chelsea_mirrored", "chelsea_cropped"} <= animals
    assert not animals & {"coffee", "coffee_small"}
    assert {"coffee", "coffee_small"} <= {names[i] for i in rank_by_word("drinks", probs)}
    ids, top = head.top_classes(unit, norms)
    for word in ("cat", "espresso", "dog", "rocket"):
        assert rank_by_word_top(word, ids, top).tolist() == rank_by_word(word, probs).tolist()


@pytest.mark.realmodel
def test_clusters_of_real_photos_get_names_from_their_members(
        head: ClassifierHead, embedded: tuple[list[str], np.ndarray, np.ndarray, np.ndarray],
) -> None:
    names, unit, norms, _ = embedded
    probs = head.scores(unit, norms)
    rows = {name: i for i, name in enumerate(names)}
    cats = probs[[rows["chelsea"], rows["chelsea_mirrored"], rows["chelsea_cropped"]]]
    cat_names = {plural(imagenet_labels()[i]) for i in CAT_CLASSES} | {"domestic cats"}
    assert cluster_name(cats) in cat_names
    assert cluster_name(probs[[rows["coffee"], rows["coffee_small"]]]) == "espressos"
    assert cluster_name(probs[[rows["coffee"], rows["chelsea"], rows["rocket"]]]) == NEUTRAL_NAME
