"""The SQL backend's plumbing: engine, transactions, notifications, decoding, dead letters."""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select

from litestar_queues.backends.signals import CancelSignals, FinishSignals, Latch
from litestar_queues.exceptions import BackendUnavailableError, MalformedRecordError, QueueConfigurationError
from litestar_queues.models import TERMINAL_STATUSES, WAITING_STATUSES
from litestar_queues.ports import BackendReach
from litestar_queues_sql._asyncpg import DriverConnections
from litestar_queues_sql._claim import PENDING, unpaused
from litestar_queues_sql._dialects import configure_sqlite, engine_from_url, ensure_wal, parse_url
from litestar_queues_sql._errors import unavailable_as_backend_error
from litestar_queues_sql._finish import notify_statement
from litestar_queues_sql._limits import safe_text
from litestar_queues_sql._notify import WORK, PgListener, cancel_payload, finish_payloads
from litestar_queues_sql._records import dead_letter_statements, describe_id, describe_row, row_to_record
from litestar_queues_sql._run import Runner, SQLRunner
from litestar_queues_sql._sqlite_watch import DataVersionWatch, watched_file
from litestar_queues_sql.schema import ensure_tables, queue_tables

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
    from uuid import UUID

    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from litestar_queues.models import TaskRecord

__all__ = ("SQLBackendBase",)

logger = logging.getLogger("litestar_queues_sql")


class SQLBackendBase:
    """Connections, notifications and decoding shared by the port methods of :class:`SQLQueueBackend`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        table_prefix: str = "lq_",
        schema: str | None = None,
        create_schema: bool = True,
        poll_interval: float | None = None,
        busy_timeout: float = 30.0,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        if (url is None) == (engine is None):
            raise QueueConfigurationError("SQLQueueBackend takes either url or engine")
        self._engine_options = dict(engine_options or {})
        self._busy_timeout = busy_timeout
        self._engine: AsyncEngine | None = engine
        self._owns_engine = engine is None
        if url is not None:
            options = parse_url(
                url,
                table_prefix=table_prefix,
                schema=schema,
                create_schema=create_schema,
                poll_interval=poll_interval,
                busy_timeout=busy_timeout,
            )
            self._url: URL = options.url
            table_prefix, schema = options.table_prefix, options.schema
            create_schema, poll_interval = options.create_schema, options.poll_interval
            self._busy_timeout = options.busy_timeout
        else:
            assert engine is not None
            self._url = engine.url
        self.dialect: str = self._url.get_backend_name()
        self.reach = BackendReach.HOST if self.dialect == "sqlite" else BackendReach.NETWORK
        """Which processes see the records: ``HOST`` for a SQLite file, ``NETWORK`` for PostgreSQL."""
        if self.dialect not in ("postgresql", "sqlite"):
            raise QueueConfigurationError(f"unsupported database {self.dialect!r}: use PostgreSQL or SQLite")
        try:
            self.tables = queue_tables(table_prefix=table_prefix, schema=schema)
        except ValueError as exc:
            raise QueueConfigurationError(str(exc)) from None
        self._create_schema = create_schema
        sqlite = self.dialect == "sqlite"
        self.poll_interval = poll_interval if poll_interval is not None else (0.25 if sqlite else 1.0)
        self._work = Latch()
        self._finished = FinishSignals()
        self._cancels = CancelSignals()
        self._listener: PgListener | None = None
        self._watch: DataVersionWatch | None = None
        self._work_waiters = 0
        self._driver: DriverConnections | None = None
        # when a record a claim held back for want of a token may start (time.monotonic)
        self._token_due: float | None = None
        # the limited queues the last claim under limits met: their finishes wake local workers
        self._limited: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"<SQLQueueBackend {self._url.render_as_string()} prefix={self.tables.table_prefix!r}>"

    @property
    def engine(self) -> AsyncEngine:
        """The engine (created by :meth:`open` when the backend was given a URL)."""
        if self._engine is None:
            raise RuntimeError("the backend is not open")
        return self._engine

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the engine, the tables (unless disabled) and the notification listener.

        Raises:
            BackendUnavailableError: The database cannot be reached (nothing is left open).
        """
        sqlite_file = (
            watched_file(self._url.database, dict(self._url.query)) if self.dialect == "sqlite" else None
        )
        if sqlite_file is not None:
            # before any connection of the engine: see ensure_wal (another process may open it too)
            try:
                await anyio.to_thread.run_sync(
                    functools.partial(ensure_wal, sqlite_file, busy_timeout=self._busy_timeout)
                )
            except sqlite3.Error as exc:
                reason = f"{type(exc).__name__}: {exc}"
                raise BackendUnavailableError(f"the queue database is unavailable (open): {reason}") from exc
        if self._engine is None:
            self._engine = engine_from_url(self._url, busy_timeout=self._busy_timeout, **self._engine_options)
        elif self.dialect == "sqlite":
            configure_sqlite(self._engine, busy_timeout=self._busy_timeout)
        if self._engine.dialect.driver == "asyncpg":  # the hot path runs on asyncpg's own connection
            self._driver = DriverConnections(self._engine)
        try:
            if self._create_schema:
                async with self._transaction("create schema") as conn:
                    await ensure_tables(conn, self.tables)
            if self.dialect == "postgresql":
                dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._listener = PgListener(
                    dsn,
                    self.tables.channel,
                    on_work=self._work.fire,
                    on_finish=self._finished.fire,
                    on_cancel=self._cancels.fire,
                    on_reset=self._reset,
                )
                await self._listener.ensure()
            elif sqlite_file is not None:
                self._watch = DataVersionWatch(sqlite_file, self._commits_seen)
                self._watch.start()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, wake every waiter and dispose of the engine if the backend made it."""
        if self._listener is not None:
            await self._listener.close()
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None
        self._reset()
        self._driver = None
        if self._owns_engine and self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _reset(self) -> None:
        self._work.fire()
        self._finished.fire_all()

    @contextlib.asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction (SQLite: ``BEGIN IMMEDIATE`` at the first write).

        On SQLite the transaction is shielded from the caller's cancellation (a worker stopping
        its loops, a request timing out), which takes effect when it has ended: a connection
        interrupted mid-statement is terminated by SQLAlchemy, and aiosqlite's terminate stops
        its thread without closing the database connection, whose write lock would then outlive
        it until garbage collection. SQLite's busy timeout bounds the wait. (On PostgreSQL a
        terminated connection is closed and the server rolls its transaction back.)
        """
        shield = anyio.CancelScope(shield=self.dialect == "sqlite")
        with unavailable_as_backend_error(what), shield:
            async with self.engine.connect() as conn, conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def _statement(self, what: str) -> AsyncIterator[AsyncConnection]:
        """A connection for one atomic statement (PostgreSQL: autocommit, one round trip)."""
        if self.dialect == "sqlite":
            async with self._transaction(what) as conn:
                yield conn
            return
        with unavailable_as_backend_error(what):
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn

    @contextlib.asynccontextmanager
    async def _running(self, what: str, *, transaction: bool = False) -> AsyncIterator[Runner]:
        """A :class:`Runner` for one atomic statement (PostgreSQL: autocommit, one round trip).

        With ``transaction``, for several statements in one transaction. On asyncpg the
        statements run on the driver's connection (see :mod:`litestar_queues_sql._asyncpg`),
        else through SQLAlchemy (:meth:`_statement`, :meth:`_transaction`).
        """
        if self._driver is not None:
            with unavailable_as_backend_error(what):
                async with self._driver.runner(transaction=transaction) as run:
                    yield run
            return
        opened = self._transaction(what) if transaction else self._statement(what)
        async with opened as conn:
            yield SQLRunner(conn)

    async def _notify(
        self,
        run: Runner,
        *,
        work: bool = False,
        finished: Sequence[UUID] = (),
        cancelled: Sequence[tuple[str, UUID]] = (),
    ) -> None:
        """Wake local waiters, and other processes through NOTIFY on PostgreSQL.

        ``finished``: ids of records finished (or deleted), for other processes' waiters; the
        caller hands the records to this process's waiters (``self._finished``) once committed.
        ``cancelled``: (worker id, task id) of running records cancelled, for their workers.
        """
        payloads = ([WORK] if work else []) + finish_payloads(finished)
        payloads += [cancel_payload(worker_id, task_id) for worker_id, task_id in cancelled]
        if not payloads:
            return
        if self.dialect == "postgresql":
            await run.rows(notify_statement(self.tables.channel), {"p_payloads": payloads})
        if work:
            self._work.fire()
        for worker_id, task_id in cancelled:
            # on PostgreSQL the notification comes back too: a second report of an id is harmless
            self._cancels.fire(worker_id, (task_id,))

    def _wake_locally(self, records: Sequence[TaskRecord]) -> None:
        if any(r.status in WAITING_STATUSES for r in records):
            self._work.fire()

    # -- decoding -------------------------------------------------------------------------------

    async def _decode(self, run: Runner, rows: Sequence[Mapping[Any, Any]]) -> list[TaskRecord]:
        """Decode rows read through ``run``; rows that cannot be decoded are moved aside on it."""
        return [record for _, record in await self._decode_rows(run, rows)]

    async def _decode_rows(
        self, run: Runner, rows: Sequence[Mapping[Any, Any]]
    ) -> list[tuple[int, TaskRecord]]:
        """Decode rows into ``(seq, record)`` pairs; move the rows that cannot be decoded aside.

        The bad rows go to the dead-letter table through ``run``, the connection (and so the
        transaction) that read them: a second connection would wait for the locks this one
        holds (SQLite's write lock, PostgreSQL's row locks) and hang.
        """
        decoded: list[tuple[int, TaskRecord]] = []
        bad: list[tuple[Mapping[Any, Any], MalformedRecordError]] = []
        for row in rows:
            try:
                decoded.append((row["seq"], row_to_record(row)))
            except MalformedRecordError as exc:
                bad.append((row, exc))
        if bad:
            await self._dead_letter(run, bad)
        return decoded

    async def _dead_letter(
        self, run: Runner, bad: Sequence[tuple[Mapping[Any, Any], MalformedRecordError]]
    ) -> None:
        """Move rows to the dead-letter table in one step: a row is deleted and recorded, or neither.

        On a PostgreSQL connection in autocommit mode (claims, finishes, reads) the change of the
        statement that returned the rows is committed already: if moving them fails, the failure
        is logged and the decoded records are still returned (the rows stay, and the next read
        that meets them tries again). Inside a transaction the failure is raised, so the whole
        transaction rolls back consistently.
        """
        entries = {
            row["seq"]: (describe_id(row.get("id")), describe_row(row), safe_text(str(error)))
            for row, error in bad
        }
        try:
            moved = await self._move_aside(run, entries)
        except Exception as exc:
            if not run.autocommit:
                raise
            logger.error(
                "%d task rows cannot be decoded and could not be moved to %s (tried again at the "
                "next read): %r",
                len(entries),
                self.tables.dead_letters.name,
                exc,
            )
            return
        for seq in moved:
            task_id, _, error = entries[seq]
            logger.error(
                "task row %s (id %s) cannot be decoded and was moved to %s: %s",
                seq,
                task_id,
                self.tables.dead_letters.name,
                error,
            )

    async def _move_aside(self, run: Runner, entries: Mapping[int, tuple[str, str, str]]) -> list[int]:
        """Delete the rows ``entries`` names and record them; return the ``seq`` of those moved."""
        first, then = dead_letter_statements(self.tables.tasks, self.tables.dead_letters, self.dialect)
        if then is None:  # PostgreSQL: one statement
            task_ids, described, errors = zip(*entries.values(), strict=True)
            params = {
                "p_seqs": list(entries),
                "p_moved_seqs": list(entries),
                "p_task_ids": list(task_ids),
                "p_rows": list(described),
                "p_errors": list(errors),
            }
            moved_ids = {row["task_id"] for row in await run.rows(first, params)}
            return [seq for seq, (task_id, _, _) in entries.items() if task_id in moved_ids]
        # SQLite, inside the caller's transaction: both statements commit or roll back together
        deleted = [row["seq"] for row in await run.rows(first, {"p_seqs": list(entries)})]
        deleted = [seq for seq in deleted if seq in entries]
        if deleted:
            moved = [dict(zip(("task_id", "row", "error"), entries[seq], strict=True)) for seq in deleted]
            await run.rows(then, moved)
        return deleted

    # -- wake-up plumbing ------------------------------------------------------------------------

    async def _listening(self) -> bool:
        return self._listener is not None and await self._listener.ensure()

    def _waiting(self) -> contextlib.AbstractContextManager[None]:
        """While entered, commits by other processes to a SQLite file wake the waits."""
        return self._watch.waiting() if self._watch is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _waiting_for_work(self) -> Iterator[None]:
        self._work_waiters += 1
        try:
            with self._waiting():
                yield
        finally:
            self._work_waiters -= 1

    async def _commits_seen(self) -> None:
        """Another connection committed to the SQLite file: wake the waits it may concern.

        Waiting workers wake when a claimable record is there; the waits of the tasks it
        finished are found with one query for every waited-on task, not one read per waiter.
        """
        tasks = self.tables.tasks
        if self._work_waiters:
            # a worker woken for nothing would claim in a write transaction: look first (a read)
            pending = select(tasks.c.id).where(
                tasks.c.status == PENDING, unpaused(tasks, self.tables.paused_queues)
            )
            async with self._statement("pending work") as conn:
                if (await conn.execute(pending.limit(1))).first() is not None:
                    self._work.fire()
        waited = self._finished.waited()
        if not waited:
            return
        finished: list[UUID] = []
        for start in range(0, len(waited), 500):
            chunk = waited[start : start + 500]
            stmt = select(tasks.c.id).where(
                tasks.c.id.in_(chunk), tasks.c.status.in_(sorted(TERMINAL_STATUSES))
            )
            async with self._statement("finished of waited tasks") as conn:
                finished += [row[0] for row in (await conn.execute(stmt)).all()]
        self._finished.fire(finished)
