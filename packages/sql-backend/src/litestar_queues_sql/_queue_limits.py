"""Queue limits in SQL: the ``limits`` table, and the claim under limits, in one transaction.

A claim first runs the plain claim statement, which claims nothing when one of its queues has a
limit (see :mod:`litestar_queues_sql._claim`). When it claimed nothing, :func:`claim_limited`
claims in one transaction (on SQLite, the plain claim's own ``BEGIN IMMEDIATE`` transaction):

1. ``SELECT ... FROM limits WHERE queue IN (...) ORDER BY queue FOR UPDATE``: the limits and
   buckets of the queues asked for. On PostgreSQL the row locks make every claim under a
   queue's limit (and ``claim_task`` of its records) wait for the one before it to commit; on
   SQLite the write lock does. The statements below start after the lock is held, so each sees
   every record claimed before (READ COMMITTED takes a snapshot per statement).
2. ``SELECT queue, limit_key, count(*) ... WHERE status = 'running' GROUP BY queue, limit_key``:
   the running records of the limited queues, read from the ``tasks_running`` index.
3. The due records in claim order (priority, then enqueue order), ``FOR UPDATE SKIP LOCKED``,
   a page at a time, leaving out the queues at their cap or out of tokens and the limit keys at
   their cap; :class:`~litestar_queues.limits.LimitGate` takes them one by one and holds back
   those a limit stops (they are not changed, so they keep their place).
4. ``UPDATE ... WHERE seq IN (...) RETURNING``: the chosen records become running.
5. ``UPDATE limits SET tokens = ..., counted_at = ...``: the buckets the claim took tokens from.

So no interleaving of claims exceeds a cap: the count and the claim happen under the lock, and
the records that stop running (finish, release, reclaim, cancel) only lower the count.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    Integer,
    Text,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from litestar_queues.exceptions import QueueLimitError
from litestar_queues.limits import Bucket, LimitGate, QueueLimit
from litestar_queues_sql._claim import RUNNING, due, take_statement, unpaused
from litestar_queues_sql._notify import WORK
from litestar_queues_sql._records import text_label
from litestar_queues_sql._types import UTCDateTime
from litestar_queues_sql.schema import WAITING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from uuid import UUID

    from sqlalchemy import Row, Table
    from sqlalchemy.ext.asyncio import AsyncConnection

    from litestar_queues_sql.schema import QueueTables

__all__ = (
    "candidates_statement",
    "claim_limited",
    "claim_one_limited",
    "limit_params",
    "read_limits",
    "remove_statement",
    "running_statement",
    "set_statement",
)


def _insert(table: Table, dialect: str) -> Any:
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


@functools.cache
def set_statement(limits: Table, dialect: str, channel: str) -> Any:
    """Store the limit of ``p_queue``; the bucket is kept while the queue keeps a rate.

    PostgreSQL: the work notification goes out from ``RETURNING`` (waiting workers claim again).
    """
    c = limits.c
    stmt = _insert(limits, dialect).values(
        queue=bindparam("p_queue", type_=Text()),
        concurrency=bindparam("p_concurrency", type_=Integer()),
        rate=bindparam("p_rate", type_=Integer()),
        per=bindparam("p_per", type_=Float()),
        key_concurrency=bindparam("p_key_concurrency", type_=Integer()),
    )
    new = stmt.excluded
    kept = new.rate.is_not(None)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.queue],
        set_={
            "concurrency": new.concurrency,
            "rate": new.rate,
            "per": new.per,
            "key_concurrency": new.key_concurrency,
            "tokens": case((kept, c.tokens), else_=None),
            "counted_at": case((kept, c.counted_at), else_=None),
        },
    ).returning(c.queue)
    if dialect == "postgresql":
        stmt = stmt.returning(func.pg_notify(channel, WORK).label("_notified"))
    return stmt


@functools.cache
def remove_statement(limits: Table, dialect: str, channel: str) -> Any:
    """Remove the limit of ``p_queue`` (its bucket with it); PostgreSQL notifies waiting workers."""
    stmt: Any = (
        delete(limits).where(limits.c.queue == bindparam("p_queue", type_=Text())).returning(limits.c.queue)
    )
    if dialect == "postgresql":
        stmt = stmt.returning(func.pg_notify(channel, WORK).label("_notified"))
    return stmt


def limit_params(queue: str, limit: QueueLimit) -> dict[str, Any]:
    """The bound values of :func:`set_statement`."""
    return {
        "p_queue": queue,
        "p_concurrency": limit.concurrency,
        "p_rate": limit.rate,
        "p_per": limit.per,
        "p_key_concurrency": limit.key_concurrency,
    }


@functools.cache
def _limits_statement(limits: Table, dialect: str, *, by_queue: bool, lock: bool) -> Any:
    c = limits.c
    stmt = select(c.queue, c.concurrency, c.rate, c.per, c.key_concurrency, c.tokens, c.counted_at)
    if by_queue:
        stmt = stmt.where(c.queue.in_(bindparam("p_queues", expanding=True)))
    stmt = stmt.order_by(c.queue)  # locked in one order by every claim: no deadlock between them
    if lock and dialect == "postgresql":
        stmt = stmt.with_for_update()
    return stmt


def _read_row(row: Row[Any]) -> tuple[str, QueueLimit, Bucket | None]:
    queue = text_label(row.queue)
    try:
        limit = QueueLimit(
            concurrency=row.concurrency, rate=row.rate, per=row.per, key_concurrency=row.key_concurrency
        )
    except QueueLimitError as exc:
        raise QueueLimitError(
            f"the stored limit of queue {queue!r} is invalid ({exc}): set it again "
            "(service.set_limit, or the CLI's limit command)"
        ) from None
    bucket = None
    if limit.rate is not None and row.tokens is not None and row.counted_at is not None:
        bucket = Bucket(float(row.tokens), row.counted_at)
    return queue, limit, bucket


async def read_limits(
    conn: AsyncConnection, limits: Table, queues: Sequence[str] | None, *, lock: bool = False
) -> dict[str, tuple[QueueLimit, Bucket | None]]:
    """The stored limits (and buckets) of ``queues`` (``None``: every queue), locked when asked.

    Raises:
        QueueLimitError: A stored row holds no valid limit (written behind the backend's back).
    """
    stmt = _limits_statement(limits, conn.dialect.name, by_queue=queues is not None, lock=lock)
    params = {} if queues is None else {"p_queues": list(queues)}
    rows = (await conn.execute(stmt, params)).all()
    return {queue: (limit, bucket) for queue, limit, bucket in map(_read_row, rows)}


@functools.cache
def running_statement(tasks: Table) -> Any:
    """Running records per ``(queue, limit_key)`` of the queues ``p_queues`` (the ``tasks_running`` index)."""
    c = tasks.c
    return (
        select(c.queue, c.limit_key, func.count())
        .where(c.status == RUNNING, c.queue.in_(bindparam("p_queues", expanding=True)))
        .group_by(c.queue, c.limit_key)
    )


async def _gate(
    conn: AsyncConnection, tasks: Table, stored: Mapping[str, tuple[QueueLimit, Bucket | None]], now: datetime
) -> LimitGate:
    """The limits' rule of one claim: the stored limits and buckets, and what runs now."""
    running: dict[str, int] = {}
    keyed: dict[tuple[str, str], int] = {}
    rows = (await conn.execute(running_statement(tasks), {"p_queues": sorted(stored)})).all()
    for queue, limit_key, count in rows:
        name = text_label(queue)
        running[name] = running.get(name, 0) + count
        if limit_key is not None:
            keyed[name, text_label(limit_key)] = count
    limits = {queue: limit for queue, (limit, _) in stored.items()}
    buckets = {queue: bucket for queue, (_, bucket) in stored.items() if bucket is not None}
    return LimitGate(limits, now, running=running, key_running=keyed, buckets=buckets)


@functools.cache
def candidates_statement(
    tasks: Table, paused: Table, dialect: str, *, by_queue: bool, closed: bool, closed_keys: bool, after: bool
) -> Any:
    """Due records of unpaused queues in claim order, a page of ``p_limit`` (locked, SKIP LOCKED).

    ``p_queues``: the open queues asked for (``by_queue``); ``p_closed``: queues to leave out;
    ``p_closed_keys``: ``(queue, limit_key)`` pairs to leave out; ``p_priority``, ``p_seq``: the
    place of the last record of the previous page (``after``).
    """
    c = tasks.c
    queues: Any = bindparam("p_queues", expanding=True) if by_queue else None
    conditions = [due(tasks, queues, bindparam("p_now", type_=UTCDateTime())), unpaused(tasks, paused)]
    if closed:
        conditions.append(c.queue.not_in(bindparam("p_closed", expanding=True)))
    if closed_keys:
        # a record without a limit key is never left out (NOT IN would be unknown for its NULL)
        keys = tuple_(c.queue, c.limit_key).not_in(bindparam("p_closed_keys", expanding=True))
        conditions.append(or_(c.limit_key.is_(None), keys))
    if after:
        priority = bindparam("p_priority", type_=Integer())
        conditions.append(
            or_(
                c.priority < priority,
                and_(c.priority == priority, c.seq > bindparam("p_seq", type_=Integer())),
            )
        )
    stmt = (
        select(c.seq, c.queue, c.limit_key, c.priority)
        .where(*conditions)
        .order_by(c.priority.desc(), c.seq)
        .limit(bindparam("p_limit", type_=Integer()))
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


@functools.cache
def _bucket_statement(limits: Table) -> Any:
    c = limits.c
    return (
        update(limits)
        .where(c.queue == bindparam("p_queue", type_=Text()))
        .values(
            tokens=bindparam("p_tokens", type_=Float()),
            counted_at=bindparam("p_counted", type_=UTCDateTime()),
        )
    )


async def _store_buckets(conn: AsyncConnection, limits: Table, gate: LimitGate) -> None:
    buckets = gate.buckets()
    if buckets:
        params = [
            {"p_queue": queue, "p_tokens": bucket.tokens, "p_counted": bucket.counted_at}
            for queue, bucket in buckets.items()
        ]
        await conn.execute(_bucket_statement(limits), params)


async def _choose(
    conn: AsyncConnection,
    tables: QueueTables,
    gate: LimitGate,
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
) -> list[int]:
    """The ``seq`` of the records to claim, in claim order: due records the gate admits."""
    dialect = conn.dialect.name
    chosen: list[int] = []
    place: tuple[int, int] | None = None
    while len(chosen) < limit:
        closed = sorted(queue for queue in gate.limited_queues() if not gate.queue_open(queue))
        gate.note_held(closed)  # a queue out of tokens may have due records: wake when one is due
        open_queues = None if queues is None else [q for q in queues if q not in closed]
        if open_queues is not None and not open_queues:
            break
        closed_keys = gate.closed_keys()
        stmt = candidates_statement(
            tables.tasks,
            tables.paused_queues,
            dialect,
            by_queue=open_queues is not None,
            closed=open_queues is None and bool(closed),
            closed_keys=bool(closed_keys),
            after=place is not None,
        )
        params: dict[str, Any] = {"p_now": now, "p_limit": limit}
        if open_queues is not None:
            params["p_queues"] = open_queues
        elif closed:
            params["p_closed"] = closed
        if closed_keys:
            params["p_closed_keys"] = closed_keys
        if place is not None:
            params["p_priority"], params["p_seq"] = place
        page = (await conn.execute(stmt, params)).all()
        for seq, queue, limit_key, _ in page:
            if len(chosen) >= limit:
                break
            name = text_label(queue)
            if gate.admit(name, None if limit_key is None else text_label(limit_key)):
                chosen.append(seq)
        if len(page) < limit:
            break
        place = (page[-1].priority, page[-1].seq)
    return chosen


async def claim_limited(
    conn: AsyncConnection,
    tables: QueueTables,
    *,
    queues: Sequence[str] | None,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
) -> tuple[list[Any], float | None, frozenset[str]]:
    """Claim under the limits of ``queues`` in the transaction of ``conn`` (see the module's steps).

    Returns:
        The claimed rows (none when no queue asked for has a limit: the plain claim found
        nothing), the seconds until a queue that held a record back for want of a token has
        one (``None``: none did), and the limited queues among ``queues``.
    """
    stored = await read_limits(conn, tables.limits, queues, lock=True)
    if not stored:
        return [], None, frozenset()
    gate = await _gate(conn, tables.tasks, stored, now)
    chosen = await _choose(conn, tables, gate, queues, limit, now)
    rows: list[Any] = []
    if chosen:
        params = {"p_seqs": chosen, "p_now": now, "p_until": lease_until, "p_worker": worker_id}
        rows = list((await conn.execute(take_statement(tables.tasks, conn.dialect.name), params)).mappings())
        await _store_buckets(conn, tables.limits, gate)
    return rows, gate.token_wait(), frozenset(stored)


@functools.cache
def _waiting_statement(tasks: Table) -> Any:
    c = tasks.c
    return select(c.seq, c.queue, c.limit_key).where(c.id == bindparam("p_id", type_=Uuid()), text(WAITING))


async def claim_one_limited(
    conn: AsyncConnection,
    tables: QueueTables,
    task_id: UUID,
    *,
    worker_id: str,
    now: datetime,
    lease_until: datetime,
) -> tuple[list[Any], float | None, bool]:
    """Claim the waiting record ``task_id`` under its queue's limit, in the transaction of ``conn``.

    Returns:
        The claimed rows (none: not waiting, or held back), the seconds until a token is due
        when the bucket held it back, and whether its queue has no limit (any more): the caller
        then claims it by the plain statement.
    """
    found = (await conn.execute(_waiting_statement(tables.tasks), {"p_id": task_id})).first()
    if found is None:
        return [], None, False
    queue = text_label(found.queue)
    stored = await read_limits(conn, tables.limits, [queue], lock=True)
    if not stored:
        return [], None, True
    gate = await _gate(conn, tables.tasks, stored, now)
    limit_key = None if found.limit_key is None else text_label(found.limit_key)
    if not gate.admit(queue, limit_key):
        return [], gate.token_wait(), False
    params = {"p_seqs": [found.seq], "p_now": now, "p_until": lease_until, "p_worker": worker_id}
    rows = list((await conn.execute(take_statement(tables.tasks, conn.dialect.name), params)).mappings())
    if rows:
        await _store_buckets(conn, tables.limits, gate)
    return rows, None, False
