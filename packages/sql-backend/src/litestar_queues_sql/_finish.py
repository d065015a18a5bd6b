"""Statements that end or extend a lease: finish (batch of outcomes), reclaim, cancel, extend."""

from __future__ import annotations

import functools
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Text,
    Uuid,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from litestar_queues_sql._claim import PENDING, RUNNING
from litestar_queues_sql._limits import storable_outcome
from litestar_queues_sql._records import encode_history, encode_json, record_columns
from litestar_queues_sql._types import JSONDocument, JSONText, UTCDateTime
from litestar_queues_sql.schema import ACTIVE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from sqlalchemy import Table
    from sqlalchemy.sql.dml import ReturningUpdate
    from sqlalchemy.sql.elements import ColumnClause, ColumnElement

    from litestar_queues.models import Outcome

FAILED: ColumnClause[Any] = literal_column("'failed'")
CANCELLED: ColumnClause[Any] = literal_column("'cancelled'")
LOST = "lease expired: the worker running the task was lost"

_CLEARED = {"lease_id": null(), "lease_expires_at": null()}


def target_status(outcome: Outcome, now: datetime, kind: str | None = None) -> str:
    """The status an outcome (of ``kind``, by default its own) moves its record to."""
    kind = outcome.kind if kind is None else kind
    if kind == "complete":
        return "completed"
    if kind == "fail":
        return "failed"
    if kind == "retry":
        run_at = outcome.run_at if outcome.run_at is not None else now
        return "scheduled" if run_at > now else "pending"
    return "pending"


def rounds(outcomes: Sequence[Outcome]) -> list[list[int]]:
    """Split outcome positions into rounds in which each task id appears once (in order)."""
    result: list[list[int]] = []
    seen: list[set[UUID]] = []
    for index, outcome in enumerate(outcomes):
        for ids, batch in zip(seen, result, strict=True):
            if outcome.task_id not in ids:
                ids.add(outcome.task_id)
                batch.append(index)
                break
        else:
            seen.append({outcome.task_id})
            result.append([index])
    return result


def _storable(outcomes: Sequence[Outcome], dialect: str) -> list[tuple[str, str | None, str]]:
    return [storable_outcome(o, encode_json(o.result), dialect) for o in outcomes]


def finish_many_params(outcomes: Sequence[Outcome], now: datetime) -> dict[str, Any]:
    """Parameters of :func:`finish_many_statement` for a batch of outcomes (distinct task ids)."""
    stored = _storable(outcomes, "postgresql")
    return {
        "p_ids": [o.task_id for o in outcomes],
        "p_leases": [o.lease_id for o in outcomes],
        "p_kinds": [kind for kind, _, _ in stored],
        "p_statuses": [target_status(o, now, kind) for o, (kind, _, _) in zip(outcomes, stored, strict=True)],
        "p_results": [result for _, _, result in stored],
        "p_errors": [error for _, error, _ in stored],
        "p_run_ats": [o.run_at or now for o in outcomes],
        "p_histories": [None if o.history is None else encode_history(o.history) for o in outcomes],
        "p_now": now,
    }


@functools.cache
def finish_many_statement(tasks: Table, limits: Table, channel: str) -> Any:
    """Apply a batch of outcomes in one PostgreSQL statement (see :func:`finish_many_params`).

    The outcomes travel as eight arrays joined with ``unnest``, so the statement is the same
    for every batch (built, compiled and prepared once); each changed row sends its own wake-up
    with ``pg_notify`` in ``RETURNING`` (no extra round trip), and a row of a queue with a limit
    also the work wake-up: its slot is free, so workers held back by the limit claim again.
    """
    c = tasks.c
    v = (
        func.unnest(
            bindparam("p_ids", type_=ARRAY(Uuid())),
            bindparam("p_leases", type_=ARRAY(Text())),
            bindparam("p_kinds", type_=ARRAY(Text())),
            bindparam("p_statuses", type_=ARRAY(Text())),
            bindparam("p_results", type_=ARRAY(Text())),
            bindparam("p_errors", type_=ARRAY(Text())),
            bindparam("p_run_ats", type_=ARRAY(UTCDateTime())),
            bindparam("p_histories", type_=ARRAY(Text())),
        )
        .table_valued(
            column("task_id", Uuid()),
            column("lease_id", Text()),
            column("kind", Text()),
            column("status", Text()),
            column("result", Text()),
            column("error", Text()),
            column("run_at", UTCDateTime()),
            column("history", Text()),
            name="outcomes",
        )
        .render_derived()
    )
    kind = v.c.kind

    def kind_is(*kinds: str) -> ColumnElement[bool]:
        return kind.in_([literal_column(f"'{k}'") for k in kinds])

    return (
        update(tasks)
        .where(c.id == v.c.task_id, c.lease_id == v.c.lease_id, c.status == RUNNING)
        .values(
            status=v.c.status,
            result=case((kind_is("complete"), cast(v.c.result, JSONText())), else_=c.result),
            error=case((kind_is("fail", "retry"), v.c.error), else_=c.error),
            run_at=case((kind_is("retry"), v.c.run_at), else_=c.run_at),
            finished_at=case(
                (kind_is("complete", "fail"), bindparam("p_now", type_=UTCDateTime())), else_=c.finished_at
            ),
            attempts=case((kind_is("release"), c.attempts - 1), else_=c.attempts),
            history=func.coalesce(cast(v.c.history, JSONDocument()), c.history),
            **_CLEARED,
        )
        .returning(
            *record_columns(tasks, "postgresql"),
            notify_changed(tasks, channel),
            notify_freed(tasks, limits, channel),
        )
    )


def notify_freed(tasks: Table, limits: Table, channel: str) -> Any:
    """``pg_notify`` of a work wake-up per returned row of a queue with a limit (NULL for the others)."""
    limited = tasks.c.queue.in_(select(limits.c.queue))
    work = func.pg_notify(literal_column(_quote(channel)), literal_column("'w'", Text()))
    return case((limited, work)).label("_freed")


def notify_changed(tasks: Table, channel: str) -> Any:
    """``pg_notify`` per returned row: a finish wake-up for terminal rows, else a work wake-up."""
    c = tasks.c
    finished: Any = literal_column("'f:'", Text()) + func.replace(
        cast(c.id, Text), literal_column("'-'"), literal_column("''")
    )
    terminal = c.status.in_([literal_column("'completed'"), FAILED, CANCELLED])
    work = literal_column("'w'", Text())
    return func.pg_notify(literal_column(_quote(channel)), case((terminal, finished), else_=work)).label(
        "_notified"
    )


@functools.cache
def notify_statement(channel: str) -> Any:
    """PostgreSQL: send each of the payloads ``p_payloads`` (a list) on ``channel``, in order."""
    payloads = (
        func.unnest(bindparam("p_payloads", type_=ARRAY(Text())))
        .table_valued(column("payload", Text()), name="payloads")
        .render_derived()
    )
    return select(func.pg_notify(channel, payloads.c.payload).label("_notified")).select_from(payloads)


@functools.cache
def extend_statement(tasks: Table) -> Any:
    """PostgreSQL: move the leases ``(p_ids[i], p_leases[i])`` of running records to ``p_until``.

    Returns the ``id`` (as stored) and ``lease_id`` of each lease still held.
    """
    c = tasks.c
    held = (
        func.unnest(bindparam("p_ids", type_=ARRAY(Uuid())), bindparam("p_leases", type_=ARRAY(Text())))
        .table_valued(column("task_id", Uuid()), column("lease_id", Text()), name="held")
        .render_derived()
    )
    return (
        update(tasks)
        .where(c.id == held.c.task_id, c.lease_id == held.c.lease_id, c.status == RUNNING)
        .values(lease_expires_at=bindparam("p_until", type_=UTCDateTime()))
        .returning(type_coerce(c.id, NullType()).label("id"), c.lease_id)
    )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def reclaim_statements(tasks: Table, dialect: str, now: datetime) -> list[ReturningUpdate[Any]]:
    """Fail records past ``max_reclaims``, then return the other expired ones to the queue."""
    c = tasks.c
    expired = (c.status == RUNNING, c.lease_expires_at < now)
    reclaims = c.reclaims + 1
    fail = (
        update(tasks)
        .where(*expired, reclaims > c.max_reclaims)
        .values(
            status=FAILED,
            reclaims=reclaims,
            attempts=c.attempts - 1,
            finished_at=now,
            error=literal("lease expired ", Text())
            + cast(reclaims, Text())
            + literal(" times: the task's worker was lost each time", Text()),
            **_CLEARED,
        )
        .returning(*record_columns(tasks, dialect))
    )
    requeue = (
        update(tasks)
        .where(*expired)
        .values(status=PENDING, reclaims=reclaims, attempts=c.attempts - 1, error=LOST, **_CLEARED)
        .returning(*record_columns(tasks, dialect))
    )
    return [fail, requeue]


def cancel_statement(tasks: Table, dialect: str, task_id: UUID, now: datetime) -> ReturningUpdate[Any]:
    """Cancel an active record (a running one loses its lease)."""
    return (
        update(tasks)
        .where(tasks.c.id == task_id, text(ACTIVE))
        .values(status=CANCELLED, finished_at=now, **_CLEARED)
        .returning(*record_columns(tasks, dialect))
    )


def _sqlite_time(value: datetime) -> str:
    """A timestamp as the SQLite ``UTCDateTime`` column stores it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def finish_json_params(outcomes: Sequence[Outcome], now: datetime) -> dict[str, Any]:
    """Parameters of :func:`finish_json_statement`: the batch as one JSON array."""
    batch = [
        {
            "id": o.task_id.hex,
            "lease": o.lease_id,
            "kind": kind,
            "status": target_status(o, now, kind),
            "result": result,
            "error": error,
            "run_at": _sqlite_time(o.run_at or now),
            "history": None if o.history is None else encode_history(o.history),
        }
        for o, (kind, error, result) in zip(outcomes, _storable(outcomes, "sqlite"), strict=True)
    ]
    return {"p_batch": encode_json(batch), "p_now": now}


@functools.cache
def finish_json_statement(tasks: Table) -> Any:
    """Apply a batch of outcomes (distinct task ids) in one SQLite statement.

    The batch travels as one JSON array read with ``json_each``, so the statement is the same
    for every batch (built and compiled once) and costs one call into the driver's thread.
    """
    c = tasks.c
    each = func.json_each(bindparam("p_batch", type_=Text())).table_valued("value")

    def field(name: str) -> Any:
        return func.json_extract(each.c.value, literal_column(f"'$.{name}'")).label(name)

    names = ("id", "lease", "kind", "status", "result", "error", "run_at", "history")
    v = select(*(field(n) for n in names)).subquery("outcomes")

    def kind_is(*kinds: str) -> ColumnElement[bool]:
        return v.c.kind.in_([literal_column(f"'{k}'") for k in kinds])

    return (
        update(tasks)
        .where(c.id == v.c.id, c.lease_id == v.c.lease, c.status == RUNNING)
        .values(
            status=v.c.status,
            result=case((kind_is("complete"), v.c.result), else_=c.result),
            error=case((kind_is("fail", "retry"), v.c.error), else_=c.error),
            run_at=case((kind_is("retry"), v.c.run_at), else_=c.run_at),
            finished_at=case(
                (kind_is("complete", "fail"), bindparam("p_now", type_=UTCDateTime())), else_=c.finished_at
            ),
            attempts=case((kind_is("release"), c.attempts - 1), else_=c.attempts),
            # JSON text in the batch, as the result: NULL (no history with the outcome) keeps it
            history=func.coalesce(v.c.history, c.history),
            **_CLEARED,
        )
        .returning(*record_columns(tasks, "sqlite"))
    )
