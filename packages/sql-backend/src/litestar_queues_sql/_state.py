"""State every process shares: paused queues, and the turns of duties (``take_turn``).

* A paused queue is a row of the ``paused_queues`` table; the claim statement skips its records
  (see :func:`~litestar_queues_sql._claim.unpaused`). Pausing inserts the row (a no-op when it is
  there), resuming deletes it and, on PostgreSQL, sends the work notification from the same
  statement's ``RETURNING``, so waiting workers of every process claim again.
* A duty is a row of the ``duties`` table: who holds it, and until when. Taking a turn is one
  ``INSERT ... ON CONFLICT (duty) DO UPDATE ... WHERE`` (an upsert, SQLite 3.24 and later): the
  row is written, and returned, only when the duty was free, its turn ended or the same holder
  asks again. PostgreSQL locks the conflicting row and evaluates the condition on its latest
  version; SQLite runs it under the write lock. Two holders never both get a live turn.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, bindparam, delete, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from litestar_queues_sql._notify import WORK
from litestar_queues_sql._types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ("pause_statement", "resume_statement", "turn_statement")


def _insert(table: Table, dialect: str) -> Any:
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


@functools.cache
def pause_statement(paused: Table, dialect: str) -> Any:
    """Mark the queue ``p_queue`` paused (nothing happens when it is paused already)."""
    return _insert(paused, dialect).values(queue=bindparam("p_queue", type_=Text())).on_conflict_do_nothing()


@functools.cache
def resume_statement(paused: Table, dialect: str, channel: str) -> Any:
    """Resume the queue ``p_queue``: returns a row when it was paused (PostgreSQL: and notifies)."""
    stmt: Any = (
        delete(paused).where(paused.c.queue == bindparam("p_queue", type_=Text())).returning(paused.c.queue)
    )
    if dialect == "postgresql":
        stmt = stmt.returning(func.pg_notify(channel, WORK).label("_notified"))
    return stmt


@functools.cache
def turn_statement(duties: Table, dialect: str) -> Any:
    """Give ``p_holder`` the duty ``p_duty`` until ``p_until`` unless another turn is live at ``p_now``.

    Returns one row (the holder) when the turn is given, none when it is refused.
    """
    c = duties.c
    stmt = _insert(duties, dialect).values(
        duty=bindparam("p_duty", type_=Text()),
        holder=bindparam("p_holder", type_=Text()),
        until=bindparam("p_until", type_=UTCDateTime()),
    )
    taken = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[c.duty],
        set_={"holder": taken.holder, "until": taken.until},
        where=or_(c.until <= bindparam("p_now", type_=UTCDateTime()), c.holder == taken.holder),
    ).returning(c.holder)
