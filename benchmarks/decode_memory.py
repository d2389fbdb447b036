"""Peak memory decoding the worst pictures just under the pixel limit, each in a fresh process.

    python benchmarks/decode_memory.py [--work DIR] [--side 13000] [--json OUT]

Makes (once, under ``--work``) five small files of 13000 x 13000 = 169 MP, just under
photosim's 179 MP limit, whose decoded pixels are as large as Pillow makes them: 16-bit grey
PNG, 32-bit float TIFF, CMYK TIFF, a 256-colour palette PNG with transparency, and an RGBA
PNG. Each is decoded as the indexer does (``load_rgb(path, 256)``) in its own subprocess,
which prints its peak resident set size (``VmHWM``) and that of the bare interpreter
after the imports, so the figure is the decoder's own peak plus Python, NumPy and Pillow.
Target: <= 1 GB for every case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_BYTES = 1 << 30

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that forked
_MEASURE = """
import sys, time
sys.path.insert(0, {root!r})
from photosim.core import decode
def high_water():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
decode.register_plugins()
base = high_water()
start = time.perf_counter()
picture = decode.load_rgb(__import__("pathlib").Path({path!r}), 256).image
seconds = time.perf_counter() - start
print(base, high_water(), seconds, picture.size[0], picture.size[1])
"""


def _gradient(side: int) -> np.ndarray:
    """0..1 float32 in 64 steps along rows and columns, so files compress small but are not
    flat."""
    ramp = np.floor(np.linspace(0.0, 1.0, side, dtype=np.float32) * 8) / 8
    return (ramp[:, None] * 0.5 + ramp[None, :] * 0.5).astype(np.float32)


def make_cases(work: Path, side: int) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    makers = {
        "16-bit grey PNG": ("grey16.png", _grey16),
        "float TIFF": ("float.tif", _float_tiff),
        "CMYK TIFF": ("cmyk.tif", _cmyk_tiff),
        "palette PNG + transparency": ("palette.png", _palette_png),
        "RGBA PNG": ("rgba.png", _rgba_png),
    }
    cases = {}
    for name, (filename, make) in makers.items():
        path = work / f"{side}_{filename}"
        if not path.exists():
            make(path, side)
        cases[name] = path
    return cases


def _grey16(path: Path, side: int) -> None:
    values = (_gradient(side) * 65535).astype(np.uint16)
    Image.fromarray(values).save(path, compress_level=9)


def _float_tiff(path: Path, side: int) -> None:
    Image.fromarray(_gradient(side)).save(path, compression="tiff_adobe_deflate")


def _cmyk_tiff(path: Path, side: int) -> None:
    grey = Image.fromarray((_gradient(side) * 255).astype(np.uint8))
    Image.merge("CMYK", [grey, grey, grey, grey]).save(path, compression="tiff_adobe_deflate")


def _palette_png(path: Path, side: int) -> None:
    grey = Image.fromarray((_gradient(side) * 255).astype(np.uint8))
    palette = grey.convert("P")
    palette.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    palette.save(path, transparency=0, compress_level=9)


def _rgba_png(path: Path, side: int) -> None:
    grey = Image.fromarray((_gradient(side) * 255).astype(np.uint8))
    Image.merge("RGBA", [grey, grey, grey, grey]).save(path, compress_level=9)


def measure(path: Path) -> dict[str, float]:
    """Decode ``path`` in a fresh interpreter; its baseline and peak RSS in bytes, seconds."""
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", _MEASURE.format(root=root, path=str(path))],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"decoding {path.name} failed: {done.stderr.strip()[-400:]}")
    base, peak, seconds, _w, _h = done.stdout.split()
    return {"base": float(base), "peak": float(peak), "seconds": float(seconds)}


def rows(work: Path, side: int) -> list[dict[str, object]]:
    """One row per case: figure, target, measured, passed (the run_all.py Row fields)."""
    out = []
    for name, path in make_cases(work, side).items():
        result = measure(path)
        peak_mb = result["peak"] / 1e6
        out.append({
            "figure": f"peak RSS decoding {side}x{side} {name} ({path.stat().st_size // 1024} KB)",
            "target": "<= 1 GB",
            "measured": f"{peak_mb:.0f} MB (interpreter {result['base'] / 1e6:.0f} MB), "
                        f"{result['seconds']:.1f} s",
            "passed": result["peak"] <= TARGET_BYTES,
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "photosim-bench" / "bombs")
    parser.add_argument("--side", type=int, default=13000)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    started = time.perf_counter()
    found = rows(args.work, args.side)
    for row in found:
        print(f"{row['figure']}: {row['measured']} [{'PASS' if row['passed'] else 'FAIL'}]")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
