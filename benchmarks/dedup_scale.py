"""Scale benchmark: all duplicate groups for a large synthetic library, timed.

    python benchmarks/dedup_scale.py [--photos 100000] [--dim 1280]

Vectors: random unit vectors (unrelated photos) plus families of near copies; fingerprints are
random hashes and grids with the families' copies perturbed. Candidate pairs come as a library
stores them (k nearest neighbours above a floor); here the neighbours are planted directly, as
exact k-NN over 100k × 1280 would dominate the timing and is the index's job, not grouping's.
Also times reduced-mode hash pairs (multi-index hashing) over the same fingerprints.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from photosim.core import dedup
from photosim.core.fingerprint import Fingerprint
from photosim.core.types import Photo


def synthetic(n: int, dim: int, family_share: float, rng: np.random.Generator,
              ) -> tuple[list[dedup.Candidate], np.ndarray, list[dedup.Pair]]:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    grids = rng.integers(0, 256, size=(n, 21, 28), dtype=np.uint8)
    hashes = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    pairs: list[dedup.Pair] = []
    start = 0
    family_end = int(n * family_share)
    while start < family_end:  # families of 2-5 near copies
        size = int(rng.integers(2, 6))
        members = np.arange(start, min(start + size, n))
        vectors[members[1:]] = vectors[start] + rng.normal(scale=0.2, size=(len(members) - 1,
                                                                            dim))
        noise = rng.integers(-6, 7, size=(len(members) - 1, 21, 28))
        grids[members[1:]] = np.clip(grids[start].astype(int) + noise, 0, 255)
        hashes[members[1:]] = hashes[start] ^ np.uint64(0b101)
        start += size
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    candidates = [dedup.Candidate(
        Photo(i, Path(f"/lib/{i}.jpg"), 1000 + i, 0, f"h{i}", 4000, 3000, "JPEG"),
        Fingerprint(int(hashes[i]), int(hashes[i]), 0, 1.0, 4 / 3, grids[i],
                    np.zeros((8, 8, 3), np.uint8)), i) for i in range(n)]
    # Stored neighbours: within families (above the floor), none across (random vectors in
    # 1280-d have cosine ~0, below any floor).
    fam_start = 0
    while fam_start < family_end:
        j = fam_start + 1
        while j < n and hashes[j] == hashes[fam_start] ^ np.uint64(0b101):
            j += 1
        for a in range(fam_start, j):
            for b in range(a + 1, j):
                pairs.append((a, b, float(vectors[a] @ vectors[b])))
        fam_start = j
    return candidates, vectors, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--family-share", type=float, default=0.2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    candidates, vectors, pairs = synthetic(args.photos, args.dim, args.family_share, rng)
    print(f"built {len(candidates)} photos, {len(pairs)} stored neighbour pairs in "
          f"{time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    groups = dedup.find_groups(candidates, vectors, pairs, dedup.DedupSettings())
    print(f"find_groups: {len(groups)} groups in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    found = dedup.hash_pairs([c.fingerprint for c in candidates], 8)
    print(f"hash_pairs (reduced mode, ≤ 8 bits): {len(found)} pairs in "
          f"{time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
