"""The read model's statements: listing records in ``(created_at, id)`` order, delete, requeue.

A listing reads one range per status it asks for (all six when none is given) and keeps the
first ``limit`` of their union; only then are the full rows of the page fetched, by ``seq``.

* A finished status (completed, failed, cancelled) is a range of the partial index
  ``(status, created_at, id, queue) WHERE status IN (finished)``, read in listing order from
  the query's position on (``(created_at, id) < (:c, :i)``) and stopped after ``limit``
  entries: no sort, however many records the table holds. A queue filter is checked in the
  index (one range per queue, so each stays ordered); a query by key reads the partial index
  ``(key, created_at, id)`` of finished records.
* An active status (pending, scheduled, running) is read through the claim and lease indexes
  (or the key's unique index), which hold only active records, and sorted: its cost follows
  the number of active records, not the table's size. Enqueues and claims therefore write no
  listing index; only a finish does.

Status constants are SQL literals (never parameters), so a generic prepared plan still sees
which status each range reads. SQLite uses a partial index only when the query repeats the
index's condition word for word, so each range also carries the conditions its status implies.

A delete removes exactly the page a listing would return (the same subquery, so the same
index ranges and rows), except running records.
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from litestar_queues.models import ACTIVE_STATUSES, ALL_STATUSES, RETRYABLE_STATUSES, TERMINAL_STATUSES
from litestar_queues_sql._claim import PENDING, RUNNING
from litestar_queues_sql._notify import WORK
from litestar_queues_sql._records import record_columns
from litestar_queues_sql._types import UTCDateTime
from litestar_queues_sql.schema import ACTIVE, RUNNING_ROWS, TERMINAL, WAITING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import Row, Table
    from sqlalchemy.sql import ColumnElement, Select, Subquery
    from sqlalchemy.sql.dml import ReturningDelete
    from sqlalchemy.sql.elements import TextClause

    from litestar_queues.models import RecordQuery

__all__ = (
    "MAX_RANGES",
    "delete_statement",
    "listing_order",
    "page_subquery",
    "query_statement",
    "requeue_statement",
)

MAX_RANGES = 32
"""Most ``(queue, status)`` ranges of finished records a query reads; beyond, one sorted scan."""

# SQLite: the partial indexes' conditions each status implies, repeated word for word
_IMPLIED = {
    "pending": (WAITING, ACTIVE),
    "scheduled": (WAITING, ACTIVE),
    "running": (RUNNING_ROWS, ACTIVE),
    "completed": (TERMINAL,),
    "failed": (TERMINAL,),
    "cancelled": (TERMINAL,),
}


def _status(name: str) -> ColumnElement[Any]:
    return literal_column(f"'{name}'")  # only names from ALL_STATUSES reach here


def _status_in(column: ColumnElement[Any], statuses: frozenset[str]) -> ColumnElement[bool]:
    # in ALL_STATUSES order: the same list as the partial indexes' predicates
    return column.in_([_status(s) for s in ALL_STATUSES if s in statuses])


def query_statement(
    tasks: Table, dialect: str, query: RecordQuery
) -> tuple[Select[Any] | None, dict[str, Any]]:
    """The statement listing ``query``'s page, and its parameters.

    Returns:
        ``(statement, parameters)``; the statement is ``None`` when nothing can match (a limit
        below 1, or only unknown statuses asked for).
    """
    page, params = page_subquery(tasks, dialect, query)
    if page is None:
        return None, params
    c = tasks.c
    stmt = (
        select(*record_columns(tasks, dialect))
        .join_from(tasks, page, c.seq == page.c.seq)
        .order_by(*_order(page.c, query.newest_first))
    )
    return stmt, params


def delete_statement(
    tasks: Table, dialect: str, query: RecordQuery
) -> tuple[ReturningDelete[Any] | None, dict[str, Any]]:
    """The statement deleting what ``query`` lists, except running records, and its parameters.

    ``DELETE ... WHERE seq IN (page) AND status <> 'running' RETURNING id, created_at, status``
    (PostgreSQL: ``seq = ANY(array of the page)``), where the page is the listing's own subquery
    (:func:`page_subquery`): the same index ranges are read and the same records chosen. The
    status is checked by the statement that deletes (PostgreSQL re-checks a row a concurrent
    claim changed after the statement's snapshot and leaves it). On PostgreSQL the page's rows
    are first locked ``FOR UPDATE SKIP LOCKED``: a row a claim, finish or another delete holds
    at this instant is left for a later call instead of waited for, so deletes never wait for
    (or deadlock with) anything.

    Ids and times come back as stored (see :func:`listing_order`).

    Returns:
        ``(statement, parameters)``; the statement is ``None`` when nothing can match.
    """
    page, params = page_subquery(tasks, dialect, query)
    if page is None:
        return None, params
    c = tasks.c
    chosen: ColumnElement[bool]
    if dialect == "postgresql":
        # seq = ANY(array of the page): an index scan of the primary key whatever the planner
        # thinks of the page's size (a join with it may be planned as a scan of the table)
        listed = tasks.alias("listed")
        locking = (
            select(listed.c.seq)
            .where(listed.c.seq == _any_of(page.c.seq), listed.c.status != RUNNING)
            .with_for_update(of=listed, skip_locked=True)
            .subquery("locked")
        )
        chosen = c.seq == _any_of(locking.c.seq)
    else:
        chosen = c.seq.in_(select(page.c.seq))
    returned = (
        type_coerce(c.id, NullType()).label("id"),
        type_coerce(c.created_at, NullType()).label("created_at"),
        c.status,
    )
    stmt = delete(tasks).where(chosen, c.status != RUNNING).returning(*returned)
    return stmt, params


def _any_of(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """PostgreSQL: ``ANY(CAST((SELECT array_agg(column) ...) AS BIGINT[]))``, an array computed once.

    The cast makes it the array form of ``ANY`` (one InitPlan, then an index condition), not the
    subquery form (a join).
    """
    return any_(cast(select(func.array_agg(column)).scalar_subquery(), ARRAY(BigInteger())))


def listing_order(rows: Iterable[Row[Any]], *, newest_first: bool) -> list[Row[Any]]:
    """Rows returned by :func:`delete_statement` in the listing's ``(created_at, id)`` order.

    The values are compared as the database compares them: PostgreSQL's ``timestamptz`` and
    ``uuid`` (as datetimes and by their bytes), SQLite's stored text (as text).
    """

    def place(row: Row[Any]) -> tuple[Any, Any]:
        ident = row.id
        return row.created_at, ident.bytes if isinstance(ident, uuid.UUID) else ident

    return sorted(rows, key=place, reverse=newest_first)


def page_subquery(tasks: Table, dialect: str, query: RecordQuery) -> tuple[Subquery | None, dict[str, Any]]:
    """The ``(seq, created_at, id)`` of the records on ``query``'s page, and its parameters.

    The subquery holds at most ``query.limit`` rows (in no particular order once joined): the
    records :func:`query_statement` lists and :func:`delete_statement` deletes are the same.

    Returns:
        ``(subquery, parameters)``; the subquery is ``None`` when nothing can match.
    """
    c = tasks.c
    statuses: tuple[str, ...] = ALL_STATUSES
    if query.statuses is not None:
        asked = set(query.statuses)
        statuses = tuple(s for s in ALL_STATUSES if s in asked)
    if query.limit < 1 or not statuses:
        return None, {}
    params: dict[str, Any] = {"p_limit": query.limit}
    common = _filters(tasks, query)
    newest = query.newest_first
    queues = list(dict.fromkeys(query.queues)) if query.queues is not None else None
    finished = [s for s in statuses if s in TERMINAL_STATUSES]
    # a queue equality keeps a range of the finished index ordered; an IN list would not
    split = queues is not None and query.key is None and len(queues) * len(finished) <= MAX_RANGES
    if queues is not None:
        params.update({f"p_queue_{i}": q for i, q in enumerate(queues)})
        in_queues = c.queue.in_(bindparam("p_queues", queues, expanding=True))

    def pick(status: str, queue: int | None) -> Select[Any]:
        conditions: list[ColumnElement[bool] | TextClause] = [*common, c.status == _status(status)]
        if dialect == "sqlite":
            conditions.extend(text(implied) for implied in _IMPLIED[status])
        if queue is not None:
            conditions.append(c.queue == bindparam(f"p_queue_{queue}", type_=Text()))
        elif queues is not None:
            conditions.append(in_queues)
        chosen = select(c.seq, c.created_at, c.id).where(*conditions)
        return chosen.order_by(*_order(c, newest)).limit(_limit())

    each_queue: list[int | None] = list(range(len(queues))) if split and queues is not None else [None]
    picks = [
        pick(status, queue) for status in statuses for queue in (each_queue if status in finished else [None])
    ]
    if len(picks) == 1:
        return picks[0].subquery("page"), params
    parts = [select(*p.c).select_from(p) for p in (s.subquery(f"r{n}") for n, s in enumerate(picks))]
    merged = union_all(*parts).subquery("ranges")
    return select(*merged.c).order_by(*_order(merged.c, newest)).limit(_limit()).subquery("page"), params


def _filters(tasks: Table, query: RecordQuery) -> list[ColumnElement[bool]]:
    """The conditions of ``query`` every range repeats: names, key, time bounds, position."""
    c = tasks.c
    common: list[ColumnElement[bool]] = []
    if query.task_names is not None:
        common.append(c.task_name.in_(bindparam("p_names", list(query.task_names), expanding=True)))
    if query.key is not None:
        common.append(c.key == bindparam("p_key", query.key, type_=Text()))
    bounds = (
        ("created_after", c.created_at, ">="),
        ("created_before", c.created_at, "<"),
        ("finished_after", c.finished_at, ">="),
        ("finished_before", c.finished_at, "<"),
    )
    for name, column, op in bounds:
        value = getattr(query, name)
        if value is not None:
            common.append(column.op(op)(bindparam(f"p_{name}", value, type_=UTCDateTime())))
    if query.after is not None:
        mark = tuple_(
            bindparam("p_after_created", query.after.created_at, type_=UTCDateTime()),
            bindparam("p_after_id", query.after.id, type_=Uuid()),
        )
        place = tuple_(c.created_at, c.id)
        common.append(place < mark if query.newest_first else place > mark)
    return common


def _order(columns: Any, newest: bool) -> tuple[ColumnElement[Any], ...]:
    if newest:
        return (columns.created_at.desc(), columns.id.desc())
    return (columns.created_at.asc(), columns.id.asc())


def _limit() -> Any:
    return bindparam("p_limit", type_=Integer())


@functools.cache
def requeue_statement(tasks: Table, dialect: str, channel: str) -> Any:
    """Put the failed or cancelled record ``p_id`` back to pending, unless its key is held.

    One ``UPDATE ... RETURNING``: the key check and the change are one statement. On PostgreSQL a
    concurrent enqueue of the same key that commits first makes the update violate the key's
    unique index (the caller maps that to "left unchanged"); on SQLite writers are serialised,
    so the check is exact. On PostgreSQL the work wake-up is sent from ``RETURNING``.
    """
    c = tasks.c
    other = tasks.alias("holder")
    held = (
        select(literal_column("1"))
        .select_from(other)
        .where(other.c.key == c.key, other.c.id != c.id, _status_in(other.c.status, ACTIVE_STATUSES))
        .exists()
    )
    retryable = _status_in(c.status, RETRYABLE_STATUSES)
    stmt = (
        update(tasks)
        .where(c.id == bindparam("p_id", type_=Uuid()), retryable, ~held)
        .values(
            status=PENDING,
            run_at=bindparam("p_now", type_=UTCDateTime()),
            attempts=0,
            reclaims=0,
            finished_at=null(),
            result=null(),
            lease_id=null(),
            lease_expires_at=null(),
        )
        .returning(*record_columns(tasks, dialect))
    )
    if dialect == "postgresql":
        wake = func.pg_notify(literal_column(_quote(channel)), literal_column(f"'{WORK}'"))
        stmt = stmt.returning(wake.label("_notified"))
    return stmt


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
