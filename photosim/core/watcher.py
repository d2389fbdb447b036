"""Watched folders: file-system events become debounced, coalesced work for the library.

watchdog's callbacks only append what happened to an inbox. One worker thread turns the inbox
into work items and hands them to a ``WatchSink`` (the ``Library``):

* a photo that appears or changes is handed over once its size and mtime have stopped
  changing for ``settle_s`` (a large copy in progress is never read half-written), and many of
  them become one batched ``index_paths``;
* created-then-deleted before settling is nothing; create+modify+modify is one item;
* a rename or a move between watched roots becomes ``move_path`` (the vector and the user's
  decisions are kept). inotify reports a move between two watches as a create in one and, about
  half a second later, a delete in the other; the pair is matched on name, size and mtime;
* a move out of the library or a delete becomes ``forget_paths``; a move in becomes an index;
* a watched root that disappears (an unplugged drive) is reported ``folder_offline`` and its
  events are ignored, so nothing is forgotten; when it returns, ``folder_online``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from photosim.core.errors import PhotosimError
from photosim.core.scanner import is_photo_path
from photosim.core.types import Change, Photo

log = logging.getLogger(__name__)

# inotify holds an unpaired "moved from" back about 0.5 s before reporting it as a delete; a
# newly created file waits at least this long so a move between roots can still be paired.
MOVE_PAIR_WINDOW_S = 0.7
VANISHED_GRACE_S = 2.0  # a pending file gone from disk with no event about it: deleted
BURST_WAIT_S = 3.0  # a photo waits at most this long past settling for the rest of its burst
# Photos per index_paths call. A burst is handed over in batches this big so the first ones
# are searchable while the rest embed (500 copied in on 2 CPUs: median latency 17 s vs 25 s
# as one call), and a long stream never waits for its end.
MAX_BATCH = 100
POLL_INTERVAL_S = 1.0  # default rescan period of the polling observer (network shares)

# Change kinds passed to ``on_change`` (see ``Change``).
INDEXED, REMOVED, MOVED = Change.INDEXED, Change.REMOVED, Change.MOVED
OFFLINE, ONLINE = Change.OFFLINE, Change.ONLINE

ChangeCallback = Callable[[str, list[Path]], None]
ErrorCallback = Callable[[BaseException], None]


class WatchSink(Protocol):
    """What the watcher drives; ``Library`` implements all of it."""

    def index_paths(self, paths: Sequence[Path]) -> object: ...
    def forget_paths(self, paths: Sequence[Path]) -> object: ...
    def move_path(self, old: Path, new: Path) -> object: ...
    def folder_offline(self, root: Path) -> object: ...
    def folder_online(self, root: Path) -> object: ...
    def photo(self, path: Path) -> Photo | None: ...
    def photos(self, folder: Path | None = None) -> Sequence[Photo]: ...


@dataclass(frozen=True)
class _Event:
    kind: str  # watchdog's event_type: created, modified, closed, deleted, moved
    src: Path
    dest: Path | None
    is_dir: bool
    at: float


class _Inbox:
    """The only thing watchdog's threads touch: a locked queue and a wake-up signal."""

    def __init__(self) -> None:
        self._events: deque[_Event] = deque()
        self._cv = threading.Condition()
        self.last_event_at = 0.0

    def put(self, event: _Event) -> None:
        with self._cv:
            self._events.append(event)
            self.last_event_at = event.at
            self._cv.notify()

    def take_all(self, wait_s: float) -> list[_Event]:
        with self._cv:
            if not self._events:
                self._cv.wait(wait_s)
            events = list(self._events)
            self._events.clear()
            return events

    def wake(self) -> None:
        with self._cv:
            self._cv.notify()


class _Recorder(FileSystemEventHandler):
    """watchdog callback: records, never works."""

    IGNORED = frozenset({"opened", "closed_no_write"})

    def __init__(self, inbox: _Inbox) -> None:
        self._inbox = inbox

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in self.IGNORED:
            return
        dest = Path(os.fsdecode(event.dest_path)) if event.dest_path else None
        self._inbox.put(_Event(event.event_type, Path(os.fsdecode(event.src_path)), dest,
                               event.is_directory, time.monotonic()))


@dataclass
class _Pending:
    """A photo that appeared or changed, waiting until it stops changing."""

    created: bool  # new to the library: deleting it before hand-over cancels it
    first_seen: float
    last_event: float
    stable_since: float
    signature: tuple[int, int] | None = None  # (size, mtime_ns) at the last look


@dataclass
class _Deletion:
    at: float
    is_dir: bool
    tried: bool = False  # looked once for a matching create (a move between roots)


@dataclass
class _Root:
    online: bool
    watch: ObservedWatch | None


class LibraryWatcher:
    """Keeps a sink current with the photo files under ``roots`` (recursively)."""

    def __init__(self, sink: WatchSink, roots: Sequence[Path], debounce_s: float = 0.5,
                 settle_s: float = 1.0, polling: bool = False,
                 poll_interval_s: float = POLL_INTERVAL_S, max_batch: int = MAX_BATCH,
                 on_change: ChangeCallback | None = None,
                 on_error: ErrorCallback | None = None) -> None:
        self._sink = sink
        self._debounce_s = debounce_s
        self._settle_s = settle_s
        self._polling = polling
        self._poll_interval_s = poll_interval_s
        self._max_batch = max_batch
        self._on_change = on_change
        self._on_error = on_error
        self._tick_s = min(0.25, max(0.02, min(debounce_s, settle_s) / 4))
        self._max_wait_s = settle_s + BURST_WAIT_S
        self._inbox = _Inbox()
        self._recorder = _Recorder(self._inbox)
        self._observer: BaseObserver | None = None
        self._roots_lock = threading.Lock()
        self._roots: dict[Path, _Root] = {}
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()  # every initial root observed, or stopped first
        self._idle_cv = threading.Condition()
        self._idle = True
        # Worker-thread state only.
        self._to_index: dict[Path, _Pending] = {}
        self._deleted: dict[Path, _Deletion] = {}
        self._moves: dict[Path, tuple[Path, float]] = {}  # old -> (new, when)
        self._last_activity = 0.0  # when the last event inside an online root arrived
        for root in roots:
            self._roots[_normalise(root)] = _Root(online=True, watch=None)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        """Start observing every root and the worker thread.

        Watching a root walks its whole tree (inotify watches each folder, polling takes a
        snapshot of every file): about a quarter of a second at 100k photos. With ``wait``
        (the default) that happens here and every root is observed when ``start`` returns;
        without it the worker thread does it first, ``start`` returns at once and
        ``wait_started`` tells when it is done. ``stop`` may come at any point of either.
        """
        if self._worker is not None:
            return
        self._stopping.clear()
        self._started.clear()
        if wait:
            try:
                self._observe()
            except BaseException:
                self.stop()
                raise
        self._worker = threading.Thread(target=self._run, args=(not wait,),
                                        name="photosim-watcher", daemon=True)
        self._worker.start()

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until every root that was there at ``start`` is observed (or ``stop`` cut that
        short); False on timeout."""
        return self._started.wait(timeout)

    def stop(self) -> None:
        """Stop observing; work not yet handed over is dropped (the next catch-up finds it).

        While a ``start(wait=False)`` is still walking the roots, this waits for the walk of
        the root in hand (the rest are never walked); nothing of the watcher runs afterwards.
        """
        self._stopping.set()
        self._inbox.wake()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        with self._roots_lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer.ident is not None:  # started: its thread ends soon after stop
                observer.join()
        with self._roots_lock:
            for state in self._roots.values():
                state.watch = None  # they were the stopped observer's

    def __enter__(self) -> LibraryWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def roots(self) -> list[Path]:
        with self._roots_lock:
            return sorted(self._roots)

    def add_root(self, root: Path) -> None:
        """Watch one more folder (e.g. just added to the library)."""
        root = _normalise(root)
        with self._roots_lock:
            if root in self._roots:
                return
            online = root.is_dir()
            watch = self._schedule(root) if online and self._observer is not None else None
            self._roots[root] = _Root(online=online, watch=watch)

    def remove_root(self, root: Path) -> None:
        """Stop watching a folder; its pending work is dropped (the library forgets it)."""
        root = _normalise(root)
        with self._roots_lock:
            state = self._roots.pop(root, None)
            if state is not None and state.watch is not None:
                self._unschedule(state.watch)
        self._inbox.wake()

    def wait_idle(self, timeout: float, quiet_s: float = 0.0) -> bool:
        """Wait until nothing is pending and no event arrived for ``quiet_s``; False on timeout.

        Events reach the inbox asynchronously (inotify reports a move out of a watched folder
        only after ~0.5 s), so callers that just touched files pass a ``quiet_s``.
        """
        deadline = time.monotonic() + timeout
        with self._idle_cv:
            while True:
                now = time.monotonic()
                quiet = now - self._inbox.last_event_at >= quiet_s
                if self._idle and quiet:
                    return True
                if now >= deadline:
                    return False
                self._idle_cv.wait(min(self._tick_s, deadline - now))

    # -- observer --------------------------------------------------------------------------
    def _observe(self) -> None:
        """Start the observer, then observe the roots one walk at a time (stopping early on
        ``stop``).

        The observer runs before any root is scheduled, so that every schedule (here or by
        ``add_root``) starts its emitter itself: watchdog starts the emitters scheduled before
        the observer only in its own start, and one added while that runs would never be. A
        root added before the observer is published is left to the walk below; one added
        after, ``add_root`` schedules. The walks run outside the roots lock (``roots()`` and
        ``add_root`` must not wait a quarter of a second); a root removed or re-added meanwhile
        is settled afterwards.
        """
        try:
            observer = PollingObserver(timeout=self._poll_interval_s) if self._polling \
                else Observer()
            observer.start()
            with self._roots_lock:
                self._observer = observer
                roots = [root for root, state in self._roots.items() if state.watch is None]
            for root in roots:
                if self._stopping.is_set():
                    return
                if root.is_dir():  # a missing one is reported offline by the first check
                    self._adopt_watch(root, self._schedule(root))
        finally:
            self._started.set()

    def _adopt_watch(self, root: Path, watch: ObservedWatch | None) -> None:
        if watch is None:
            return
        with self._roots_lock:
            state = self._roots.get(root)
            if state is not None and state.online:
                # add_root may have scheduled it again meanwhile: watchdog then shares one
                # emitter between the two, which must stay.
                if state.watch is None:
                    state.watch = watch
                return
            self._unschedule(watch)  # removed (or found missing by add_root) during the walk

    def _schedule(self, root: Path) -> ObservedWatch | None:
        observer = self._observer
        if observer is None:  # stopped meanwhile
            return None
        try:
            return observer.schedule(self._recorder, str(root), recursive=True)
        except OSError as exc:  # vanished between the check and the call, or no permission
            log.warning("cannot watch %s: %s", root, exc)
            return None

    def _unschedule(self, watch: ObservedWatch) -> None:
        if self._observer is None:
            return
        try:
            self._observer.unschedule(watch)
        except (KeyError, OSError) as exc:  # its emitter already died with the folder
            log.debug("unschedule %s: %r", watch.path, exc)

    # -- worker ----------------------------------------------------------------------------
    def _run(self, watch_roots: bool) -> None:
        if watch_roots:
            try:
                self._observe()
            except Exception as exc:  # a bug: report it; the roots watched so far still are
                log.exception("watching the roots failed")
                if self._on_error is not None:
                    self._on_error(exc)
        while not self._stopping.is_set():
            events = self._inbox.take_all(self._tick_s)
            self._set_idle(False)
            try:
                self._step(events, time.monotonic())
            except Exception as exc:  # a bug: report it with its traceback, keep watching
                log.exception("watcher step failed")
                if self._on_error is not None:
                    self._on_error(exc)
            self._set_idle(not (self._to_index or self._deleted or self._moves))

    def _set_idle(self, idle: bool) -> None:
        with self._idle_cv:
            self._idle = idle
            self._idle_cv.notify_all()

    def _step(self, events: list[_Event], now: float) -> None:
        for event in events:
            self._apply(event)
        self._check_roots()
        self._drop_outside_roots()
        self._update_stability(now)
        self._flush_deletes(now)
        self._flush_moves(now)
        self._flush_indexing(now)

    # -- turning events into pending work --------------------------------------------------
    def _apply(self, event: _Event) -> None:
        if not (self._watched(event.src) or (event.dest and self._watched(event.dest))):
            return
        self._last_activity = max(self._last_activity, event.at)
        if event.kind == "moved" and event.dest is not None:
            self._apply_move(event)
        elif event.kind == "deleted":
            self._apply_delete(event.src, event.is_dir, event.at)
        elif not event.is_dir and is_photo_path(event.src) and \
                event.kind in ("created", "modified", "closed"):
            self._note_changed(event.src, event.kind == "created", event.at)

    def _note_changed(self, path: Path, created: bool, at: float) -> None:
        pending = self._to_index.get(path)
        if pending is not None:
            pending.last_event = at
            return
        replaced = self._deleted.pop(path, None) is not None  # deleted, then written again
        self._to_index[path] = _Pending(created=created and not replaced, first_seen=at,
                                        last_event=at, stable_since=at)

    def _apply_delete(self, path: Path, is_dir: bool, at: float) -> None:
        if is_dir:
            for inside in [p for p in self._to_index if p.is_relative_to(path)]:
                self._cancel_pending(inside, at, record_delete=False)
            self._deleted[path] = _Deletion(at, True)
        elif is_photo_path(path):
            self._cancel_pending(path, at, record_delete=True)

    def _cancel_pending(self, path: Path, at: float, record_delete: bool) -> None:
        pending = self._to_index.pop(path, None)
        moved_from = next((old for old, (new, _) in self._moves.items() if new == path), None)
        if moved_from is not None:  # moved, then deleted: the original is what is gone
            del self._moves[moved_from]
            path = moved_from
        elif pending is not None and pending.created:
            return  # came and went before it was handed over: nothing happened
        if record_delete:
            self._deleted[path] = _Deletion(at, False)

    def _apply_move(self, event: _Event) -> None:
        assert event.dest is not None
        src_in, dest_in = self._watched(event.src), self._watched(event.dest)
        if event.is_dir:
            if src_in and dest_in:
                self._move_tree(event.src, event.dest, event.at)
            elif src_in:
                self._apply_delete(event.src, True, event.at)
            return
        src_photo = src_in and is_photo_path(event.src)
        dest_photo = dest_in and is_photo_path(event.dest)
        if src_photo and dest_photo:
            self._move_file(event.src, event.dest, event.at)
        elif src_photo:  # renamed to a name that is not a photo, or moved out
            self._cancel_pending(event.src, event.at, record_delete=True)
        elif dest_photo:  # e.g. an editor's atomic save: temp file renamed over the photo
            self._note_changed(event.dest, False, event.at)

    def _move_tree(self, src: Path, dest: Path, at: float) -> None:
        """A renamed folder: one move per photo inside (platforms differ in whether they also
        report each file, so this is idempotent with those reports)."""
        for path in list(self._to_index):
            if path.is_relative_to(src):
                self._move_file(path, dest / path.relative_to(src), at)
        for new in _photos_under(dest):
            old = src / new.relative_to(dest)
            if old not in self._to_index and new not in self._to_index:
                self._move_file(old, new, at)

    def _move_file(self, old: Path, new: Path, at: float) -> None:
        pending = self._to_index.pop(old, None)
        if pending is not None:
            pending.last_event = at
            self._to_index[new] = pending
            if pending.created:  # never handed over: simply a new photo at its new path,
                # unless it replaced a catalogued one (an editor's "save as temp, rename")
                pending.created = self._sink.photo(new) is None
                return
        origin = next((o for o, (n, _) in self._moves.items() if n == old), old)
        self._moves.pop(origin, None)
        if origin != new:
            self._moves[origin] = (new, at)

    # -- roots -----------------------------------------------------------------------------
    def _watched(self, path: Path) -> bool:
        """Inside an online root (the root itself excluded)."""
        root = self._root_of(path)
        return root is not None and root != path and self._root_online(root)

    def _root_of(self, path: Path) -> Path | None:
        with self._roots_lock:
            return next((r for r in self._roots if path.is_relative_to(r)), None)

    def _root_online(self, root: Path) -> bool:
        with self._roots_lock:
            state = self._roots.get(root)
            return state is not None and state.online

    def _check_roots(self) -> None:
        """An unplugged drive looks like a vanished root: offline, never forgotten."""
        with self._roots_lock:
            changed = [(root, state) for root, state in self._roots.items()
                       if root.is_dir() != state.online]
        for root, state in changed:
            if state.online:
                self._go_offline(root, state)
            else:
                self._go_online(root, state)

    def _go_offline(self, root: Path, state: _Root) -> None:
        with self._roots_lock:
            state.online = False
            if state.watch is not None:
                self._unschedule(state.watch)
                state.watch = None
        self._drop_under(root)
        self._call(OFFLINE, [root], lambda: self._sink.folder_offline(root))

    def _go_online(self, root: Path, state: _Root) -> None:
        with self._roots_lock:
            state.online = True
            if self._observer is not None:
                state.watch = self._schedule(root)
        self._call(ONLINE, [root], lambda: self._sink.folder_online(root))

    def _drop_under(self, root: Path) -> None:
        for table in (self._to_index, self._deleted, self._moves):
            for path in [p for p in table if p.is_relative_to(root)]:
                del table[path]

    def _drop_outside_roots(self) -> None:
        """Work for a root that was removed (or went offline) since it was queued."""
        for table in (self._to_index, self._deleted):
            for path in [p for p in table if not self._watched(p)]:
                del table[path]
        for old in [o for o, (n, _) in self._moves.items() if not self._watched(n)]:
            del self._moves[old]

    # -- handing work over -----------------------------------------------------------------
    def _update_stability(self, now: float) -> None:
        for path, pending in list(self._to_index.items()):
            try:
                st = path.stat()
            except FileNotFoundError:
                # Its move or delete event is normally on the way and says which; only if
                # none comes is it treated as deleted.
                pending.signature = None
                if now - pending.last_event >= VANISHED_GRACE_S:
                    self._cancel_pending(path, now, record_delete=True)
                continue
            except OSError as exc:
                log.debug("stat %s: %s", path, exc)
                continue
            signature = (st.st_size, st.st_mtime_ns)
            if signature != pending.signature:
                pending.signature = signature
                pending.stable_since = now

    def _ready(self, pending: _Pending, now: float) -> bool:
        waited = now - pending.first_seen >= MOVE_PAIR_WINDOW_S or not pending.created
        return (waited and pending.signature is not None
                and now - pending.last_event >= self._debounce_s
                and now - pending.stable_since >= self._settle_s)

    def _flush_deletes(self, now: float) -> None:
        """Pair deletes with creates (a move between roots) as soon as both are known; what is
        still unpaired after ``debounce_s`` is forgotten."""
        gone: dict[Path, None] = {}  # ordered and without repeats (file and folder deletes)
        for path, deletion in list(self._deleted.items()):
            due = now - deletion.at >= self._debounce_s
            if deletion.tried and not due:
                continue
            deletion.tried = True
            if self._root_vanished(path):
                del self._deleted[path]  # the whole root went away: offline, not deleted
                continue
            unpaired = [photo.path for photo in self._catalogued(path, deletion.is_dir)
                        if photo.path not in self._moves  # paired as a file already
                        and not self._pair_with_copy(photo, path, deletion.is_dir, now)]
            if due:
                del self._deleted[path]
                gone.update(dict.fromkeys(unpaired))
        if gone:
            forget = list(gone)
            self._call(REMOVED, forget, lambda: self._sink.forget_paths(forget))

    def _pair_with_copy(self, photo: Photo, deleted: Path, is_dir: bool, now: float) -> bool:
        new = self._find_moved_copy(photo, deleted, is_dir)
        if new is None:
            return False
        del self._to_index[new]
        self._moves[photo.path] = (new, now - self._debounce_s)  # due at once
        return True

    def _root_vanished(self, path: Path) -> bool:
        root = self._root_of(path)
        return root is None or not root.is_dir()

    def _catalogued(self, path: Path, is_dir: bool) -> list[Photo]:
        if is_dir:
            return list(self._sink.photos(path))
        photo = self._sink.photo(path)
        return [photo] if photo is not None else []

    def _find_moved_copy(self, photo: Photo, deleted: Path, is_dir: bool) -> Path | None:
        """A just-created file that is ``photo`` moved from another watched root: the same
        size and mtime (a move keeps both), preferably the same name; inside a moved folder,
        the same path relative to it."""
        tail = photo.path.relative_to(deleted.parent).parts if is_dir else (photo.path.name,)
        same = [path for path, pending in self._to_index.items()
                if pending.created and pending.signature == (photo.size, photo.mtime_ns)]
        best = [path for path in same if path.parts[-len(tail):] == tail]
        if best or is_dir:
            return best[0] if best else None
        return same[0] if same else None

    def _flush_moves(self, now: float) -> None:
        due = [(old, new) for old, (new, at) in self._moves.items()
               if now - at >= self._debounce_s]
        for old, new in due:
            del self._moves[old]
            self._hand_over_move(old, new, now)

    def _hand_over_move(self, old: Path, new: Path, now: float) -> None:
        if self._sink.photo(new) is not None:  # moved over another catalogued photo
            self._call(REMOVED, [new], partial(self._sink.forget_paths, [new]))
        moved = self._call(MOVED, [old, new], partial(self._sink.move_path, old, new))
        if moved is False and new.is_file():  # unknown to the library: index it instead
            self._note_changed(new, True, now - MOVE_PAIR_WINDOW_S)

    def _flush_indexing(self, now: float) -> None:
        """Hand over settled photos, in one batch per burst: wait while the burst is still
        arriving (events less than ``debounce_s`` apart), but never longer than a bound."""
        ready = [p for p, pending in self._to_index.items() if self._ready(pending, now)]
        if not ready:
            return
        burst_over = len(ready) == len(self._to_index) and \
            now - self._last_activity >= self._debounce_s
        overdue = now - min(self._to_index[p].first_seen for p in ready) >= self._max_wait_s
        if not (burst_over or overdue or len(ready) >= self._max_batch):
            return
        batch = sorted(ready)[:self._max_batch]
        for path in batch:
            del self._to_index[path]
        self._call(INDEXED, batch, lambda: self._sink.index_paths(batch))

    def _call(self, kind: str, paths: list[Path], work: Callable[[], object]) -> object:
        """Run one sink call; a known failure is logged and the watcher carries on."""
        try:
            result = work()
        except (PhotosimError, OSError) as exc:
            log.warning("%s %s failed: %s", kind, [str(p) for p in paths[:3]], exc)
            return None
        if self._on_change is not None:
            self._on_change(kind, paths)
        return result


def _normalise(root: Path) -> Path:
    return Path(root).expanduser().resolve()


def _photos_under(folder: Path) -> Iterator[Path]:
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(parent) / name
            if is_photo_path(path):
                yield path
