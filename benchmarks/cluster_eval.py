"""Clustering quality on labelled real photos, and clustering time/memory at 100k photos.

    python benchmarks/cluster_eval.py [--photos DIR] [--variants 10] [--scale 100000]

Quality: real photos (scikit-image's sample photographs and, where installed, the MATE
nature wallpapers from Debian's mate-backgrounds), each expanded into generated variants
(crops, mirror, rotation, colour, blur, grey, small JPEG). A photo's label is its source
(file name; with --photos DIR, the name of its sub-folder). Prints purity and NMI for
photosim's clusters at three granularities and for plain k-means with k = number of labels.
Miscellaneous counts as one cluster, which can only lower photosim's figures.

A real library: ``--photos <cache>/photos --variants 1 --scale 0`` on the 467 labelled photos
and wallpapers of scripts/build_photo_set.py (71 labels); ``--split tune`` or ``heldout`` takes
one part (parameters are chosen on tune only); ``--embeddings FILE`` keeps the vectors for the
next run. Cluster names are judged against the labels' WordNet words
(benchmarks/data/photo_set_words.csv): correct, too general (a more specific word fits most
members), wrong (the name is not true of most members), and for "Mixed" whether some word
fit most members. Measured at the default granularity (load ~10):

    tune:    40 clusters (29 'Mixed'), Miscellaneous 4 %, purity 0.680, NMI 0.718;
             names 9 correct, 1 too general, 1 wrong; Mixed: 10 with a fitting word, 19 without
    heldout: 18 clusters (9 'Mixed'), Miscellaneous 11 %, purity 0.683, NMI 0.728;
             names 8 correct, 1 too general, 0 wrong; Mixed: 5 with a fitting word, 4 without
    all:     57 clusters (33 'Mixed'), Miscellaneous 1 %, purity 0.615, NMI 0.737;
             names 13 correct, 5 too general, 6 wrong; Mixed: 11 with a fitting word, 22 without

Scale: 100k synthetic 2048-d unit vectors in 300 groups plus 2% scattered ones; time and
peak memory of a first run and of an incremental run that adds 1,000 photos.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.retrieval_eval import embed as unit_features
from photosim.core.cluster import MISC_ID, Cluster, cluster_vectors
from photosim.core.labels import (
    NEUTRAL_NAME,
    Category,
    ClassifierHead,
    categories,
    category_of,
    cluster_name,
    dense_probs,
    naming_category,
    top_classes,
)

SHARED = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", Path(__file__).parents[2] / "shared"
                             / "models"))
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "clock",
                  "hubble_deep_field", "immunohistochemistry", "retina", "moon", "brick",
                  "grass", "gravel")
MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")


# -- the labelled set ------------------------------------------------------------------------

def source_photos(folder: Path | None, split: str = "all") -> list[tuple[str, Image.Image]]:
    """(label, photo) pairs: a folder's sub-folders (those of one ``split`` of its
    manifest.csv, if asked), else skimage + MATE wallpapers."""
    if folder is not None:
        wanted = in_split(folder, split)
        return [(path.parent.name, Image.open(path).convert("RGB"))
                for path in sorted(folder.glob("*/*"))
                if path.is_file() and (wanted is None or path in wanted)]
    import skimage.data

    photos = [(name, Image.fromarray(getattr(skimage.data, name)()).convert("RGB"))
              for name in SKIMAGE_PHOTOS]
    for path in sorted(MATE_NATURE.glob("*.jpg")):
        image = Image.open(path)
        image.draft("RGB", (1024, 1024))
        photos.append((f"mate-{path.stem}", image.convert("RGB")))
    return photos


def in_split(folder: Path, split: str) -> set[Path] | None:
    """The photos of one split ("tune"/"heldout") by the set's manifest; None: every photo."""
    if split == "all":
        return None
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as file:
        return {folder / row["path"] for row in csv.DictReader(file) if row["split"] == split}


def variant(image: Image.Image, index: int, rng: np.random.Generator) -> Image.Image:
    """The index-th kind of edit a library holds copies of, with random strength."""
    w, h = image.size
    kind = index % 8
    if kind == 0:
        return image
    if kind in (1, 2):  # crop
        scale = rng.uniform(0.55, 0.85)
        cw, ch = int(w * scale), int(h * scale)
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return image.crop((left, top, left + cw, top + ch))
    if kind == 3:
        return ImageOps.mirror(image)
    if kind == 4:
        return image.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BICUBIC)
    if kind == 5:
        image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.4, 1.6)))
        return ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.3)))
    if kind == 6:
        return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.0, 3.0))))
    buffer = io.BytesIO()
    ImageOps.grayscale(image).resize((max(1, w // 3), max(1, h // 3))).save(buffer, "JPEG",
                                                                            quality=40)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def labelled_set(folder: Path | None, variants: int,
                 split: str = "all") -> tuple[list[Image.Image], np.ndarray, list[str]]:
    rng = np.random.default_rng(7)
    images, labels, names = [], [], []
    for name, photo in source_photos(folder, split):
        if name not in names:  # with --photos, every photo of a sub-folder shares its label
            names.append(name)
        for index in range(variants):
            images.append(variant(photo, index, rng))
            labels.append(names.index(name))
    return images, np.asarray(labels), names


def embed(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """(unit features, class probabilities) with the shared EfficientNet-Lite0."""
    unit, norms = unit_features(images)
    head = ClassifierHead.from_onnx(SHARED / "efficientnet_lite0_logits.onnx")
    assert head is not None
    return unit, head.scores(unit, norms)


# -- metrics ---------------------------------------------------------------------------------

def purity(assigned: np.ndarray, truth: np.ndarray) -> float:
    total = 0
    for cluster in np.unique(assigned):
        total += int(np.bincount(truth[assigned == cluster]).max())
    return total / len(truth)


def nmi(assigned: np.ndarray, truth: np.ndarray) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default)."""
    _, a = np.unique(assigned, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    joint = np.zeros((a.max() + 1, t.max() + 1))
    np.add.at(joint, (a, t), 1)
    joint /= joint.sum()
    pa, pt = joint.sum(axis=1), joint.sum(axis=0)
    nonzero = joint > 0
    mutual = float((joint[nonzero] * np.log(joint[nonzero] / np.outer(pa, pt)[nonzero])).sum())
    entropy = [float(-(p[p > 0] * np.log(p[p > 0])).sum()) for p in (pa, pt)]
    return mutual / max(np.mean(entropy), 1e-12)


def plain_kmeans(vectors: np.ndarray, k: int, restarts: int = 10) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding, best of ``restarts`` by inertia."""
    best, best_inertia = np.zeros(len(vectors), np.int64), np.inf
    for seed in range(restarts):
        rng = np.random.default_rng(seed)
        centres = vectors[[int(rng.integers(len(vectors)))]]
        while len(centres) < k:
            d2 = ((vectors[:, None, :] - centres[None]) ** 2).sum(-1).min(axis=1)
            centres = np.vstack([centres, vectors[rng.choice(len(vectors), p=d2 / d2.sum())]])
        for _ in range(100):
            d2 = ((vectors[:, None, :] - centres[None]) ** 2).sum(-1)
            labels = d2.argmin(axis=1)
            moved = np.array([vectors[labels == c].mean(axis=0) if (labels == c).any()
                              else centres[c] for c in range(k)])
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = float(d2.min(axis=1).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def assignment(clusters: list[Cluster], count: int) -> np.ndarray:
    assigned = np.full(count, MISC_ID, np.int64)
    for cluster in clusters:
        assigned[list(cluster.member_ids)] = cluster.id
    return assigned


def embedded_set(folder: Path | None, variants: int, split: str,
                 cache: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(unit vectors, class probabilities, label per photo, label names), from ``cache`` when
    it holds this very set (embedding is most of the run's time)."""
    key = f"{folder}|{variants}|{split}"
    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                print(f"embeddings from {cache}")
                return (saved["vectors"], saved["probs"], saved["truth"],
                        [str(n) for n in saved["names"]])
    images, truth, names = labelled_set(folder, variants, split)
    start = time.perf_counter()
    vectors, probs = embed(images)
    print(f"embedded in {time.perf_counter() - start:.1f} s")
    if cache is not None:
        np.savez(cache, key=key, vectors=vectors, probs=probs, truth=truth, names=names)
    return vectors, probs, truth, names


# -- judging names ---------------------------------------------------------------------------

LABEL_WORDS = Path(__file__).parent / "data" / "photo_set_words.csv"


def label_words(names: list[str]) -> list[Category | None] | None:
    """Each label's WordNet category (benchmarks/data/photo_set_words.csv); None when a
    label is missing there (the default skimage set), so names are not judged."""
    with LABEL_WORDS.open(encoding="utf-8") as file:
        rows = {row["label"]: row["word"] for row in
                csv.DictReader(line for line in file if not line.startswith("#"))}
    if any(name not in rows for name in names):
        return None
    found: list[Category | None] = []
    for name in names:
        word, _, sense = rows[name].partition("#")
        found.append(category_of(word, int(sense or 1) - 1) if word else None)
    return found


class NameJudge:
    """Checks a cluster's name against its members' labels. A name fits a member when it is
    the member's label word or a word above it ("birds" and "animals" fit a bird); a more
    specific word ("parrots" for a bird) cannot be checked with these labels and is taken
    as plausible. Verdicts: "correct" (plausible for most members, and no more specific word
    fits most), "too general" (a more specific word fits most), "wrong" (not plausible for
    most); for "Mixed": "missed" (some word fits most members) or "fair"."""

    def __init__(self, words: list[Category | None]) -> None:
        self.words = words
        self.nameable = [c for c in categories() if c.nameable]
        classes = [frozenset(c.classes) for c in self.nameable]
        # per label: which nameable categories are at or above its word
        self.above = [np.array([word is not None and set(word.classes) <= cls
                                for cls in classes]) for word in words]
        self.sizes = np.array([len(c) for c in classes])

    def fitting(self, truth: np.ndarray) -> np.ndarray:
        """How many of these members each nameable category fits."""
        counts = np.bincount(truth, minlength=len(self.words))
        return sum((counts[label] * self.above[label].astype(int)
                    for label in np.flatnonzero(counts)), np.zeros(len(self.nameable), int))

    def verdict(self, category: Category | None, truth: np.ndarray) -> str:
        fits = self.fitting(truth) * 2 > len(truth)
        if category is None:
            return "missed" if fits.any() else "fair"
        named = set(category.classes)
        plausible = sum(1 for label in truth if self.words[label] is not None and (
            set(self.words[label].classes) <= named or named <= set(self.words[label].classes)))
        if plausible * 2 <= len(truth):
            return "wrong"
        narrower = [i for i in np.flatnonzero(fits)
                    if set(self.nameable[i].classes) < named]
        return "too general" if narrower else "correct"


def quality(folder: Path | None, variants: int, split: str = "all",
            cache: Path | None = None) -> None:
    vectors, probs, truth, names = embedded_set(folder, variants, split, cache)
    print(f"labelled set ({split}): {len(truth)} photos, {len(names)} labels "
          f"({', '.join(names)})")
    stored = dense_probs(*top_classes(probs))  # what the library keeps: the top classes
    words = label_words(names) if folder is not None else None
    judge = NameJudge(words) if words is not None else None
    ids = np.arange(len(truth))
    for granularity in (0.0, 0.25, 0.5, 0.75, 1.0):
        clusters, _ = cluster_vectors(ids, vectors, granularity,
                                      names=lambda members: cluster_name(stored[members]))
        assigned = assignment(clusters, len(truth))
        misc = int((assigned == MISC_ID).sum())
        mixed = sum(1 for c in clusters  # "Mixed", "Mixed 2", ...
                    if c.name.rpartition(" ")[0] == NEUTRAL_NAME or c.name == NEUTRAL_NAME)
        print(f"photosim g={granularity:.2f}: {len(clusters) - (misc > 0)} clusters "
              f"({mixed} named {NEUTRAL_NAME!r}) + {misc} in Miscellaneous "
              f"({misc / len(truth):.0%}) | every photo counted (Miscellaneous as one "
              f"cluster): purity {purity(assigned, truth):.3f} NMI {nmi(assigned, truth):.3f}")
        if judge is not None:
            print("  names:", judged_names(clusters, stored, truth, judge,
                                           verbose=granularity == 0.5))
    kmeans = plain_kmeans(vectors, len(names))
    print(f"k-means k={len(names)}: purity {purity(kmeans, truth):.3f} "
          f"NMI {nmi(kmeans, truth):.3f}")


def judged_names(clusters: list[Cluster], stored: np.ndarray, truth: np.ndarray,
                 judge: NameJudge, verbose: bool) -> str:
    """A count of each verdict over the non-Miscellaneous clusters (and each name)."""
    verdicts: dict[str, int] = {}
    for cluster in clusters:
        if cluster.is_misc:
            continue
        members = np.array(cluster.member_ids)
        verdict = judge.verdict(naming_category(stored[members]), truth[members])
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        if verbose:
            print(f"    {cluster.name} ({cluster.size}): {verdict}")
    named = ", ".join(f"{verdicts.get(v, 0)} {v}" for v in ("correct", "too general", "wrong"))
    return (f"{named}; {NEUTRAL_NAME}: {verdicts.get('missed', 0)} where a word fits most "
            f"members, {verdicts.get('fair', 0)} where none does")


# -- scale -----------------------------------------------------------------------------------

def synthetic(count: int, groups: int, dim: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``groups`` centres plus 2% scattered ones (label -1)."""
    rng = np.random.default_rng(1)
    shared = np.abs(rng.standard_normal(dim, dtype=np.float32)) * 2
    centres = rng.standard_normal((groups, dim), dtype=np.float32)
    vectors = np.empty((count, dim), np.float32)
    labels = np.empty(count, np.int64)
    for start in range(0, count, 10000):
        block = min(10000, count - start)
        picks = rng.integers(0, groups, block)
        labels[start:start + block] = picks
        vectors[start:start + block] = (shared + centres[picks] + 0.6 * rng.standard_normal(
            (block, dim), dtype=np.float32))
    scattered = int(count * 0.02)
    vectors[:scattered] = shared + 1.5 * rng.standard_normal((scattered, dim), dtype=np.float32)
    labels[:scattered] = -1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, labels


def scale(count: int) -> None:
    vectors, truth = synthetic(count + 1000, groups=300)
    ids = np.arange(count + 1000)
    print(f"scale: {count} x {vectors.shape[1]}-d vectors ({vectors.nbytes / 2**20:.0f} MiB "
          f"input), {os.cpu_count()} CPUs")
    tracemalloc.start()
    start = time.perf_counter()
    clusters, state = cluster_vectors(ids[:count], vectors[:count])
    first = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    cluster_vectors(ids, vectors, previous=state)
    again = time.perf_counter() - start
    _, peak_again = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  first run: {first:.1f} s, {len(clusters)} clusters, peak extra memory "
          f"{peak / 2**20:.0f} MiB")
    assigned = assignment(clusters, count)
    grouped = truth[:count] >= 0
    print(f"  purity {purity(assigned[grouped], truth[:count][grouped]):.4f}, scattered "
          f"vectors in Miscellaneous {np.mean(assigned[~grouped] == MISC_ID):.3f}, grouped "
          f"ones in Miscellaneous {np.mean(assigned[grouped] == MISC_ID):.4f}")
    print(f"  +1000 photos with the previous state: {again:.1f} s, peak extra memory "
          f"{peak_again / 2**20:.0f} MiB; state {len(state.to_bytes()) / 2**20:.1f} MiB")
    print(f"  process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="folder with one sub-folder per label")
    parser.add_argument("--variants", type=int, default=10, help="0 skips the quality run")
    parser.add_argument("--scale", type=int, default=100_000, help="0 skips the scale run")
    parser.add_argument("--split", choices=("all", "tune", "heldout"), default="all",
                        help="with --photos: only the photos of this split of manifest.csv")
    parser.add_argument("--embeddings", type=Path,
                        help="cache file for the set's vectors (reused when it matches)")
    args = parser.parse_args()
    if args.variants:
        quality(args.photos, args.variants, args.split, args.embeddings)
    if args.scale:
        scale(args.scale)


if __name__ == "__main__":
    main()
