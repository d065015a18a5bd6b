"""The SQL queue backend: PostgreSQL (asyncpg, psycopg) and SQLite (aiosqlite) on SQLAlchemy Core."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from litestar_queues.exceptions import BackendUnavailableError, MalformedRecordError, QueueConfigurationError
from litestar_queues.models import TERMINAL_STATUSES, WAITING_STATUSES, EnqueueResult
from litestar_queues_sql import _enqueue, _finish, _operator, _query, _queue_limits, _schedules, _state
from litestar_queues_sql._asyncpg import DriverRunner
from litestar_queues_sql._base import SQLBackendBase
from litestar_queues_sql._claim import (
    RUNNING,
    claim_one_statement,
    claim_params,
    claim_statement,
    limited_statement,
)
from litestar_queues_sql._errors import enqueue_errors, error_code
from litestar_queues_sql._limits import check_claim, check_names, check_records
from litestar_queues_sql._records import (
    describe_id,
    get_statement,
    read_id,
    record_columns,
    record_to_row,
    text_label,
)
from litestar_queues_sql._run import Runner, SQLRunner

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from uuid import UUID

    from sqlalchemy import Row

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import Outcome, RecordQuery, ScheduleState, TaskRecord, WorkerInfo

__all__ = ("SQLQueueBackend",)

logger = logging.getLogger("litestar_queues_sql")

_CHUNK = 500
_SHIELD = 30.0
_REREADS = 3
# a unique index refused a write: SQLSTATE 23505 (PostgreSQL), SQLITE_CONSTRAINT_UNIQUE
_UNIQUE_VIOLATIONS = ("23505", "SQLITE_CONSTRAINT_UNIQUE")


class SQLQueueBackend(SQLBackendBase):
    """Stores task records in PostgreSQL or SQLite through SQLAlchemy's async Core.

    Give either a URL or an existing ``AsyncEngine``. URLs: ``postgresql://`` (asyncpg),
    ``postgresql+psycopg://``, ``sqlite:///path/queue.db`` (aiosqlite). The query parameters
    ``table_prefix``, ``schema``, ``create_schema``, ``poll_interval`` and ``busy_timeout`` set the
    keyword options below; the rest go to the driver.

    Args:
        url: Database URL.
        engine: An existing engine (not disposed by :meth:`close`). For SQLite, WAL mode, a busy
            timeout and ``BEGIN IMMEDIATE`` transactions are installed on it.
        table_prefix: Prefix of the queue's table names (several queues may share a database).
        schema: PostgreSQL schema of the tables (``None``: the default search path).
        create_schema: Create missing tables and indexes on :meth:`open` (idempotent).
        poll_interval: Seconds between checks for work or finished tasks made by other
            processes when no notification can arrive (default 1 s on PostgreSQL, used only
            while LISTEN is down; 0.25 s on SQLite).
        busy_timeout: SQLite: seconds to wait for the write lock.
        engine_options: Extra keyword arguments of ``create_async_engine`` (URL only).
    """

    # -- enqueue --------------------------------------------------------------------------------

    async def enqueue(self, records: Sequence[TaskRecord]) -> list[EnqueueResult]:
        """Store new records atomically; a held dedup key returns its active holder.

        On PostgreSQL with asyncpg one record is one autocommit statement (one round trip,
        which also notifies the workers); several records, or one whose key or id is held, are
        stored in one transaction (a batch without dedup keys with ``COPY``).

        Raises:
            QueueConfigurationError: An option is out of the database's range (priority,
                retries, a queue name or key too long or holding a NUL on PostgreSQL), or the
                database refused the records. Nothing is stored.
            SerializationError: The arguments or metadata hold what the database cannot store
                (a NUL character on PostgreSQL). Nothing is stored.
            PayloadTooLargeError: A value is larger than the database can hold.
            BackendUnavailableError: The database cannot be reached.
        """
        if not records:
            return []
        rows = self._rows(records)
        with enqueue_errors(self._database, len(records)):
            if len(records) == 1 and self._driver is not None:
                # one autocommit statement (a refused row, its key or id held, goes the long
                # way). Only on asyncpg: a statement cancelled while it waits for a lock is
                # cancelled on the server too, never committed later (psycopg's cancellation
                # can be interrupted, so there the record is written in a transaction)
                async with self._running("enqueue") as run:
                    if await self._insert(run, rows):
                        self._work.fire()
                        return [EnqueueResult(record=records[0], created=True)]
            elif self._driver is not None and all(r.key is None for r in records) and await self._copy(rows):
                return [EnqueueResult(record=r, created=True) for r in records]
            async with self._running("enqueue", transaction=True) as run:
                return await self._enqueue_on(run, records, rows)

    async def enqueue_in(
        self, connection: AsyncConnection | AsyncSession, records: Sequence[TaskRecord]
    ) -> list[EnqueueResult]:
        """Store records inside the caller's open transaction: they commit or roll back with it.

        Args:
            connection: An ``AsyncConnection`` or ``AsyncSession`` on this backend's database,
                in a transaction the caller commits. The tables must exist.
            records: Records built by :meth:`QueueService.build_record
                <litestar_queues.QueueService.build_record>`.

        Returns:
            One result per record. On PostgreSQL, workers are notified when the transaction
            commits; nothing is visible (or notified) if it rolls back.

        Raises:
            QueueConfigurationError: As :meth:`enqueue`; the limits are checked before any
                statement, so the caller's transaction stays usable.
            SerializationError: As :meth:`enqueue`.
        """
        conn = await connection.connection() if isinstance(connection, AsyncSession) else connection
        if not records:
            return []
        rows = self._rows(records)
        with enqueue_errors(self._database, len(records)):
            return await self._enqueue_on(SQLRunner(conn), records, rows)

    @property
    def _database(self) -> str:
        return "PostgreSQL" if self.dialect == "postgresql" else "SQLite"

    def _rows(self, records: Sequence[TaskRecord]) -> list[dict[str, Any]]:
        """The rows of ``records``, once checked against the database's limits (nothing written yet)."""
        # SQLite: new records have no history, and the column's default, [], is theirs (one
        # value less a row); PostgreSQL inserts every column from its arrays
        history = self.dialect == "postgresql" or any(r.history for r in records)
        rows = [record_to_row(r, history=history) for r in records]
        check_records(records, rows, self.dialect)
        return rows

    async def _insert(self, run: Runner, rows: Sequence[Mapping[str, Any]]) -> set[UUID]:
        """Insert ``rows``; return the ids of those stored (the others' key or id is held)."""
        tasks = self.tables.tasks
        if len(rows) == 1 and self.dialect == "postgresql":
            stmt = _enqueue.insert_one_statement(tasks, self.tables.channel)
        else:
            stmt = _enqueue.insert_statement(tasks, self.dialect, self.tables.channel)
        params = _enqueue.insert_params(tasks, self.dialect, rows)
        return {read_id(row["id"]) for row in await run.rows(stmt, params)}

    async def _copy(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Store a batch without dedup keys with ``COPY`` (asyncpg), in one transaction with its NOTIFY.

        ``COPY`` costs the server about two thirds of what ``INSERT ... SELECT`` costs per row,
        but cannot skip a row a unique index refuses. Without keys only an id stored already is
        refused (the same records enqueued again): the whole ``COPY`` then rolls back, and this
        returns ``False`` for the ``INSERT`` path, which stores the others and finds that holder.
        """
        try:
            async with self._running("enqueue", transaction=True) as run:
                assert isinstance(run, DriverRunner)
                await run.copy(self.tables.tasks, rows, _enqueue.inserted_columns(self.tables.tasks))
                await self._notify(run, work=True)
        except Exception as exc:
            if error_code(exc) not in _UNIQUE_VIOLATIONS:
                raise
            return False
        return True

    async def _enqueue_on(
        self, run: Runner, records: Sequence[TaskRecord], all_rows: Sequence[Mapping[str, Any]]
    ) -> list[EnqueueResult]:
        results: list[EnqueueResult | None] = [None] * len(records)
        todo = list(range(len(records)))
        for _ in range(5):
            inserted = await self._insert(run, [all_rows[i] for i in todo])
            rejected = []
            for i in todo:
                if records[i].id in inserted:
                    results[i] = EnqueueResult(record=records[i], created=True)
                else:
                    rejected.append(i)
            todo = await self._resolve_conflicts(run, records, rejected, results)
            if not todo:
                break
        else:  # pragma: no cover - a key churned five times during one enqueue
            raise QueueConfigurationError("dedup key holders kept changing during enqueue; try again")
        if self.dialect == "postgresql":  # other processes are notified by the insert itself
            self._work.fire()
        else:
            await self._notify(run, work=True)
        return [r for r in results if r is not None]

    async def _resolve_conflicts(
        self,
        run: Runner,
        records: Sequence[TaskRecord],
        rejected: list[int],
        results: list[EnqueueResult | None],
    ) -> list[int]:
        """Fill results of rejected records with the holder; return those to insert again."""
        if not rejected:
            return []
        tasks = self.tables.tasks
        keys = list({records[i].key for i in rejected if records[i].key is not None})
        ids = list({records[i].id for i in rejected})
        holders: dict[Any, TaskRecord] = {}
        # a holder that cannot be decoded is moved aside here, in this transaction: the record
        # is then inserted on the next round (another connection would wait for our locks)
        by_key = _enqueue.holders_by_key_statement(tasks, self.dialect)
        for start in range(0, len(keys), _CHUNK):
            rows = await run.rows(by_key, {"p_keys": keys[start : start + _CHUNK]})
            holders.update((r.key, r) for r in await self._decode(run, rows))
        by_id = _enqueue.holders_by_id_statement(tasks, self.dialect)
        for start in range(0, len(ids), _CHUNK):
            rows = await run.rows(by_id, {"p_ids": ids[start : start + _CHUNK]})
            holders.update((r.id, r) for r in await self._decode(run, rows))
        retry: list[int] = []
        for i in rejected:
            record = records[i]
            holder = holders.get(record.id) or (holders.get(record.key) if record.key is not None else None)
            if holder is None:
                retry.append(i)
            else:
                results[i] = EnqueueResult(record=holder, created=False)
        return retry

    # -- claims and outcomes --------------------------------------------------------------------

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> list[TaskRecord]:
        """Claim up to ``limit`` due records, highest priority first, then FIFO, within the limits.

        One statement when no queue asked for has a limit; otherwise it claims nothing, and the
        claim runs under the limits in one transaction (:mod:`litestar_queues_sql._queue_limits`):
        on SQLite in the statement's own write transaction, on PostgreSQL in the next one.
        """
        if limit <= 0 or (queues is not None and not queues):
            return []
        check_claim(queues, worker_id, self.dialect)
        tables = self.tables
        count = None if queues is None else len(queues)
        stmt = claim_statement(tables.tasks, tables.paused_queues, tables.limits, self.dialect, queues=count)
        params = claim_params(queues, worker_id=worker_id, limit=limit, now=now, lease_until=lease_until)

        async def under_limits(conn: AsyncConnection) -> list[Any]:
            rows, wait, self._limited = await _queue_limits.claim_limited(
                conn,
                tables,
                queues=queues,
                worker_id=worker_id,
                limit=limit,
                now=now,
                lease_until=lease_until,
            )
            self._note_token_wait(wait)
            return rows

        limited = False
        async with self._running("claim") as run:
            rows = await run.rows(stmt, params)
            if not rows and isinstance(run, SQLRunner) and self.dialect == "sqlite":
                rows = await under_limits(run.conn)  # a limit may apply: same write transaction
            elif not rows:  # PostgreSQL: one probe on this connection, a transaction only if limited
                limited = bool(await run.rows(limited_statement(tables.limits, queues=count), params))
                if not limited:
                    self._limited = frozenset()
                    self._note_token_wait(None)
            # decoded (and bad rows moved aside) before the SQLite transaction commits: a row
            # that fails here cannot leave the claimed ones running with nobody holding them
            decoded = await self._decode_rows(run, rows)
        if limited:  # PostgreSQL: claim under the limits, in a transaction of its own
            async with self._transaction("claim under limits") as conn:
                rows = await under_limits(conn)
                decoded = await self._decode_rows(SQLRunner(conn), rows)
        decoded.sort(key=lambda pair: (-pair[1].priority, pair[0]))
        return [record for _, record in decoded]

    def _note_token_wait(self, wait: float | None) -> None:
        """After a claim: when a record held back for want of a token may start (``wait_for_work``)."""
        self._token_due = None if wait is None else time.monotonic() + wait

    async def claim_task(
        self, task_id: UUID, *, worker_id: str, now: datetime, lease_until: datetime
    ) -> TaskRecord | None:
        """Claim one pending or scheduled record by id, due or not, within its queue's limit."""
        tables = self.tables
        check_claim(None, worker_id, self.dialect)
        params = {"p_id": task_id, "p_now": now, "p_until": lease_until, "p_worker": worker_id}

        async def under_limit(conn: AsyncConnection) -> list[Any]:
            rows, wait, unlimited = await _queue_limits.claim_one_limited(
                conn, tables, task_id, worker_id=worker_id, now=now, lease_until=lease_until
            )
            self._note_token_wait(wait)
            if unlimited:  # its queue's limit was removed meanwhile
                plain = claim_one_statement(tables.tasks, None, self.dialect)
                rows = list((await conn.execute(plain, params)).mappings().all())
            return rows

        stmt = claim_one_statement(tables.tasks, tables.limits, self.dialect)
        async with self._running("claim task") as run:
            rows = list(await run.rows(stmt, params))
            if not rows and isinstance(run, SQLRunner) and self.dialect == "sqlite":
                rows = await under_limit(run.conn)
            records = await self._decode(run, rows)
        if not rows and self.dialect == "postgresql":
            async with self._transaction("claim task under its limit") as conn:
                rows = await under_limit(conn)
                records = await self._decode(SQLRunner(conn), rows)
        return records[0] if records else None

    async def extend_leases(self, leases: Sequence[tuple[UUID, str]], *, until: datetime) -> set[UUID]:
        """Move the held leases' expiry to ``until`` in one statement; return the lost ones.

        A lease is lost when its record no longer runs under that lease id, also when the same
        record runs under a newer lease (it was requeued or reclaimed and claimed again).
        """
        if not leases:
            return set()
        tasks = self.tables.tasks
        held: set[tuple[UUID, str]] = set()
        if self.dialect == "postgresql":  # one statement: the pairs travel as two arrays
            params = {
                "p_ids": [t for t, _ in leases],
                "p_leases": [lease for _, lease in leases],
                "p_until": until,
            }
            async with self._running("extend leases") as run:
                rows = await run.rows(_finish.extend_statement(tasks), params)
            held.update((read_id(row["id"]), row["lease_id"]) for row in rows)
            return {task_id for task_id, lease in leases if (task_id, lease) not in held}
        async with self._statement("extend leases") as conn:
            for start in range(0, len(leases), _CHUNK):
                pairs = [(task_id, lease) for task_id, lease in leases[start : start + _CHUNK]]
                stmt = (
                    tasks.update()
                    .where(tuple_(tasks.c.id, tasks.c.lease_id).in_(pairs), tasks.c.status == RUNNING)
                    .values(lease_expires_at=until)
                    .returning(tasks.c.id, tasks.c.lease_id)
                )
                held.update((task_id, lease) for task_id, lease in (await conn.execute(stmt)).all())
        return {task_id for task_id, lease in leases if (task_id, lease) not in held}

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        """Apply outcomes, each only under its lease (PostgreSQL: one statement per batch).

        The write is shielded from cancellation (for up to ``_SHIELD`` seconds): a worker that is
        being shut down while it reports outcomes does not leave them half-applied. Error texts
        are stored with NUL characters and unpaired surrogates replaced; on PostgreSQL a result
        holding a NUL character cannot be stored, and its task fails with an error saying so
        (the rest of the batch is applied as reported). A row that cannot be decoded is moved
        aside and its outcome returns ``None``, as for a lost lease.
        """
        if not outcomes:
            return []
        applied: list[TaskRecord | None] | None = None
        with anyio.CancelScope(shield=True, deadline=anyio.current_time() + _SHIELD):
            applied = await self._finish(outcomes, now)
        if applied is None:
            raise BackendUnavailableError(f"finish did not complete within {_SHIELD} s")
        return applied

    async def _finish(self, outcomes: Sequence[Outcome], now: datetime) -> list[TaskRecord | None]:
        tasks = self.tables.tasks
        applied: list[TaskRecord | None] = [None] * len(outcomes)
        async with self._running("finish") as run:
            for batch in _finish.rounds(outcomes):
                if self.dialect == "postgresql":
                    stmt = _finish.finish_many_statement(tasks, self.tables.limits, self.tables.channel)
                    params = _finish.finish_many_params([outcomes[i] for i in batch], now)
                else:
                    stmt = _finish.finish_json_statement(tasks)
                    params = _finish.finish_json_params([outcomes[i] for i in batch], now)
                by_id = {r.id: r for r in await self._decode(run, await run.rows(stmt, params))}
                for i in batch:
                    applied[i] = by_id.get(outcomes[i].task_id)
            done = [r for r in applied if r is not None]
            if self.dialect == "sqlite":
                await self._notify(
                    run,
                    # work again, or a slot of a limited queue free (as last seen by a claim here)
                    work=any(r.status in WAITING_STATUSES or r.queue in self._limited for r in done),
                    finished=[r.id for r in done if r.status in TERMINAL_STATUSES],
                )
            else:  # other processes were notified by the statement itself
                self._wake_locally(done)
        self._finished.deliver(done)  # committed: the records go to this process's waiters
        return applied

    async def reclaim_expired(self, *, now: datetime) -> list[TaskRecord]:
        """Return running records whose lease expired before ``now`` to the queue, or fail them."""
        rows: list[Mapping[Any, Any]] = []
        async with self._transaction("reclaim expired leases") as conn:
            for stmt in _finish.reclaim_statements(self.tables.tasks, self.dialect, now):
                rows.extend((await conn.execute(stmt)).mappings().all())
            changed = await self._decode(SQLRunner(conn), rows)
            if changed:
                await self._notify(
                    SQLRunner(conn),
                    work=True,  # pending again, or (failed) a slot of its queue free
                    finished=[r.id for r in changed if r.status == "failed"],
                )
        self._finished.deliver(changed)
        return changed

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Cancel an active record; a terminal record is returned unchanged.

        Raises:
            MalformedRecordError: The stored row cannot be decoded (it is moved aside).
        """
        tasks = self.tables.tasks
        async with self._transaction("cancel") as conn:
            # who runs it, if anyone: its worker is told (wait_for_cancel), not only its heartbeat
            holder = select(tasks.c.worker_id).where(tasks.c.id == task_id, tasks.c.status == "running")
            if self.dialect == "postgresql":
                holder = holder.with_for_update()
            worker_id = (await conn.execute(holder)).scalar_one_or_none()
            stmt = _finish.cancel_statement(tasks, self.dialect, task_id, now)
            rows = (await conn.execute(stmt)).mappings().all()
            records = await self._decode(SQLRunner(conn), rows)
            if records:
                cancelled = [(text_label(worker_id), task_id)] if worker_id is not None else []
                # a running record's slot is free: workers a limit held back claim again
                await self._notify(
                    SQLRunner(conn), work=bool(cancelled), finished=[task_id], cancelled=cancelled
                )
        if records:
            self._finished.deliver(records)
            return records[0]
        if rows:
            raise self._moved(task_id)
        return await self.get(task_id)

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Put a failed or cancelled record back to pending: one statement, the key checked in it.

        ``runs``, ``error`` and ``history`` are kept; ``attempts`` and ``reclaims`` restart at 0.
        A record in any other status, or whose dedup key another active record holds, is
        returned unchanged, also when such a record is enqueued concurrently (PostgreSQL: the
        key's unique index refuses the update, which is then a no-op).

        Raises:
            MalformedRecordError: The stored row cannot be decoded (it is moved aside).
        """
        stmt = _query.requeue_statement(self.tables.tasks, self.dialect, self.tables.channel)
        params = {"p_id": task_id, "p_now": now}
        try:
            async with self._statement("requeue") as conn:
                rows = (await conn.execute(stmt, params)).mappings().all()
                records = await self._decode(SQLRunner(conn), rows)
                if records:
                    if self.dialect == "postgresql":  # notified by the statement itself
                        self._work.fire()
                    else:
                        await self._notify(SQLRunner(conn), work=True)
        except IntegrityError as exc:
            if error_code(exc) not in _UNIQUE_VIOLATIONS:
                raise
            # an enqueue of the same key committed between the check and the update
            return await self.get(task_id)
        if records:
            return records[0]
        if rows:
            raise self._moved(task_id)
        return await self.get(task_id)

    # -- delete, pause, turns ---------------------------------------------------------------------

    async def delete(self, query: RecordQuery) -> list[UUID]:
        """Delete the records ``query`` lists, except running ones, in one statement.

        The page is chosen by the listing's own subquery (the same indexes, the same rows);
        the statement deletes those not running at that moment (see
        :func:`litestar_queues_sql._query.delete_statement`). A deleted active record frees its
        dedup key at once (the key's index holds active rows only); waiters of a deleted
        pending or scheduled record are woken (they then find no record). A row whose id cannot
        be read (a damaged SQLite row) is deleted too but not returned.

        Returns:
            The ids deleted, in the query's order.
        """
        stmt, params = _query.delete_statement(self.tables.tasks, self.dialect, query)
        if stmt is None:
            return []
        async with self._statement("delete") as conn:
            rows = (await conn.execute(stmt, params)).all()
            deleted = self._deleted_ids(_query.listing_order(rows, newest_first=query.newest_first))
            waiting = [task_id for task_id, status in deleted if status in WAITING_STATUSES]
            if waiting:
                await self._notify(SQLRunner(conn), finished=waiting)
        self._finished.fire(waiting)  # they find no record
        return [task_id for task_id, _ in deleted]

    def _deleted_ids(self, rows: Sequence[Row[Any]]) -> list[tuple[UUID, str]]:
        deleted = []
        for row in rows:
            try:
                deleted.append((read_id(row.id), row.status))
            except ValueError:
                logger.warning("deleted a task row whose id cannot be read: %s", describe_id(row.id))
        return deleted

    async def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause ``queue`` (a row in the paused-queues table) or resume it and wake its workers.

        Every claim that starts after this returns reads the change in its own statement.
        Resuming sends the work notification (PostgreSQL: to every process, from the statement
        itself) only when the queue was paused.

        Raises:
            QueueConfigurationError: The name cannot be stored (see the Limits docs).
        """
        check_names(self.dialect, queue=queue)
        table = self.tables.paused_queues
        params = {"p_queue": queue}
        if paused:
            async with self._statement("pause") as conn:
                await conn.execute(_state.pause_statement(table, self.dialect), params)
            return
        async with self._statement("resume") as conn:
            stmt = _state.resume_statement(table, self.dialect, self.tables.channel)
            resumed = (await conn.execute(stmt, params)).first() is not None
            if resumed and self.dialect == "sqlite":
                await self._notify(SQLRunner(conn), work=True)
        if resumed:
            self._work.fire()

    async def paused_queues(self) -> set[str]:
        """The names of the queues paused now (as every process sees them)."""
        table = self.tables.paused_queues
        async with self._statement("paused queues") as conn:
            names = (await conn.execute(select(table.c.queue))).scalars().all()
        return {text_label(name) for name in names}

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store, replace or remove the limit of ``queue`` (a row of the limits table), in one statement.

        An upsert keeps the queue's token bucket while it keeps a rate; a removal deletes the
        row. Either wakes waiting workers (PostgreSQL: every process, from the statement's
        ``RETURNING``). Every claim that starts after this returns applies it.

        Raises:
            QueueConfigurationError: The name cannot be stored (see the Limits docs).
        """
        check_names(self.dialect, queue=queue)
        table, channel = self.tables.limits, self.tables.channel
        if limit is None:
            stmt, params = _queue_limits.remove_statement(table, self.dialect, channel), {"p_queue": queue}
        else:
            stmt = _queue_limits.set_statement(table, self.dialect, channel)
            params = _queue_limits.limit_params(queue, limit)
        async with self._statement("set limit") as conn:
            await conn.execute(stmt, params)
            if self.dialect == "sqlite":
                await self._notify(SQLRunner(conn), work=True)
        self._work.fire()

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limit of every queue that has one.

        Raises:
            QueueLimitError: A stored row holds no valid limit (written behind the backend's back).
        """
        async with self._statement("limits") as conn:
            stored = await _queue_limits.read_limits(conn, self.tables.limits, None)
        return {queue: limit for queue, (limit, _) in stored.items()}

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take ``duty`` until ``until`` when it is free, its turn ended, or ``holder`` holds it.

        One upsert (see :mod:`litestar_queues_sql._state`): atomic across connections and
        processes, so two holders never both hold a live turn.

        Raises:
            QueueConfigurationError: A name cannot be stored (see the Limits docs).
        """
        check_names(self.dialect, duty=duty, holder=holder)
        stmt = _state.turn_statement(self.tables.duties, self.dialect)
        params = {"p_duty": duty, "p_holder": holder, "p_now": now, "p_until": until}
        async with self._statement("take turn") as conn:
            return (await conn.execute(stmt, params)).first() is not None

    # -- operators' reads: presences, finished counts -----------------------------------------------

    async def record_worker(self, info: WorkerInfo) -> None:
        """Upsert the worker's presence, then delete other presences that expired by ``info.seen_at``.

        Two statements (see :mod:`litestar_queues_sql._operator`); on PostgreSQL each commits on
        its own and the delete skips rows other connections hold, so beats never wait for each
        other.

        Raises:
            QueueConfigurationError: A name cannot be stored (see the Limits docs).
        """
        params = _operator.worker_params(info, self.dialect)
        workers = self.tables.workers
        async with self._statement("record worker") as conn:
            await conn.execute(_operator.record_statement(workers, self.dialect), params)
            expired = {"p_worker": info.worker_id, "p_seen_at": info.seen_at}
            await conn.execute(_operator.expired_statement(workers, self.dialect), expired)

    async def live_workers(self, *, now: datetime) -> list[WorkerInfo]:
        """The presences with ``expires_at`` after ``now``, by ``(started_at, worker_id)``."""
        async with self._statement("live workers") as conn:
            rows = list(
                (await conn.execute(_operator.live_statement(self.tables.workers), {"p_now": now})).all()
            )
        return _operator.read_workers(rows)

    async def forget_worker(self, worker_id: str) -> None:
        """Delete the presence of ``worker_id`` (a clean stop)."""
        check_names(self.dialect, worker=worker_id)
        workers = self.tables.workers
        async with self._statement("forget worker") as conn:
            await conn.execute(workers.delete().where(workers.c.worker_id == worker_id))

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Count records finished at or after ``since`` per queue and status: one index range.

        Reads the ``tasks_finished_at`` index (finish time, queue and status of finished rows),
        so the cost follows the number of records finished in the window, not the table's size.
        """
        stmt = _operator.finished_counts_statement(self.tables.tasks, self.dialect)
        async with self._statement("finished counts") as conn:
            rows = list((await conn.execute(stmt, {"p_since": since})).all())
        return _operator.read_counts(rows)

    # -- schedules ---------------------------------------------------------------------------------

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        """Move ``name`` on to ``next_fire`` while it fires at ``expected``; a fire enqueues ``record``.

        One transaction (see :mod:`litestar_queues_sql._schedules`): the compare-and-set
        statement first (``UPDATE ... WHERE name = :name AND next_fire = :expected RETURNING``,
        or ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` when ``expected`` is ``None``); the
        record is inserted only when it returned the row, by the enqueue path (a held dedup key
        stores nothing and its holder's id becomes ``last_task_id``; workers are woken as by an
        enqueue). A refused call ends its transaction having changed nothing. Without a record
        the compare-and-set is the whole change (PostgreSQL: one autocommit statement).

        Raises:
            QueueConfigurationError: The name cannot be stored, or the record cannot (as
                :meth:`enqueue`); nothing is changed.
            SerializationError: As :meth:`enqueue`.
            BackendUnavailableError: The database cannot be reached.
        """
        check_names(self.dialect, schedule=name)
        table = self.tables.schedules
        params: dict[str, Any] = {"p_name": name, "p_next": next_fire, "p_now": now, "p_expected": expected}
        params["p_task"] = None if record is None else record.id
        if expected is None:
            stmt = _schedules.create_statement(table, self.dialect)
            del params["p_expected"]
        else:
            stmt = _schedules.advance_statement(table, fire=record is not None)
            if record is None:
                del params["p_task"]
        if record is None:
            async with self._statement("advance schedule") as conn:
                row = (await conn.execute(stmt, params)).first()
            return None if row is None else _schedules.row_to_state(row)
        rows = self._rows([record])
        with enqueue_errors(self._database, 1):
            async with self._transaction("advance schedule") as conn:
                row = (await conn.execute(stmt, params)).first()
                if row is None:  # refused: nothing was written, nothing is enqueued
                    return None
                (stored,) = await self._enqueue_on(SQLRunner(conn), [record], rows)
                if stored.record.id != record.id:  # an active record holds the key: note it
                    holder = {"p_name": name, "p_task": stored.record.id}
                    row = (await conn.execute(_schedules.holder_statement(table), holder)).one()
        return _schedules.row_to_state(row)

    async def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume the schedule ``name`` in one statement (``None``: it has no state).

        Raises:
            QueueConfigurationError: The name cannot be stored (see the Limits docs).
        """
        check_names(self.dialect, schedule=name)
        stmt = _schedules.pause_statement(self.tables.schedules)
        params = {"p_name": name, "p_paused": paused, "p_now": now}
        async with self._statement("pause schedule") as conn:
            row = (await conn.execute(stmt, params)).first()
        return None if row is None else _schedules.row_to_state(row)

    async def delete_schedule(self, name: str) -> bool:
        """Delete the state of the schedule ``name`` (its records stay); whether there was one.

        Raises:
            QueueConfigurationError: The name cannot be stored (see the Limits docs).
        """
        check_names(self.dialect, schedule=name)
        stmt = _schedules.delete_statement(self.tables.schedules)
        async with self._statement("delete schedule") as conn:
            return (await conn.execute(stmt, {"p_name": name})).first() is not None

    async def schedule_states(self) -> list[ScheduleState]:
        """Every stored schedule state, sorted by name (code point order, whatever the collation)."""
        table = self.tables.schedules
        async with self._statement("schedule states") as conn:
            rows = (await conn.execute(select(table))).all()
        return sorted((_schedules.row_to_state(row) for row in rows), key=lambda state: state.name)

    def _moved(self, task_id: UUID) -> MalformedRecordError:
        return MalformedRecordError(
            f"task record {task_id} cannot be decoded; it was moved to {self.tables.dead_letters.name} "
            "(its raw values and the error are there)"
        )

    # -- reads ----------------------------------------------------------------------------------

    async def query(self, query: RecordQuery) -> list[TaskRecord]:
        """List records in ``(created_at, id)`` order from the query's position on.

        One statement (see :mod:`litestar_queues_sql._query`): finished records are read as
        ordered ranges of the finished-records index, about ``limit`` entries per status (and
        queue) asked for, however many records the table holds; active records through the
        claim, lease and key indexes, sorted. Rows that cannot be decoded are moved aside and
        the page is read again without them.
        """
        stmt, params = _query.query_statement(self.tables.tasks, self.dialect, query)
        if stmt is None:
            return []
        async with self._statement("query") as conn:
            for _ in range(_REREADS):
                rows = (await conn.execute(stmt, params)).mappings().all()
                records = await self._decode(SQLRunner(conn), rows)
                if len(records) == len(rows):
                    break
        return records

    async def get(self, task_id: UUID) -> TaskRecord | None:
        """Load one record.

        Raises:
            MalformedRecordError: The stored row cannot be decoded (it is moved aside).
        """
        stmt = get_statement(self.tables.tasks, self.dialect)
        async with self._running("get") as run:
            rows = await run.rows(stmt, {"p_id": task_id})
            records = await self._decode(run, rows)
        if records:
            return records[0]
        if rows:
            raise self._moved(task_id)
        return None

    async def counts(self) -> dict[str, dict[str, int]]:
        """Count records per queue and status (a damaged name is counted under its escaped text)."""
        tasks = self.tables.tasks
        read = {c.key: c for c in record_columns(tasks, self.dialect)}
        stmt = select(read["queue"], read["status"], func.count()).group_by(tasks.c.queue, tasks.c.status)
        async with self._statement("counts") as conn:
            rows = (await conn.execute(stmt)).all()
        result: dict[str, dict[str, int]] = {}
        for queue, status, count in rows:
            per_queue = result.setdefault(text_label(queue), {})
            per_queue[text_label(status)] = per_queue.get(text_label(status), 0) + count
        return result

    # -- wake-ups ---------------------------------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str] | None, timeout: float) -> None:
        """Return on a work notification (kept if it arrived during a claim), or after ``timeout``.

        Without notifications from other processes (SQLite, or PostgreSQL while LISTEN is
        reconnecting) the wait is at most ``poll_interval``. After a claim held a record back for
        want of a token, the wait ends when one is due.
        """
        if not await self._listening():
            timeout = min(timeout, self.poll_interval)
        due, self._token_due = self._token_due, None  # one wait ends early; the next claim notes it again
        if due is not None:
            timeout = max(0.0, min(timeout, due - time.monotonic()))
        with self._waiting_for_work():
            await self._work.wait(timeout)

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        """The ids of ``worker_id``'s running records cancelled since its last call.

        Cancels through this backend object, and on PostgreSQL those of every process (a
        notification); on SQLite another process's cancel reaches the worker at its heartbeat.
        """
        return await self._cancels.wait(worker_id, timeout)

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        """The record once terminal, else ``None`` (read it): after ``timeout``, or when it is gone.

        The record comes from the look at the stored row, or from this backend object's own
        finish (finish, cancel, reclaim hand it to the waiters once committed). A notification
        from another process (PostgreSQL NOTIFY, a SQLite commit) carries only the id: the wait
        then returns ``None`` and the caller reads the record.
        """
        if not await self._listening():
            timeout = min(timeout, self.poll_interval)
        with self._finished.subscribe(task_id) as waiting, self._waiting():
            record = await self.get(task_id)
            if record is None or record.is_terminal:
                return record
            return await waiting.wait(timeout)
