"""Converting task records to table rows and back (JSON columns via msgspec).

Rows are read with :func:`record_columns`, which hands back the values as the driver stored
them (no SQLAlchemy result processing for ids, timestamps or SQLite text): a hostile or damaged
row must fail in :func:`row_to_record`, one row at a time, and never while the driver fetches a
batch, or a single bad row would break every claim that meets it.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import (
    BigInteger,
    LargeBinary,
    Text,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType, Uuid

from litestar_queues.exceptions import MalformedRecordError
from litestar_queues.models import TaskRecord
from litestar_queues_sql._limits import safe_text
from litestar_queues_sql._types import UTCDateTime

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Table
    from sqlalchemy.sql.elements import ColumnElement

    from litestar_queues.models import AttemptRecord

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

_JSON_FIELDS = ("args", "kwargs", "metadata", "result", "history")
_FIELDS = tuple(TaskRecord.__struct_fields__)
_ROW_FIELDS = tuple(name for name in _FIELDS if name != "history")
_ROW_JSON_FIELDS = tuple(name for name in _JSON_FIELDS if name != "history")
_TIME_FIELDS = ("created_at", "run_at", "started_at", "finished_at", "lease_expires_at")
_TEXT_FIELDS = (
    *("task_name", "queue", "status", "key", "limit_key", "execution_backend", "execution_profile"),
    *("lease_id", "worker_id", "error"),
)
# how the SQLite DATETIME column stores a timestamp (SQLAlchemy's storage format, UTC)
_SQLITE_TIME_LENGTH = len("2030-01-01 12:00:00.000000")


def encode_json(value: Any) -> str:
    """Encode a JSON value as text."""
    return _encoder.encode(value).decode()


def encode_history(history: list[AttemptRecord]) -> str:
    """The JSON text of an attempt history, as any supported database stores it.

    Error texts and tracebacks hold whatever an exception's message held: NUL characters
    (which PostgreSQL's text cannot hold) and unpaired surrogates (which are not UTF-8) become
    U+FFFD, as in the ``error`` column.
    """
    try:
        encoded = _encoder.encode(history)
    except UnicodeEncodeError:
        encoded = b""
    if not encoded or b"\\u0000" in encoded:
        encoded = _encoder.encode([_storable_attempt(a) for a in history])
    return encoded.decode()


def _storable_attempt(attempt: AttemptRecord) -> AttemptRecord:
    texts = {
        name: safe_text(value)
        for name in ("worker_id", "error", "traceback")
        if (value := getattr(attempt, name)) is not None
    }
    return msgspec.structs.replace(attempt, **texts)


def record_to_row(record: TaskRecord, *, history: bool = True) -> dict[str, Any]:
    """Column values of a new row for ``record`` (``seq`` is assigned by the database).

    Args:
        record: The record.
        history: Include the ``history`` column (else the column's default, ``[]``, applies).
    """
    row = dict(zip(_FIELDS, msgspec.structs.astuple(record), strict=True))
    for name in _ROW_JSON_FIELDS:
        row[name] = encode_json(row[name])
    if not history:
        del row["history"]
    elif record.history:
        row["history"] = encode_history(record.history)
    else:
        row["history"] = "[]"
    return row


@functools.cache
def record_columns(tasks: Table, dialect: str) -> tuple[ColumnElement[Any], ...]:
    """The task columns to SELECT or RETURN for :func:`row_to_record`, labelled by name.

    Ids and timestamps come back untouched by SQLAlchemy (a SQLite text that is not a UUID or
    a timestamp would otherwise raise inside the fetch); on SQLite, text and JSON columns come
    back as UTF-8 bytes (text that is not UTF-8 would otherwise fail the fetch in the driver).
    """
    columns: list[ColumnElement[Any]] = []
    for col in tasks.c:
        expr: ColumnElement[Any] = col
        if isinstance(col.type, Uuid | UTCDateTime):
            expr = type_coerce(col, NullType())
        elif dialect == "sqlite" and col.name in _TEXT_FIELDS + _JSON_FIELDS:
            expr = type_coerce(cast(type_coerce(col, NullType()), LargeBinary()), NullType())
        columns.append(expr.label(col.name))
    return tuple(columns)


@functools.cache
def get_statement(tasks: Table, dialect: str) -> Any:
    """The row of the record ``p_id`` (as :func:`row_to_record` reads it)."""
    return select(*record_columns(tasks, dialect)).where(tasks.c.id == bindparam("p_id", type_=Uuid()))


@functools.cache
def dead_letter_statements(tasks: Table, dead: Table, dialect: str) -> tuple[Any, Any]:
    r"""How rows that cannot be decoded are moved to the dead-letter table, by ``seq``.

    PostgreSQL: one statement, atomic even in autocommit (the rows deleted, and only those,
    recorded): ``WITH gone AS (DELETE ... RETURNING seq) INSERT INTO dead_letters SELECT ...
    FROM unnest(...) JOIN gone``, with ``p_seqs`` and the entries as arrays ``p_moved_seqs``,
    ``p_task_ids``, ``p_rows``, ``p_errors``; it returns the moved ``task_id``\ s (the second
    statement is ``None``). SQLite, inside the caller's transaction: the ``DELETE ... WHERE seq
    IN p_seqs RETURNING seq``, then the ``INSERT`` of the entries deleted (run with a list of
    ``task_id``, ``row``, ``error`` mappings).
    """
    if dialect != "postgresql":
        seqs = bindparam("p_seqs", expanding=True, type_=BigInteger())
        gone = delete(tasks).where(tasks.c.seq.in_(seqs)).returning(tasks.c.seq)
        return gone, insert(dead).returning(dead.c.task_id)
    gone_cte = (
        delete(tasks)
        .where(tasks.c.seq == any_(bindparam("p_seqs", type_=ARRAY(BigInteger()))))
        .returning(tasks.c.seq)
        .cte("gone")
    )
    fields = ("seq", "task_id", "row", "error")
    arrays = ("p_moved_seqs", "p_task_ids", "p_rows", "p_errors")
    types: tuple[Any, ...] = (BigInteger(), Text(), Text(), Text())
    moved = (
        func.unnest(*(bindparam(a, type_=ARRAY(t)) for a, t in zip(arrays, types, strict=True)))
        .table_valued(*(column(f, t) for f, t in zip(fields, types, strict=True)), name="moved")
        .render_derived()
    )
    chosen = select(moved.c.task_id, moved.c.row, moved.c.error).join(gone_cte, gone_cte.c.seq == moved.c.seq)
    stmt = (
        insert(dead)
        .from_select(["task_id", "row", "error"], chosen)
        .add_cte(gone_cte)
        .returning(dead.c.task_id)
    )
    return stmt, None


def _text(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")  # UnicodeDecodeError: a ValueError, so malformed
    return value


def read_id(value: Any) -> uuid.UUID:
    """An id as the driver returned it, as a UUID.

    Raises:
        ValueError: The stored value is not a UUID (a damaged SQLite row).
    """
    return _uuid(value)


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is uuid.UUID:
        return value
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID class
        return uuid.UUID(int=value.int)
    if isinstance(value, str):
        # SQLite: exactly the 32 lowercase hex digits SQLAlchemy writes, or the id never matches
        parsed = uuid.UUID(hex=value)
        if parsed.hex == value:
            return parsed
    raise ValueError("the id is not a UUID")


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and len(value) == _SQLITE_TIME_LENGTH and value[10] == " ":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
    raise ValueError("a timestamp is not in the stored UTC format")


def row_to_record(row: Mapping[Any, Any]) -> TaskRecord:
    """Decode a row (a mapping of column values) into a record.

    Raises:
        MalformedRecordError: A column holds a value that is not a valid field of the record.
    """
    column = ""
    try:
        values = {name: row[name] for name in _ROW_FIELDS}
        values["history"] = row.get("history")  # a table older than the column: no history
        column = "id"
        values["id"] = _uuid(values["id"])
        for column in _TIME_FIELDS:
            value = values[column]
            # PostgreSQL hands back aware UTC datetimes: nothing to do for them
            if value is not None and (value.__class__ is not datetime or value.tzinfo is not UTC):
                values[column] = _time(value)
        for column in _TEXT_FIELDS:
            value = values[column]
            if value.__class__ is not str and value is not None:
                values[column] = _text(value)
        for column in _JSON_FIELDS:
            value = values[column]
            if value is not None:
                values[column] = _decoder.decode(value)  # text, or UTF-8 bytes on SQLite
        if values["history"] is None:
            values["history"] = []
        column = ""  # msgspec names the field itself
        return msgspec.convert(values, TaskRecord)
    # any failure to build the record from what is stored means the row is malformed
    except (msgspec.MsgspecError, ValueError, TypeError, KeyError, OverflowError) as exc:
        where = f"column {column}: " if column else ""
        raise MalformedRecordError(f"stored task record cannot be decoded: {where}{exc}") from exc


def text_label(value: Any) -> str:
    """A text column's value as text, whatever is stored (bytes that are not UTF-8 escaped)."""
    if value.__class__ is str:
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def describe_id(value: Any) -> str:
    """The id of a row for the dead-letter table: the UUID's canonical text, or what is stored."""
    try:
        return str(_uuid(value))
    except ValueError:
        return str(_describe(value))


def describe_row(row: Mapping[Any, Any]) -> str:
    """The raw column values of a row as JSON text, for the dead-letter table."""
    return encode_json({name: _describe(value) for name, value in row.items() if not name.startswith("_")})


def _describe(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)
