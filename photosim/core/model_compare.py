"""Compare embedding models on the user's own labelled folders.

A labelled folder holds one sub-folder per label. For each model we measure retrieval quality
(mAP, P@1, P@10 with every photo as a query against all others), how well it finds edited copies
of a photo (near-duplicate recall), its speed on this machine, and what it costs to store.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from photosim.core.cancel import CancelToken, check
from photosim.core.embedder import Embedder
from photosim.core.errors import PhotosimError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
# hnswlib keeps, per element, the vector, 2*M links on level 0 (4 bytes each), a label and a
# link count; M=16 is the index default. Upper levels add ~1/M of that, ignored here.
HNSW_M = 16
HNSW_FIXED_BYTES_PER_ELEMENT = 2 * HNSW_M * 4 + 8 + 4
PER_100K = 100_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModelScore:
    model: str
    provider: str
    photos: int
    labels: int
    mean_average_precision: float
    precision_at_1: float
    precision_at_10: float
    near_duplicate_recall: float
    images_per_second: float
    vector_size: int
    index_mib_per_100k: float


def load_labelled_folder(root: Path) -> list[tuple[Path, str]]:
    """(photo, label) pairs; the label is the name of the sub-folder the photo lies in."""
    if not root.is_dir():
        raise PhotosimError(f"The labelled folder {root} does not exist.")
    pairs = [(photo, sub.name)
             for sub in sorted(p for p in root.iterdir() if p.is_dir())
             for photo in sorted(sub.iterdir())
             if photo.suffix.lower() in IMAGE_SUFFIXES]
    if len({label for _, label in pairs}) < 2:
        raise PhotosimError(f"{root} needs at least two sub-folders (one per label) with photos.")
    return pairs


def retrieval_scores(vectors: np.ndarray, labels: Sequence[str]) -> tuple[float, float, float]:
    """(mAP, P@1, P@10): each row queries all other rows by cosine similarity."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    label_array = np.asarray(labels)
    aps, p1, p10 = [], [], []
    for query in range(len(labels)):
        order = np.argsort(-sims[query])[:-1]  # the query itself sorts last
        hits = label_array[order] == label_array[query]
        relevant = int(hits.sum())
        if relevant == 0:
            continue  # a label with one photo has nothing to find
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.mean(np.arange(1, relevant + 1) / ranks)))
        p1.append(float(hits[0]))
        p10.append(float(hits[:10].mean()))
    if not aps:
        raise PhotosimError("Every label has a single photo: nothing to retrieve.")
    return float(np.mean(aps)), float(np.mean(p1)), float(np.mean(p10))


def edited_copy(image: Image.Image, seed: int) -> Image.Image:
    """A plausible near-duplicate: cropped, downscaled and re-saved as a lower-quality JPEG."""
    rng = np.random.default_rng(seed)
    width, height = image.size
    margin_x, margin_y = int(width * rng.uniform(0.02, 0.08)), int(height * rng.uniform(0.02, 0.08))
    cropped = image.crop((margin_x, margin_y, width - margin_x, height - margin_y))
    scale = rng.uniform(0.5, 0.8)
    size = (max(1, int(cropped.width * scale)), max(1, int(cropped.height * scale)))
    small = cropped.resize(size)
    buffer = io.BytesIO()
    small.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(55, 80)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def near_duplicate_recall(originals: np.ndarray, copies: np.ndarray) -> float:
    """Share of copies whose nearest original (among all originals) is their own source."""
    nearest = np.argmax(copies @ originals.T, axis=1)
    return float(np.mean(nearest == np.arange(len(copies))))


def index_mib_per_100k(vector_size: int) -> float:
    return PER_100K * (vector_size * 4 + HNSW_FIXED_BYTES_PER_ELEMENT) / 2**20


def compare_model(name: str, embedder: Embedder, provider: str, photos: Sequence[tuple[Path, str]],
                  cancel: CancelToken | None = None, progress: Progress | None = None,
                  batch_size: int = 16) -> ModelScore:
    """Score one model; raises ``Cancelled`` between batches when ``cancel`` is set."""
    images = [Image.open(path).convert("RGB") for path, _ in photos]
    copies = [edited_copy(image, seed) for seed, image in enumerate(images)]
    work = images + copies
    vectors: list[np.ndarray] = []
    embed_seconds = 0.0
    for start in range(0, len(work), batch_size):
        check(cancel)
        batch = work[start:start + batch_size]
        began = time.perf_counter()
        vectors.append(embedder.embed_images(batch))  # timing includes preprocessing
        embed_seconds += time.perf_counter() - began
        if progress is not None:
            progress(min(start + batch_size, len(work)), len(work))
    matrix = np.concatenate(vectors)
    originals, copy_vectors = matrix[:len(images)], matrix[len(images):]
    m_ap, p1, p10 = retrieval_scores(originals, [label for _, label in photos])
    return ModelScore(
        model=name, provider=provider, photos=len(photos),
        labels=len({label for _, label in photos}),
        mean_average_precision=m_ap, precision_at_1=p1, precision_at_10=p10,
        near_duplicate_recall=near_duplicate_recall(originals, copy_vectors),
        images_per_second=len(work) / embed_seconds if embed_seconds > 0 else 0.0,
        vector_size=int(matrix.shape[1]),
        index_mib_per_100k=index_mib_per_100k(int(matrix.shape[1])))


def format_table(scores: Sequence[ModelScore]) -> str:
    header = f"{'model':<28} {'mAP':>6} {'P@1':>6} {'P@10':>6} {'dupR':>6} {'img/s':>8} " \
             f"{'dim':>5} {'MiB/100k':>9} provider"
    rows = [f"{s.model:<28} {s.mean_average_precision:6.3f} {s.precision_at_1:6.3f} "
            f"{s.precision_at_10:6.3f} {s.near_duplicate_recall:6.3f} {s.images_per_second:8.1f} "
            f"{s.vector_size:5d} {s.index_mib_per_100k:9.1f} {s.provider}" for s in scores]
    return "\n".join([header, *rows])


def results_path(data_dir: Path) -> Path:
    return data_dir / "model_comparison.json"


def save_results(data_dir: Path, scores: Sequence[ModelScore], labelled: Path) -> Path:
    """Write the latest comparison so the user (and the UI chart) can look at it again."""
    path = results_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"labelled": str(labelled), "when": time.time(),
               "models": [asdict(score) for score in scores]}
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    temporary.replace(path)  # atomic: a crash never leaves a half-written file
    return path


def load_results(data_dir: Path) -> list[ModelScore]:
    path = results_path(data_dir)
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [ModelScore(**row) for row in data["models"]]
