"""What a catalog row's type costs the library grid, over synthetic rows:

- reading: the three sorts and the path index of a listing, with columns read by index
  constants (``row[1]``, as before), by the readers of ``photosim.core.types``
  (``row_path(row)``), and as attributes of a NamedTuple made per row;
- ``prepare_listing`` whole (sort, path index, filter columns: what a refresh does on a
  worker) with plain tuples and with a NamedTuple made per row.

Medians and minimums over ``--runs`` (a busy machine makes the minimum the steadier figure).

    python benchmarks/photo_row_bench.py [--photos 100000] [--runs 9]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from photosim.core.types import row_date_taken, row_path, row_size
from photosim.ui.listing import prepare_listing

PATH, SIZE, DATE_TAKEN = 1, 2, 8  # the index constants the readers replaced


class PhotoRecord(NamedTuple):  # the alternative measured: a named row made per photo
    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None
    height: int | None
    format: str | None
    date_taken: str | None
    orientation: int | None
    camera: str | None
    error: str | None
    online: int
    exif_fields: int | None


def synthetic_rows(count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(1)
    return [(i, f"/photos/{rng.randrange(999)}/IMG_{rng.randrange(10**6):06d}.jpg",
             rng.randrange(10**7), 1, "hash", 4000, 3000, "JPEG",
             f"2020-01-{rng.randrange(1, 28):02d}" if i % 3 else None, 1, None, None, 1, 12)
            for i in range(count)]


def timed(work: Callable[[], object], runs: int) -> str:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return f"median {statistics.median(times) * 1000:7.1f} ms, min {min(times) * 1000:7.1f} ms"


def read_by_index(rows: list[tuple[Any, ...]]) -> None:
    for key in (lambda r: r[PATH].lower(), lambda r: r[SIZE], lambda r: r[DATE_TAKEN] or ""):
        sorted(rows, key=key)
    {r[PATH]: i for i, r in enumerate(rows)}


def read_by_reader(rows: list[tuple[Any, ...]]) -> None:
    for key in (lambda r: row_path(r).lower(), row_size, lambda r: row_date_taken(r) or ""):
        sorted(rows, key=key)
    {row_path(r): i for i, r in enumerate(rows)}


def read_by_name(rows: list[tuple[Any, ...]]) -> None:
    named = [PhotoRecord._make(r) for r in rows]
    for key in (lambda r: r.path.lower(), lambda r: r.size, lambda r: r.date_taken or ""):
        sorted(named, key=key)
    {r.path: i for i, r in enumerate(named)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    rows = synthetic_rows(args.photos)
    print(f"{args.photos:,} rows, {args.runs} runs")
    print(f"reading, index constants:     {timed(lambda: read_by_index(rows), args.runs)}")
    print(f"reading, row_path() readers:  {timed(lambda: read_by_reader(rows), args.runs)}")
    print(f"reading, NamedTuple per row:  {timed(lambda: read_by_name(rows), args.runs)}")
    print("prepare_listing, plain tuples: "
          f"{timed(lambda: prepare_listing(rows, 'name', False), args.runs)}")
    named = timed(lambda: prepare_listing([PhotoRecord._make(r) for r in rows], "name", False),
                  args.runs)
    print(f"prepare_listing, NamedTuple:   {named}")

if __name__ == "__main__":
    main()
