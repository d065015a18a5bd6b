"""SQLite wake-ups across processes: ``PRAGMA data_version`` read on a short timer by a thread.

SQLite has no LISTEN/NOTIFY. ``PRAGMA data_version`` changes on a connection whenever another
connection (of this process or any other) commits to the file, and reading it touches only the
WAL index in shared memory: no lock, no I/O. A thread of the backend's own reads it every
:data:`WATCH_INTERVAL` seconds while a worker or a ``wait()`` waits (never otherwise), and on a
change runs the backend's callback on the event loop, which wakes the waiters.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from typing import Any

    from anyio.lowlevel import EventLoopToken

logger = logging.getLogger("litestar_queues_sql")

WATCH_INTERVAL = 0.003
"""Seconds between two reads of ``PRAGMA data_version`` while someone waits."""


def watched_file(database: str | None, query: dict[str, object]) -> str | None:
    """The file a SQLite URL's database names, or ``None`` for an in-memory database."""
    if not database or database == ":memory:" or query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        return None  # a URI filename: its options (memory, vfs) are not ours to interpret
    return database


class DataVersionWatch:
    """Calls ``on_change`` on the event loop after a commit to ``path`` by any other connection.

    Args:
        path: The SQLite database file.
        on_change: Run on the event loop (awaited) after a change was seen; the next read waits
            for it to return, so changes never pile up.
        interval: Seconds between reads while :meth:`waiting` is entered somewhere.
    """

    def __init__(
        self,
        path: str,
        on_change: Callable[[], Coroutine[Any, Any, None]],
        *,
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self.path = path
        self.interval = interval
        self._on_change = on_change
        self._waiters = 0
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (from the event loop the callback runs on)."""
        token = anyio.lowlevel.current_token()
        self._stopped.clear()
        self._thread = threading.Thread(
            target=self._run, args=(token,), name="litestar-queues-sqlite-watch", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        """Stop the thread and wait for it (at most one read and one callback)."""
        self._stopped.set()
        self._wanted.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await anyio.to_thread.run_sync(thread.join)

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Read the version on the timer for as long as this is entered (by any caller)."""
        self._waiters += 1
        self._wanted.set()
        try:
            yield
        finally:
            self._waiters -= 1
            if not self._waiters:
                self._wanted.clear()

    def _run(self, token: EventLoopToken) -> None:
        try:
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            logger.warning("cannot watch %s for commits (polling instead): %r", self.path, exc)
            return
        try:
            last = self._version(connection)
            while not self._stopped.is_set():
                self._wanted.wait()
                if self._stopped.wait(self.interval):
                    return
                version = self._version(connection)
                if version is None or version == last:
                    continue
                last = version
                try:
                    anyio.from_thread.run(self._on_change, token=token)
                except anyio.RunFinishedError:
                    return  # the event loop is gone
                except Exception as exc:  # a failed wake-up must not end the watch
                    logger.warning("a wake-up after a commit to %s failed: %r", self.path, exc)
        finally:
            connection.close()

    def _version(self, connection: sqlite3.Connection) -> int | None:
        try:
            row = connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:
            logger.debug("PRAGMA data_version failed on %s: %r", self.path, exc)
            return None
        return int(row[0])
