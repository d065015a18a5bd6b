"""The enqueue statements: insert new rows (a held dedup key refuses its row), read the holders.

PostgreSQL: the records of a call travel as one array per column, expanded with ``unnest``
into ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING id, pg_notify(...)``: one
statement whatever the number of records (prepared once per connection), which also wakes the
workers of every process when it commits; a single record is the same ``INSERT`` with
``VALUES``. Rows are inserted in the arrays' order, so ``seq``
keeps the enqueue order. SQLite: one ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` per row
through SQLAlchemy's ``executemany`` (batched into multi-row statements).

A row the unique indexes refuse (its dedup key is held by an active record, or its id is
stored already) is left out of ``RETURNING``; its holder is then read by key or id.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    Integer,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import NullType

from litestar_queues_sql._notify import WORK
from litestar_queues_sql._records import record_columns
from litestar_queues_sql._types import JSONText, UTCDateTime
from litestar_queues_sql.schema import ACTIVE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy import Table
    from sqlalchemy.types import TypeEngine

__all__ = (
    "holders_by_id_statement",
    "holders_by_key_statement",
    "insert_one_statement",
    "insert_params",
    "insert_statement",
    "inserted_columns",
)


@functools.cache
def inserted_columns(tasks: Table) -> tuple[str, ...]:
    """The columns an enqueue writes: every column but ``seq`` (assigned by the database)."""
    return tuple(col.name for col in tasks.c if col.name != "seq")


def _element_type(col_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type of the array a column's values travel in (JSON as text, cast in the statement)."""
    if isinstance(col_type, JSONText):
        return Text()
    if isinstance(col_type, Uuid | UTCDateTime | Integer | Float):
        return col_type
    return Text()


@functools.cache
def insert_statement(tasks: Table, dialect: str, channel: str) -> Any:
    """The statement inserting new rows, returning the ids of those stored.

    PostgreSQL: parameters ``p_<column>``, one array per column (see :func:`insert_params`);
    each stored row also sends the work notification. SQLite: run with a list of rows.
    """
    if dialect != "postgresql":
        return sqlite_insert(tasks).on_conflict_do_nothing().returning(tasks.c.id)
    names = inserted_columns(tasks)
    types = {name: _element_type(tasks.c[name].type) for name in names}
    rows = (
        func.unnest(*(bindparam(f"p_{name}", type_=ARRAY(types[name])) for name in names))
        .table_valued(*(column(name, types[name]) for name in names), name="new_rows")
        .render_derived()
    )
    values = [
        cast(rows.c[name], tasks.c[name].type) if isinstance(tasks.c[name].type, JSONText) else rows.c[name]
        for name in names
    ]
    notify = func.pg_notify(channel, WORK)
    return (
        pg_insert(tasks)
        .from_select(names, select(*values))
        .on_conflict_do_nothing()
        .returning(type_coerce(tasks.c.id, NullType()).label("id"), notify.label("_notified"))
    )


@functools.cache
def insert_one_statement(tasks: Table, channel: str) -> Any:
    """PostgreSQL: :func:`insert_statement` for one row, its values as parameters ``p_<column>``.

    ``VALUES`` with one parameter per column: for a single record, asyncpg encodes scalars
    instead of one-element arrays, and the server skips ``unnest`` (about a third less CPU for
    the client, measured).
    """
    names = inserted_columns(tasks)
    values = {name: bindparam(f"p_{name}", type_=tasks.c[name].type) for name in names}
    notify = func.pg_notify(channel, WORK)
    return (
        pg_insert(tasks)
        .values(values)
        .on_conflict_do_nothing()
        .returning(type_coerce(tasks.c.id, NullType()).label("id"), notify.label("_notified"))
    )


def insert_params(
    tasks: Table, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | list[Mapping[str, Any]]:
    """The parameters of the insert of ``rows`` (each with every column but ``seq``).

    That is :func:`insert_statement`, or :func:`insert_one_statement` for one row on PostgreSQL.
    """
    if dialect != "postgresql":
        return list(rows)
    if len(rows) == 1:
        (row,) = rows
        return {f"p_{name}": row[name] for name in inserted_columns(tasks)}
    return {f"p_{name}": [row[name] for row in rows] for name in inserted_columns(tasks)}


@functools.cache
def holders_by_key_statement(tasks: Table, dialect: str) -> Any:
    """The active records holding the dedup keys ``p_keys`` (a list)."""
    if dialect == "postgresql":
        keys: Any = tasks.c.key == any_(bindparam("p_keys", type_=ARRAY(Text())))
    else:
        keys = tasks.c.key.in_(bindparam("p_keys", expanding=True, type_=Text()))
    return select(*record_columns(tasks, dialect)).where(keys, text(ACTIVE))


@functools.cache
def holders_by_id_statement(tasks: Table, dialect: str) -> Any:
    """The records stored under the ids ``p_ids`` (a list), whatever their status."""
    if dialect == "postgresql":
        ids: Any = tasks.c.id == any_(bindparam("p_ids", type_=ARRAY(Uuid())))
    else:
        ids = tasks.c.id.in_(bindparam("p_ids", expanding=True, type_=Uuid()))
    return select(*record_columns(tasks, dialect)).where(ids)
