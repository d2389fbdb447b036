"""The SQLite catalog: one connection per thread, WAL, numbered migrations, transactions."""

from __future__ import annotations

import contextlib
import functools
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from photosim.core.catalog.schema import MIGRATIONS
from photosim.core.errors import CatalogError, DamagedCatalogError

CursorMethod = TypeVar("CursorMethod", bound=Callable[..., Any])


class Database:
    """Owns the catalog file. Each thread gets its own connection (sqlite3's own rule).

    ``read_only``: for commands that only read. Every write is refused, nothing is migrated,
    and the files are left as they were (see ``_connect_read_only``)."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._commits = itertools.count(1)  # next() is atomic: safe from any thread
        self._committed = 0
        self._migrate()

    def state(self) -> tuple[int, ...]:
        """A value that changes whenever the catalog does: commits made through this object,
        and the files' sizes and times, which another process's commit changes too. Lets a
        reader keep what it read until then."""
        stamps: list[int] = [self._committed]
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = path.stat()
            except OSError:
                stamps += [-1, -1]
            else:
                stamps += [st.st_size, st.st_mtime_ns]
        return tuple(stamps)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False, factory=_CheckedConnection)
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints
            conn.execute("PRAGMA foreign_keys=ON")
        except CatalogError:
            raise
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"Cannot open the catalog {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write, and that leaves the catalog's files as they were.

        With a ``-wal`` file present (a writer is running, or one crashed), ``mode=ro``: it
        reads the log and never checkpoints it into the catalog. Without one, a read-write
        connection with ``query_only``: ``mode=ro`` would create ``-wal``/``-shm`` and leave
        them behind, while this one removes them on close, with nothing to checkpoint (and
        should a writer start meanwhile, the writer is the last to close, not this)."""
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            if wal.exists():
                conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True,
                                       timeout=30, isolation_level=None,
                                       check_same_thread=False, factory=_CheckedConnection)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False, factory=_CheckedConnection)
            conn.execute("PRAGMA query_only=ON")
        except CatalogError:
            raise
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"Cannot read the catalog {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        if self.read_only:  # a bug: read-only callers skip writes (see Catalog.read_only)
            raise CatalogError(f"The catalog {self.path} is open read-only; this cannot write.")
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
            self._committed = next(self._commits)
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise _as_catalog_error(exc, self.path) from exc
        except BaseException:
            _rollback(conn)
            raise

    def _migrate(self) -> None:
        """Apply missing migrations. Each is checked again inside its write transaction, so
        two processes opening a new catalog at the same moment never apply one twice."""
        conn = self.connection()
        if self._schema_current():
            return  # the common case: read-only, takes no write lock
        if self.read_only:
            self._wait_for_a_writer_migrating()
            return
        with self.transaction():
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for version, script in enumerate(MIGRATIONS, start=1):
            with self.transaction():
                done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                    (version,)).fetchone()
                if done is None:
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))",
                                 (version,))

    def _wait_for_a_writer_migrating(self, patience_s: float = 5.0) -> None:
        """A reader that finds the schema behind may have caught a writer creating or
        upgrading the catalog (migrations commit one at a time): it waits a moment for them,
        and only then calls the catalog old."""
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self._schema_current():
                return
        raise CatalogError(f"The catalog {self.path} was made by an older photosim: run "
                           "'photosim index' once to upgrade it.")

    def _schema_current(self) -> bool:
        conn = self.connection()
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                              "name = 'schema_migrations'").fetchone()
        return bool(exists) and self.schema_version() >= len(MIGRATIONS)

    def schema_version(self) -> int:
        row = self.connection().execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def check(self) -> None:
        """Raise ``CatalogError`` (with what to do) when SQLite's quick check finds damage.
        Reads every page: done before an indexing run and for ``status``, not per query."""
        rows = self.connection().execute("PRAGMA quick_check(5)").fetchall()
        if [tuple(r) for r in rows] != [("ok",)]:
            raise damaged_catalog(self.path, "; ".join(str(r[0]) for r in rows))

    def integrity_ok(self) -> bool:
        row = self.connection().execute("PRAGMA integrity_check").fetchone()
        return bool(row and row[0] == "ok")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def damaged_catalog(path: Path, detail: object) -> CatalogError:
    """What a user with a damaged catalog reads: what happened and what to do (the GUI
    offers to do it: ``Library.set_aside_damaged_catalog``)."""
    summary = f"The catalog {path} is damaged ({detail})."
    return DamagedCatalogError(
        f"{summary} Your photos are not affected. To rebuild it, close photosim and run "
        "'photosim repair --rebuild-catalog' (or start the photosim app, which offers it): the "
        f"damaged files move to a damaged-<time> folder in {path.parent}, nothing is deleted; "
        "then run 'photosim index'. Everything is recomputed from the photos, but 'not a "
        "duplicate' decisions and the trash history are lost. Restore a backup of that folder "
        "instead if you have one.", summary)


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Damage ("malformed", "not a database"), not the caller's mistakes or a busy file:
    SQLite reports it as the plain DatabaseError class (or a corruption message)."""
    text = str(exc).lower()
    return type(exc) is sqlite3.DatabaseError or "malformed" in text or \
        "not a database" in text


def _translate(exc: sqlite3.DatabaseError, path: Path) -> Exception:
    return damaged_catalog(path, exc) if _is_damage(exc) else exc


def _catalog_path(cursor: sqlite3.Cursor) -> Path:
    return Path(getattr(cursor.connection, "catalog_path", "catalog"))


def _damage_checked(method: CursorMethod) -> CursorMethod:
    """``method`` with a damaged catalog's errors raised as ``CatalogError``."""
    @functools.wraps(method)
    def checked(cursor: sqlite3.Cursor, /, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(cursor, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, _catalog_path(cursor)) from exc
    return cast(CursorMethod, checked)


class _CheckedCursor(sqlite3.Cursor):
    """A cursor whose damage errors arrive as ``CatalogError`` (one clear message, never a
    traceback), wherever in the program the query ran; other errors pass unchanged."""

    execute = _damage_checked(sqlite3.Cursor.execute)
    executemany = _damage_checked(sqlite3.Cursor.executemany)
    fetchone = _damage_checked(sqlite3.Cursor.fetchone)
    fetchmany = _damage_checked(sqlite3.Cursor.fetchmany)
    fetchall = _damage_checked(sqlite3.Cursor.fetchall)

    def __next__(self) -> Any:  # written out: it runs once per row, the wrapper costs 15 %
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            raise _translate(exc, _catalog_path(self)) from exc


class _CheckedConnection(sqlite3.Connection):
    """Hands out ``_CheckedCursor``s, also from the ``execute`` shortcuts."""

    catalog_path = "catalog"

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.catalog_path = str(database)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(_CheckedCursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor(_CheckedCursor).executemany(sql, parameters)


def _enable_wal(conn: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch to WAL. Switching needs an exclusive moment that SQLite does not wait for
    (it answers "locked" at once while another process is opening the same new file), so
    retry briefly rather than fail."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _as_catalog_error(exc: sqlite3.OperationalError, path: Path) -> Exception:
    """A full disk or a locked database is the user's to fix, not a bug: say so in words."""
    text = str(exc).lower()
    if "full" in text or "disk i/o" in text:
        return CatalogError(f"Could not write the catalog {path}: the disk is full or failing. "
                            "Everything indexed before this point is kept; free some space and "
                            "run the index again to continue.")
    if "locked" in text or "busy" in text:
        return CatalogError(f"The catalog {path} is busy (another photosim is writing to it); "
                            "try again in a moment.")
    return exc


def _statements(script: str) -> list[str]:
    """Split a migration script on ';' outside of comments (our scripts contain no literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
