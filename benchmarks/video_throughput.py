"""Video indexing throughput: video seconds per wall second for a 1080p clip.

Encodes a clip from real photos (skimage) with PyAV, then times frame sampling plus embedding
of the sampled frames with the real model. Usage:
  PHOTOSIM_TEST_MODEL_DIR=/work/shared/models python benchmarks/video_throughput.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
from PIL import Image
from skimage import data

from photosim.core.embedder import Embedder
from photosim.core.models.runtime import ModelSession
from photosim.core.models.spec import builtin_specs
from photosim.core.video import sample_frames

FPS = 30


def encode_1080p(path: Path, seconds: int) -> Path:
    pictures = [Image.fromarray(p).convert("RGB").resize((1920, 1080))
                for p in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket())]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.bit_rate = 8_000_000
        for second in range(seconds):  # a new scene every 3 s
            frame = av.VideoFrame.from_image(pictures[(second // 3) % len(pictures)])
            for _ in range(FPS):
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--library", action="store_true",
                        help="time the product's path instead: Library.index of a folder "
                             "holding the clip (hash, sample, embed, store, index)")
    args = parser.parse_args()
    if args.library:
        library_throughput(args.seconds)
        return
    model_dir = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", "/work/shared/models"))
    spec = builtin_specs()["efficientnet-lite0"]
    session = ModelSession(model_dir / "efficientnet_lite0_embed.onnx", spec, "cpu")
    embedder = Embedder(spec, session)
    with tempfile.TemporaryDirectory() as temp:
        clip = encode_1080p(Path(temp) / "clip.mp4", args.seconds)
        began = time.perf_counter()
        frames = sample_frames(clip)
        sampled = time.perf_counter()
        embedder.embed_images([f.image for f in frames])
        done = time.perf_counter()
    print(f"1080p {args.seconds}s clip, {len(frames)} frames kept: decode+sample "
          f"{sampled - began:.2f}s, embed {done - sampled:.2f}s, "
          f"{args.seconds / (done - began):.1f} video s per wall s on {session.provider}")


def library_throughput(seconds: int) -> None:
    took, frames, megabytes = time_library_index(seconds)
    print(f"Library.index of a 1080p {seconds}s clip ({megabytes:.1f} MB, {frames} frames "
          f"kept): {took:.2f}s, {seconds / took:.1f} video s per wall s")


def time_library_index(seconds: int) -> tuple[float, int, float]:
    """(wall seconds, frames kept, clip MB) of Library.index over a folder holding one
    1080p clip of ``seconds``, with the shared EfficientNet-Lite0."""
    from photosim.core.library import Library

    model = Path(os.environ.get("PHOTOSIM_TEST_MODEL_DIR", "/work/shared/models"))
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "videos"
        folder.mkdir()
        clip = encode_1080p(folder / "clip.mp4", seconds)
        with Library.open(Path(temp) / "data", model=str(model / "efficientnet_lite0_embed.onnx"),
                          model_spec="efficientnet-lite0") as library:
            began = time.perf_counter()
            report = library.index([folder])
            took = time.perf_counter() - began
            assert library.spec is not None
            frames = library.catalog.videos.frame_vectors(library.spec.id, library.spec.dim)
        assert report.added == 1, report
        return took, len(frames.times), clip.stat().st_size / 1e6

if __name__ == "__main__":
    main()
