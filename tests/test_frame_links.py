"""Comparing the frame sets of a library's videos (core/duplicates/frames.py) hears Cancel:
with thousands of frames it is the longest step of a duplicate pass that no other step
covers."""

from __future__ import annotations

import numpy as np
import pytest

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.catalog.videos import FrameVectors
from photosim.core.duplicates import frames


def _two_videos(count: int) -> tuple[FrameVectors, list[slice]]:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((2 * count, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[count:] = vectors[:count]  # the second video: the same frames
    ids = np.repeat(np.array([1, 2], np.int64), count)
    times = np.tile(np.arange(count, dtype=np.float64) * 2.0, 2)
    return FrameVectors(ids, times, vectors), [slice(0, count), slice(count, 2 * count)]


def test_frame_sets_are_compared_until_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    video_frames, runs = _two_videos(40)
    share, closeness = frames._frame_shares(video_frames, runs, None)
    assert share[0, 1] == share[1, 0] == 1.0  # every frame has its match in the other
    assert closeness[0, 1] == pytest.approx(1.0, abs=1e-5)

    monkeypatch.setattr(frames, "FRAME_BLOCK", 16)  # several blocks
    token = CancelToken()
    blocks = 0
    real_check = frames.check

    def counting_check(cancel: CancelToken | None) -> None:
        nonlocal blocks
        blocks += 1
        if blocks == 2:
            token.cancel()  # during the second block
        real_check(cancel)

    monkeypatch.setattr(frames, "check", counting_check)
    with pytest.raises(Cancelled):
        frames._frame_shares(video_frames, runs, token)
    assert blocks == 2  # stopped at the block after the cancel, not at the end
