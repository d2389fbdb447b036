"""What indexing makes of one video file: sampled frames embedded, and a poster frame that
stands for the video wherever a photo would (its vector, fingerprint and thumbnail).

Runs in a pipeline worker thread, like decoding a photo; the model runs here on the frames
(onnxruntime sessions may be shared between threads) so that a long clip does not hold up
the photos batched behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photosim.core.cancel import CancelToken, check
from photosim.core.catalog.videos import VideoFacts
from photosim.core.embedder import Embedder, l2_normalise
from photosim.core.fingerprint import fingerprint
from photosim.core.types import ImageInfo
from photosim.core.video import sample_video

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


def prepare_video(path: Path, embedder: Embedder | None,
                  cancel: CancelToken | None = None) -> PreparedVideo:
    """Sample, fingerprint and (with ``embedder``) embed one video; ``DecodeError`` when it is
    not a readable video, ``Cancelled`` when ``cancel`` fires."""
    sampled = sample_video(path, INTERVAL_S, MAX_FRAMES, cancel)
    poster = sampled.poster
    info = ImageInfo(width=poster.image.width, height=poster.image.height,
                     format=path.suffix.lstrip(".").upper(), date_taken=sampled.created)
    facts = VideoFacts(sampled.duration, poster.time)
    times = tuple(f.time for f in sampled.frames)
    if embedder is None:
        return PreparedVideo(info, fingerprint(poster.image).to_bytes(), facts, times,
                             None, None, None)
    features = []
    for start in range(0, len(sampled.frames), _BATCH):
        check(cancel)
        tensors = [embedder.prepare(f.image) for f in sampled.frames[start:start + _BATCH]]
        features.append(np.asarray(embedder.runner.run(np.stack(tensors)), np.float32)
                        .reshape(len(tensors), -1))
    raw = np.concatenate(features).astype(np.float32)
    at = sampled.frames.index(poster)
    return PreparedVideo(info, fingerprint(poster.image).to_bytes(), facts, times,
                         l2_normalise(raw), embedder.prepare(poster.image), raw[at])
