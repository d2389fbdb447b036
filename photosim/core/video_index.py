"""What indexing makes of one video file: sampled frames embedded, and a poster frame that
stands for the video wherever a photo would (its vector, fingerprint and thumbnail).

Runs in a pipeline worker thread, like decoding a photo; the model runs here on the frames
(onnxruntime sessions may be shared between threads) so that a long clip does not hold up
the photos batched behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from photosim.core.cancel import CancelToken, check
from photosim.core.catalog.videos import VideoFacts
from photosim.core.embedder import Embedder, l2_normalise
from photosim.core.fingerprint import fingerprint
from photosim.core.types import ImageInfo
from photosim.core.video import is_blank, sample_video

# Frames are sampled at scene changes and at least this often; "find similar" answers with a
# time within one interval of the moment that matches.
INTERVAL_S = 2.0
MAX_FRAMES = 120
_BATCH = 16


@dataclass(frozen=True)
class PreparedVideo:
    info: ImageInfo
    fingerprint: bytes
    facts: VideoFacts
    times: tuple[float, ...]
    vectors: np.ndarray | None  # unit vectors of the frames; None without a model
    poster_tensor: np.ndarray | None  # the model input of the poster frame
    poster_features: np.ndarray | None  # its raw (not normalised) features


def prepare_video(path: Path, embedder: Embedder | None, cancel: CancelToken | None = None,
                  on_frame: Callable[[float], None] | None = None) -> PreparedVideo:
    """Sample, fingerprint and (with ``embedder``) embed one video; ``DecodeError`` when it is
    not a readable video, ``Cancelled`` when ``cancel`` fires. With a model, the poster is
    the video's most typical frame; without, its first frame that is not blank.
    ``on_frame`` hears how far into the video sampling is (seconds)."""
    sampled = sample_video(path, INTERVAL_S, MAX_FRAMES, cancel, on_frame)
    times = tuple(f.time for f in sampled.frames)
    raw = vectors = None
    poster = sampled.poster
    if embedder is not None:
        raw = _features(embedder, [f.image for f in sampled.frames], cancel)
        vectors = l2_normalise(raw)
        poster = sampled.frames[_most_typical(vectors, [is_blank(f.image)
                                                        for f in sampled.frames])]
    info = ImageInfo(width=sampled.size[0], height=sampled.size[1],
                     format=path.suffix.lstrip(".").upper(), date_taken=sampled.created)
    at = sampled.frames.index(poster)
    return PreparedVideo(info, fingerprint(poster.image).to_bytes(),
                         VideoFacts(sampled.duration, poster.time), times, vectors,
                         embedder.prepare(poster.image) if embedder else None,
                         raw[at] if raw is not None else None)


def _features(embedder: Embedder, images: list[Image.Image],
              cancel: CancelToken | None) -> np.ndarray:
    """The model's raw features of ``images``, a batch at a time between looks at ``cancel``."""
    features = []
    for start in range(0, len(images), _BATCH):
        check(cancel)
        tensors = np.stack([embedder.prepare(image) for image in images[start:start + _BATCH]])
        features.append(np.asarray(embedder.runner.run(tensors), np.float32)
                        .reshape(len(tensors), -1))
    return np.concatenate(features)


def _most_typical(vectors: np.ndarray, blank: list[bool]) -> int:
    """The frame nearest the mean of the video's frames (blank ones aside). Copies of a clip
    that is re-encoded, resized or trimmed keep the same typical moment, so their posters
    match and the duplicate passes group them like copies of a photo."""
    mean = vectors.mean(axis=0)
    scores = vectors @ mean
    if not all(blank):
        scores[np.asarray(blank)] = -np.inf
    return int(np.argmax(scores))
