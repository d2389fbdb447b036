"""The thresholds a duplicate search works with, measured on benchmarks/dedup_eval.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DedupSettings:
    """Thresholds, measured on benchmarks/dedup_eval.py; ``similar_cosine`` is the slider."""

    similar_cosine: float = 0.90  # CNN cosine for "similar scene"
    edited_cosine: float = 0.60  # CNN cosine an edited copy must still reach
    aligned_edit_cosine: float = 0.85  # ... and an edit of the same framing, pixels not conclusive
    same_ncc: float = 0.995  # grid correlation of the same picture, in its worst strip
    same_hash_distance: int = 6  # DCT-hash bits a same picture may differ by
    same_colour_distance: float = 3.0  # mean |ΔRGB| of the 8×8 colour grids
    colour_cast: float = 0.08  # |Δ log channel ratio| a same picture may show (warm filters)
    saturation_ratio: float = 1.25  # chroma may grow or shrink by this factor (grayscale)
    edited_residual: float = 1.1  # tone-curve residual / 1-cell-shift energy of an aligned edit
    crop_residual: float = 0.35  # the same residual for a crop placed inside its original
    crop_residual_loose: float = 0.45  # ...enough when the crop correlation agrees as well
    edited_trim: float = 0.10  # share of worst cells an aligned edit may change (watermark)
    crop_trim: float = 0.06  # ... and a crop (less: a shifted view differs along one edge)
    proof_residual: float = 0.2  # pixels this conclusive need less of the CNN:
    proof_cosine: float = 0.35  # crops of grayscale copies drift far from the CNN's view
    crop_ncc: float = 0.965  # worst-strip correlation that admits the loose crop residual
    crop_min_worst: float = 0.75  # worst-strip correlation any crop must reach
    crop_noise_ratio: float = 1.5  # crop residual / the original's own resampling residual
    crop_blur: float = 0.6  # cells of blur before the fine crop comparison (anti-aliasing)
    # A straightened copy (turned 1.5-4° and cropped), found on the fine grids: its residual
    # there (dev copies 0.02-0.6, shifted views of the scene from 1.0 up); only searched when
    # the coarse crop fit came this close
    turned_residual: float = 0.6
    turn_gate_residual: float = 1.0
    turn_gate_worst: float = 0.85
    # A crop of one shape keeping at least this share of the width is checked on the fine
    # grids for two overlapping views (a panned next frame): the turned view's search reaches
    # an enlargement of 1.25, so it can tell only crops above 0.8 apart.
    slight_crop_fraction: float = 0.82
    min_crop_fraction: float = 0.45  # a crop keeps at least this much of each side
    aspect_tolerance: float = 0.03  # relative aspect difference still "the same shape"
    # EXIF capture times further apart: different shots. Copies and edits keep the original's
    # capture time to the second; a burst's next shot a second later is another shot.
    capture_gap_s: float = 0.5
    hash_distance: int = 8  # reduced mode (no model): DCT-hash candidate pairs
    # Past this many candidate pairs, pixels are compared only for pairs whose coarse 6×6
    # views agree somewhere (see pixel_gate): a large library's look-alikes are many.
    pixel_gate_above: int = 20_000
    pixel_gate_ncc: float = 0.75

    @classmethod
    def from_threshold(cls, threshold: float | None) -> DedupSettings:
        """Settings for a user threshold (the "similar scene" cosine); None means defaults."""
        if threshold is None:
            return cls()
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        return cls(similar_cosine=threshold)
