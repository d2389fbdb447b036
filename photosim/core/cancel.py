"""Cooperative cancellation: long work checks a token between batches and stops cleanly."""

from __future__ import annotations

import threading


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Cancelled(Exception):  # a signal, not an error: hence no "Error" suffix
    """Raised inside long work when its token was cancelled; callers treat it as a clean stop."""


def check(token: CancelToken | None) -> None:
    if token is not None and token.cancelled:
        raise Cancelled
