"""The SQL backend's plumbing: engine, transactions, notifications, decoding, dead letters."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import BigInteger, Text, column, delete, func, insert, select, values

from litestar_queues.backends.signals import CancelSignals, Latch
from litestar_queues.exceptions import MalformedRecordError, QueueConfigurationError
from litestar_queues.models import TERMINAL_STATUSES, WAITING_STATUSES
from litestar_queues.ports import BackendReach
from litestar_queues_sql._claim import PENDING, unpaused
from litestar_queues_sql._dialects import configure_sqlite, engine_from_url, parse_url
from litestar_queues_sql._errors import unavailable_as_backend_error
from litestar_queues_sql._limits import safe_text
from litestar_queues_sql._notify import WORK, FinishWaiters, PgListener, cancel_payload, finish_payloads
from litestar_queues_sql._records import describe_id, describe_row, row_to_record
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
        self._finished = FinishWaiters()
        self._cancels = CancelSignals()
        self._listener: PgListener | None = None
        self._watch: DataVersionWatch | None = None
        self._work_waiters = 0
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
        if self._engine is None:
            self._engine = engine_from_url(self._url, busy_timeout=self._busy_timeout, **self._engine_options)
        elif self.dialect == "sqlite":
            configure_sqlite(self._engine, busy_timeout=self._busy_timeout)
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
            elif (path := watched_file(self._url.database, dict(self._url.query))) is not None:
                self._watch = DataVersionWatch(path, self._commits_seen)
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

    async def _notify(
        self,
        conn: AsyncConnection,
        *,
        work: bool = False,
        finished: Sequence[UUID] = (),
        cancelled: Sequence[tuple[str, UUID]] = (),
    ) -> None:
        """Wake local waiters, and other processes through NOTIFY on PostgreSQL.

        ``cancelled``: (worker id, task id) of running records cancelled, for their workers.
        """
        payloads = ([WORK] if work else []) + finish_payloads(finished)
        payloads += [cancel_payload(worker_id, task_id) for worker_id, task_id in cancelled]
        if not payloads:
            return
        if self.dialect == "postgresql":
            channel = self.tables.channel
            await conn.execute(select(*(func.pg_notify(channel, p) for p in payloads)))
        if work:
            self._work.fire()
        self._finished.fire(finished)
        for worker_id, task_id in cancelled:
            # on PostgreSQL the notification comes back too: a second report of an id is harmless
            self._cancels.fire(worker_id, (task_id,))

    def _wake_locally(self, records: Sequence[TaskRecord]) -> None:
        if any(r.status in WAITING_STATUSES for r in records):
            self._work.fire()
        self._finished.fire(r.id for r in records if r.status in TERMINAL_STATUSES)

    # -- decoding -------------------------------------------------------------------------------

    async def _decode(self, conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]]) -> list[TaskRecord]:
        """Decode rows read through ``conn``; rows that cannot be decoded are moved aside on it."""
        return [record for _, record in await self._decode_rows(conn, rows)]

    async def _decode_rows(
        self, conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]]
    ) -> list[tuple[int, TaskRecord]]:
        """Decode rows into ``(seq, record)`` pairs; move the rows that cannot be decoded aside.

        The bad rows go to the dead-letter table through ``conn``, the connection (and so the
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
            await self._dead_letter(conn, bad)
        return decoded

    async def _dead_letter(
        self, conn: AsyncConnection, bad: Sequence[tuple[Mapping[Any, Any], MalformedRecordError]]
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
            if self.dialect == "postgresql":
                moved = await self._dead_letter_postgres(conn, entries)
            else:
                moved = await self._dead_letter_sqlite(conn, entries)
        except Exception as exc:
            options = conn.sync_connection.get_execution_options() if conn.sync_connection else {}
            if options.get("isolation_level") != "AUTOCOMMIT":
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

    async def _dead_letter_postgres(
        self, conn: AsyncConnection, entries: Mapping[int, tuple[str, str, str]]
    ) -> list[int]:
        # one statement (atomic even in autocommit): the rows deleted, and only those, recorded
        dead, tasks = self.tables.dead_letters, self.tables.tasks
        gone = delete(tasks).where(tasks.c.seq.in_(list(entries))).returning(tasks.c.seq).cte("gone")
        moved = values(
            column("seq", BigInteger()),
            column("task_id", Text()),
            column("row", Text()),
            column("error", Text()),
            name="moved",
        ).data([(seq, *entry) for seq, entry in entries.items()])
        stmt = (
            insert(dead)
            .from_select(
                ["task_id", "row", "error"],
                select(moved.c.task_id, moved.c.row, moved.c.error).join(gone, gone.c.seq == moved.c.seq),
            )
            .add_cte(gone)
            .returning(dead.c.task_id)
        )
        moved_ids = set((await conn.execute(stmt)).scalars())
        return [seq for seq, (task_id, _, _) in entries.items() if task_id in moved_ids]

    async def _dead_letter_sqlite(
        self, conn: AsyncConnection, entries: Mapping[int, tuple[str, str, str]]
    ) -> list[int]:
        # inside the caller's transaction: both statements commit or roll back together
        dead, tasks = self.tables.dead_letters, self.tables.tasks
        stmt = delete(tasks).where(tasks.c.seq.in_(list(entries))).returning(tasks.c.seq)
        deleted = [seq for seq in (await conn.execute(stmt)).scalars() if seq in entries]
        if deleted:
            rows = [dict(zip(("task_id", "row", "error"), entries[seq], strict=True)) for seq in deleted]
            await conn.execute(insert(dead), rows)
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
