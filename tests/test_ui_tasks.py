"""The task runner delivers a result only to a receiver that still lives, and
``LatestRequest`` lets only the newest of a kind of request be heard."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import QObject

from photosim.core.cancel import Cancelled
from photosim.ui.tasks import LatestRequest, TaskRunner

pytestmark = pytest.mark.gui
WAIT = 10000


class Listener(QObject):
    def __init__(self, heard: list[object]) -> None:
        super().__init__()
        self.heard = heard

    def take(self, result: object) -> None:
        self.heard.append(result)


def held_task(gate: threading.Event, result: object = "done"):
    def task() -> object:
        assert gate.wait(WAIT / 1000)
        return result
    return task


def finish(qtbot, runner: TaskRunner, gate: threading.Event) -> None:
    gate.set()
    assert runner.wait_for_done(WAIT)
    qtbot.waitUntil(lambda: not runner.busy(), timeout=WAIT)  # the relay has reported


def test_a_result_for_a_deleted_listener_is_dropped(qtbot):
    runner, gate, heard = TaskRunner(), threading.Event(), []
    listener = Listener(heard)
    runner.run_task(held_task(gate), listener.take)  # the listener owns the callback
    shiboken6.delete(listener)  # e.g. a dialog closed while its picture loaded
    finish(qtbot, runner, gate)
    assert heard == []


def test_a_named_receiver_deleted_meanwhile_hears_neither_result_nor_error(qtbot):
    runner, heard = TaskRunner(), []
    runner.default_error_handler = heard.append
    for outcome in ("done", ValueError("boom")):
        gate, receiver = threading.Event(), QObject()

        def task(outcome=outcome, gate=gate):
            assert gate.wait(WAIT / 1000)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        runner.run_task(task, heard.append, heard.append, receiver=receiver)
        shiboken6.delete(receiver)
        finish(qtbot, runner, gate)
    assert heard == []


def test_a_window_closed_while_its_task_ran_hears_nothing(qtbot):
    """The runner belongs to a window: deleting the window drops what its tasks bring back,
    even to a plain function (the indexing result that once reached a deleted window)."""
    window, gate, heard = QObject(), threading.Event(), []
    runner = TaskRunner(window)
    pools = runner._pools
    runner.run_task(held_task(gate), lambda result: heard.append(result))
    shiboken6.delete(window)
    assert not shiboken6.isValid(runner)
    gate.set()
    assert all(pool.waitForDone(WAIT) for pool in pools.values())
    qtbot.waitUntil(lambda: not runner._in_flight, timeout=WAIT)
    assert heard == []


def test_a_live_listener_hears_its_result(qtbot):
    runner, gate, heard = TaskRunner(), threading.Event(), []
    listener = Listener(heard)
    runner.run_task(held_task(gate, 42), listener.take)
    finish(qtbot, runner, gate)
    assert heard == [42]


def test_only_the_latest_request_is_delivered_and_the_older_is_cancelled():
    owner = QObject()
    latest = LatestRequest(owner)
    shown, dropped = [], []
    first = latest.begin()
    on_first = latest.deliver(first, shown.append, dropped.append)
    second = latest.begin()
    on_second = latest.deliver(second, shown.append, dropped.append)
    assert first.token.cancelled and not second.token.cancelled
    on_second("second")
    on_first("first, late")
    assert shown == ["second"] and dropped == ["first, late"]
    assert not latest.is_running()


def test_a_cancelled_request_still_delivers_its_outcome_but_a_stopped_one_does_not():
    latest = LatestRequest(QObject())
    heard: list[object] = []
    request = latest.begin()
    assert latest.cancel() and latest.is_running()
    latest.deliver(request, heard.append)(Cancelled())
    assert len(heard) == 1 and not latest.cancel()  # over: nothing left to cancel
    request = latest.begin()
    latest.stop()
    latest.deliver(request, heard.append)("too late")
    assert len(heard) == 1 and request.token.cancelled


def test_progress_is_shown_only_for_the_running_latest_request(qtbot):
    latest = LatestRequest(QObject())
    shown: list[object] = []
    first = latest.begin(on_progress=shown.append)
    first_bridge = first.bridge
    second = latest.begin(on_progress=shown.append)
    assert first_bridge is not None and second.bridge is not None
    first_bridge.progressed.emit("old")  # a replaced search still reporting
    second.bridge.progressed.emit("new")
    assert shown == ["new"]
