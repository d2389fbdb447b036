"""ImageNet class names, the classifier head that scores them, and search by word.

The library stores pooled features; the model file that made them usually still ends in its
1000-way ImageNet classifier (``pool -> Flatten/Reshape -> Gemm``). Reading that last layer's
weights lets us turn any stored feature into class probabilities without running the network
again, which gives clusters names ("tabby cat", "seashore") and lets people search by word.

The class list is data (``imagenet_classes.json``): per class a display name and the WordNet
synonyms of its synset, plus a small hand-written map from common words to groups of classes
("dog" is every dog breed, "car" every car class).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photosim.core.errors import PhotosimError

if TYPE_CHECKING:  # onnx costs ~1 s to import: only reading a model file loads it
    import onnx

CLASS_COUNT = 1000
CLASSES_RESOURCE = "imagenet_classes.json"
NEUTRAL_NAME = "Mixed"
# A cluster is named after one class when its members' mean probability for it is at least
# this and it is the top class of more than half of them.
CLASS_AGREEMENT = 0.30
# ... or after a word group ("dog", "bird") when the group holds this much mean probability.
GROUP_AGREEMENT = 0.50
# Photos whose summed probability over a word's classes is below this are not shown for it.
MIN_WORD_SCORE = 0.05
# Classes kept per photo when storing probabilities compactly (the rest are ~0 for photos).
TOP_K = 10
SCORE_BATCH = 4096


class UnknownWordError(PhotosimError):
    """A search word names none of the things the model can recognise."""


# -- the class list --------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassList:
    names: tuple[str, ...]  # display name per class index
    synonyms: tuple[tuple[str, ...], ...]  # lower-case synonyms per class index
    groups: dict[str, tuple[int, ...]]  # lower-case word -> class indices


@functools.cache
def _class_list() -> ClassList:
    text = resources.files("photosim.core").joinpath(CLASSES_RESOURCE).read_text("utf-8")
    data = json.loads(text)
    classes = data["classes"]
    names = tuple(str(c["name"]) for c in classes)
    synonyms = tuple(tuple(s.lower() for s in [c["name"], *c["synonyms"]]) for c in classes)
    groups = {word.lower(): _expand_ranges(ranges) for word, ranges in data["groups"].items()}
    return ClassList(names, synonyms, groups)


def _expand_ranges(ranges: list[list[int]]) -> tuple[int, ...]:
    """Inclusive ``[first, last]`` ranges → sorted class indices."""
    return tuple(sorted({i for first, last in ranges for i in range(first, last + 1)}))


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k display names in class-index order."""
    return list(_class_list().names)


def known_words() -> list[str]:
    """Every word or phrase `word_to_classes` understands, for completion in a search box."""
    classes = _class_list()
    words = set(classes.groups)
    for synonyms in classes.synonyms:
        words.update(synonyms)
    return sorted(words)


# -- words to classes ------------------------------------------------------------------------

def _normalise_word(word: str) -> str:
    return re.sub(r"[\s_-]+", " ", word.strip().lower())


def _singular_forms(word: str) -> list[str]:
    """The word and its likely singulars: "dogs" → dog, "boxes" → box, "puppies" → puppy."""
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        forms.append(word[:-1])
    return forms


def _classes_for_form(form: str, classes: ClassList) -> list[int]:
    """Group first (a curated meaning wins), then exact synonyms, then synonyms whose head
    noun is the word ("sports car" for "car"), so "tiger" is the tiger, not the tiger cat."""
    if form in classes.groups:
        return list(classes.groups[form])
    exact = [i for i, syns in enumerate(classes.synonyms) if form in syns]
    if exact:
        return exact
    return [i for i, syns in enumerate(classes.synonyms)
            if any(s.endswith(" " + form) for s in syns)]


def word_to_classes(word: str) -> list[int]:
    """Class indices a word names, case-insensitive, plurals allowed; [] when it names none."""
    normalised = _normalise_word(word)
    if not normalised:
        return []
    classes = _class_list()
    for form in _singular_forms(normalised):
        found = _classes_for_form(form, classes)
        if found:
            return found
    return []


def rank_by_word(word: str, class_probs: np.ndarray,
                 min_score: float = MIN_WORD_SCORE) -> np.ndarray:
    """Row indices of ``class_probs`` (n, 1000) that match ``word``, best first.

    A row's score is its total probability over the word's classes ("dog" adds up every
    breed); rows below ``min_score`` are left out. Raises `UnknownWordError` for a word the
    model has no class for, so the caller can say so instead of showing nothing.
    """
    wanted = word_to_classes(word)
    if not wanted:
        raise UnknownWordError(
            f"\"{word.strip()}\" is not among the 1000 kinds of things the model recognises. "
            "Try a common noun such as dog, cat, car, beach or flower.")
    probs = np.asarray(class_probs, dtype=np.float32).reshape(-1, CLASS_COUNT)
    scores = probs[:, wanted].sum(axis=1)
    order = np.argsort(-scores, kind="stable")
    ranked: np.ndarray = order[scores[order] >= min_score]
    return ranked


def word_scores(word: str, class_probs: np.ndarray) -> np.ndarray:
    """Each row's total probability over the classes ``word`` names (0 for unknown words)."""
    wanted = word_to_classes(word)
    probs = np.asarray(class_probs, dtype=np.float32).reshape(-1, CLASS_COUNT)
    scores: np.ndarray = probs[:, wanted].sum(axis=1) if wanted else np.zeros(len(probs))
    return scores


def top_classes(class_probs: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most likely classes per row: (ids int16 (n, k), probabilities float32 (n, k)),
    best first. 100k photos take 6 MB this way instead of 400 MB as full rows."""
    probs = np.asarray(class_probs, dtype=np.float32).reshape(-1, CLASS_COUNT)
    ids = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(probs, ids, axis=1)
    order = np.argsort(-picked, axis=1)
    return (np.take_along_axis(ids, order, axis=1).astype(np.int16),
            np.take_along_axis(picked, order, axis=1))


def dense_probs(class_ids: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Full (n, 1000) rows from `top_classes` output (other classes 0), for a few photos at a
    time, e.g. one cluster's members for `cluster_name` or one page for `rank_by_word`."""
    rows = np.zeros((len(class_ids), CLASS_COUNT), np.float32)
    np.put_along_axis(rows, np.asarray(class_ids, np.int64), probs.astype(np.float32), axis=1)
    return rows


def rank_by_word_top(word: str, class_ids: np.ndarray, probs: np.ndarray,
                     min_score: float = MIN_WORD_SCORE) -> np.ndarray:
    """`rank_by_word` over `top_classes` output, without building full rows."""
    wanted = word_to_classes(word)
    if not wanted:
        return rank_by_word(word, np.zeros((0, CLASS_COUNT), np.float32))  # raises
    matches = np.isin(np.asarray(class_ids), wanted)
    scores = np.where(matches, probs, 0.0).sum(axis=1)
    order = np.argsort(-scores, kind="stable")
    ranked: np.ndarray = order[scores[order] >= min_score]
    return ranked


# -- naming clusters -------------------------------------------------------------------------

def cluster_name(class_probs: np.ndarray, fallback: str = NEUTRAL_NAME) -> str:
    """A name for a group of photos from their class probabilities (n, 1000).

    One class when the members agree on it ("tabby cat"), else a word group when they agree
    on that ("dog" for a mix of breeds), else ``fallback``.
    """
    probs = np.asarray(class_probs, dtype=np.float32).reshape(-1, CLASS_COUNT)
    if len(probs) == 0:
        return fallback
    mean = probs.mean(axis=0)
    top = int(np.argmax(mean))
    top1_votes = np.bincount(probs.argmax(axis=1), minlength=CLASS_COUNT)
    if mean[top] >= CLASS_AGREEMENT and top1_votes[top] * 2 > len(probs):
        return _class_list().names[top]
    group = _best_group(mean)
    return group if group is not None else fallback


def _best_group(mean_probs: np.ndarray) -> str | None:
    """The group word holding most of the mean probability, when it holds enough; among
    equally strong groups the smallest (most specific) wins, and among synonyms for the same
    classes ("dog", "puppy") the first listed."""
    best: tuple[float, int] | None = None
    best_word = None
    for word, members in _class_list().groups.items():
        mass = float(mean_probs[list(members)].sum())
        key = (round(mass, 2), -len(members))
        if mass >= GROUP_AGREEMENT and (best is None or key > best):
            best, best_word = key, word
    return best_word


# -- the classifier head ---------------------------------------------------------------------

@dataclass(frozen=True)
class ClassifierHead:
    """The final fully-connected layer of an ImageNet classifier: logits = W·f + b."""

    weight: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)

    @property
    def feature_dim(self) -> int:
        return int(self.weight.shape[1])

    @classmethod
    def from_onnx(cls, path: Path) -> ClassifierHead | None:
        """The last fully-connected layer of the model at ``path`` (a ``Gemm``, or a
        ``MatMul`` followed by ``Add``, with constant weights and 1000 outputs), or None when
        the graph has none, e.g. a model already cut at its features."""
        import onnx

        model = onnx.load(str(path))
        constants = {init.name: init for init in model.graph.initializer}
        nodes = list(model.graph.node)
        for index in range(len(nodes) - 1, -1, -1):
            head = _head_from_node(nodes, index, constants)
            if head is not None:
                return head
        return None

    def logits(self, features: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
        """Raw class scores. ``features`` may be L2-normalised when ``norms`` gives each
        row's original length; without it a typical length is assumed (see `scores`)."""
        feats = np.asarray(features, dtype=np.float32).reshape(-1, self.feature_dim)
        if norms is not None:
            feats = feats * np.asarray(norms, dtype=np.float32).reshape(-1, 1)
        result: np.ndarray = feats @ self.weight.T + self.bias
        return result

    def scores(self, features: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
        """(n, classes) probabilities (softmax of the logits)."""
        logits = self.logits(features, norms)
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def top_classes(self, features: np.ndarray, norms: np.ndarray | None = None,
                    k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
        """`top_classes` of `scores`, computed in batches so memory stays small for 100k."""
        feats = np.asarray(features, dtype=np.float32).reshape(-1, self.feature_dim)
        lengths = None if norms is None else np.asarray(norms, np.float32).reshape(-1)
        ids, probs = [np.zeros((0, k), np.int16)], [np.zeros((0, k), np.float32)]
        for start in range(0, len(feats), SCORE_BATCH):
            batch_norms = None if lengths is None else lengths[start:start + SCORE_BATCH]
            batch_ids, batch_probs = top_classes(
                self.scores(feats[start:start + SCORE_BATCH], batch_norms), k)
            ids.append(batch_ids)
            probs.append(batch_probs)
        return np.vstack(ids), np.vstack(probs)


def _head_from_node(nodes: list[onnx.NodeProto], index: int,
                    constants: dict[str, onnx.TensorProto]) -> ClassifierHead | None:
    node = nodes[index]
    if node.op_type == "Gemm":
        return _head_from_gemm(node, constants)
    if node.op_type == "MatMul":
        return _head_from_matmul(node, nodes[index + 1:], constants)
    return None


def _head_from_gemm(node: onnx.NodeProto,
                    constants: dict[str, onnx.TensorProto]) -> ClassifierHead | None:
    from onnx import helper, numpy_helper

    attrs: dict[str, Any] = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("transA", 0) or node.input[1] not in constants:
        return None
    weight = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    if weight.ndim != 2:
        return None
    if not attrs.get("transB", 0):
        weight = weight.T
    weight = weight * float(attrs.get("alpha", 1.0))
    bias = np.zeros(weight.shape[0], np.float32)
    if len(node.input) > 2 and node.input[2] in constants:
        bias = numpy_helper.to_array(constants[node.input[2]]).astype(np.float32).reshape(-1)
        bias = bias * float(attrs.get("beta", 1.0))
    return _checked_head(weight, bias)


def _head_from_matmul(node: onnx.NodeProto, later: list[onnx.NodeProto],
                      constants: dict[str, onnx.TensorProto]) -> ClassifierHead | None:
    from onnx import numpy_helper

    if node.input[1] not in constants:
        return None
    weight = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    if weight.ndim != 2:
        return None
    bias = np.zeros(weight.shape[1], np.float32)
    for follower in later:
        if follower.op_type == "Add" and node.output[0] in follower.input:
            other = [name for name in follower.input if name != node.output[0]]
            if other and other[0] in constants:
                bias = numpy_helper.to_array(constants[other[0]]).astype(np.float32).reshape(-1)
            break
    return _checked_head(weight.T, bias)


def _checked_head(weight: np.ndarray, bias: np.ndarray) -> ClassifierHead | None:
    """Only a 1000-way layer is an ImageNet head we can name classes with."""
    if weight.shape[0] != CLASS_COUNT or bias.shape != (CLASS_COUNT,):
        return None
    return ClassifierHead(np.ascontiguousarray(weight), np.ascontiguousarray(bias))
