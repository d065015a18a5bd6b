"""Schedule states: one row per schedule in the ``schedules`` table, moved by compare-and-set.

``advance_schedule`` is one transaction (see :meth:`SQLQueueBackend.advance_schedule
<litestar_queues_sql.SQLQueueBackend.advance_schedule>`):

1. the compare-and-set, one statement that returns the row only when it applied:
   ``UPDATE schedules SET next_fire, updated_at[, last_fire, last_task_id] WHERE name = :name
   AND next_fire = :expected RETURNING ...`` (:func:`advance_statement`), or, when the caller
   found no state, ``INSERT ... ON CONFLICT (name) DO NOTHING RETURNING ...``
   (:func:`create_statement`);
2. only when a row came back and the call is a fire: the record is inserted by the enqueue
   path itself (the same statement, dedup key rules and notifications as ``enqueue``);
3. only when an active record held the fire's dedup key: ``last_task_id`` is set to the
   holder's id (:func:`holder_statement`).

PostgreSQL (READ COMMITTED): the UPDATE locks the row; a second caller's UPDATE waits for the
lock and then evaluates ``next_fire = :expected`` on the row as the first one committed it, so
it matches nothing. The INSERT of a missing state waits for a concurrent insert of the same name
and then finds the conflict. SQLite: the statements run under the write lock (``BEGIN
IMMEDIATE``). Either way exactly one of the callers racing on one ``expected`` gets a row.

Timestamps are ``UTCDateTime`` columns, as in the tasks table: ``timestamptz`` (microseconds) on
PostgreSQL, fixed-width UTC text with six fractional digits on SQLite, so an instant compares
equal to itself to the microsecond on both.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Text, Uuid, bindparam, delete, false, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from litestar_queues.models import ScheduleState
from litestar_queues_sql._records import read_id
from litestar_queues_sql._types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy import Row, Table

__all__ = (
    "advance_statement",
    "create_statement",
    "delete_statement",
    "holder_statement",
    "pause_statement",
    "row_to_state",
)


def _name() -> Any:
    return bindparam("p_name", type_=Text())


def _returning(stmt: Any, schedules: Table) -> Any:
    c = schedules.c
    return stmt.returning(c.name, c.next_fire, c.paused, c.last_fire, c.last_task_id, c.updated_at)


@functools.cache
def create_statement(schedules: Table, dialect: str) -> Any:
    """Create the state ``p_name`` (not paused) unless one is stored: returns the row when created.

    ``last_fire`` is NULL; ``last_task_id`` is ``p_task`` (NULL unless a record is enqueued with
    the creation).
    """
    make_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = make_insert(schedules).values(
        name=_name(),
        next_fire=bindparam("p_next", type_=UTCDateTime()),
        paused=false(),
        last_task_id=bindparam("p_task", type_=Uuid()),
        updated_at=bindparam("p_now", type_=UTCDateTime()),
    )
    return _returning(stmt.on_conflict_do_nothing(index_elements=[schedules.c.name]), schedules)


@functools.cache
def advance_statement(schedules: Table, *, fire: bool) -> Any:
    """Move ``p_name`` on to ``p_next`` while its ``next_fire`` is ``p_expected``: the row, or none.

    ``fire``: also store ``last_fire = p_expected`` and ``last_task_id = p_task``.
    """
    c = schedules.c
    expected = bindparam("p_expected", type_=UTCDateTime())
    values: dict[str, Any] = {
        "next_fire": bindparam("p_next", type_=UTCDateTime()),
        "updated_at": bindparam("p_now", type_=UTCDateTime()),
    }
    if fire:
        values["last_fire"] = expected
        values["last_task_id"] = bindparam("p_task", type_=Uuid())
    stmt = update(schedules).where(c.name == _name(), c.next_fire == expected).values(values)
    return _returning(stmt, schedules)


@functools.cache
def holder_statement(schedules: Table) -> Any:
    """Set ``last_task_id`` of ``p_name`` to ``p_task`` (the record that held the fire's key)."""
    stmt = (
        update(schedules)
        .where(schedules.c.name == _name())
        .values(last_task_id=bindparam("p_task", type_=Uuid()))
    )
    return _returning(stmt, schedules)


@functools.cache
def pause_statement(schedules: Table) -> Any:
    """Store ``paused = p_paused`` and ``updated_at = p_now`` for ``p_name``: the row, or none."""
    stmt = (
        update(schedules)
        .where(schedules.c.name == _name())
        .values(
            paused=bindparam("p_paused", type_=Boolean()),
            updated_at=bindparam("p_now", type_=UTCDateTime()),
        )
    )
    return _returning(stmt, schedules)


@functools.cache
def delete_statement(schedules: Table) -> Any:
    """Delete the state ``p_name``: returns its name when there was one."""
    return delete(schedules).where(schedules.c.name == _name()).returning(schedules.c.name)


def row_to_state(row: Row[Any]) -> ScheduleState:
    """A stored schedule row as a :class:`~litestar_queues.models.ScheduleState`."""
    return ScheduleState(
        name=row.name,
        next_fire=row.next_fire,
        paused=bool(row.paused),
        last_fire=row.last_fire,
        last_task_id=None if row.last_task_id is None else read_id(row.last_task_id),
        updated_at=row.updated_at,
    )
