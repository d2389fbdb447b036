"""Small matrix products on the calling thread.

OpenBLAS splits even a 16 x 1280 x 1000 product over its threads, which then spin for a while
before they sleep. While indexing, the decoding threads keep every core busy, so that spinning
is pure cost: ~0.2 ms of CPU a photo on the small-photo set of benchmarks/index_overhead.py,
for the classifier head's product on each batch (the ranking of a query met the same, see
photosim/core/ranking.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController


@functools.cache
def _blas_threads() -> ThreadpoolController:
    """The process's BLAS thread pools (found once: finding them reads the loaded libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the BLAS products inside on the calling thread (process-wide while inside)."""
    with _blas_threads().limit(limits=1, user_api="blas"):
        yield
