"""Column types: aware UTC timestamps and JSON text decoded by msgspec (not by the driver)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import DateTime, TypeDecorator, UserDefinedType

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.elements import ColumnElement


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp: ``timestamptz`` on PostgreSQL, sortable UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC timestamp column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONText(UserDefinedType[str]):
    """JSON stored as ``jsonb`` on PostgreSQL (``TEXT`` on SQLite), exchanged as JSON text.

    Values are bound and read as text so the backend encodes and decodes them with msgspec,
    whatever JSON settings the engine has; a value that fails to decode is caught by the
    backend, which moves the row aside instead of failing a whole fetch.
    """

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "JSONB"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return cast(cast(bindvalue, Text), self)

    def column_expression(self, colexpr: Any) -> ColumnElement[Any]:
        return cast(colexpr, Text)


@compiles(JSONText, "sqlite")
def _json_text_on_sqlite(type_: JSONText, compiler: Any, **kw: Any) -> str:
    return "TEXT"


class JSONDocument(JSONText):
    """JSON stored as written, ``json`` on PostgreSQL (``TEXT`` on SQLite), exchanged as JSON text.

    For values that are only ever written and read back whole (the attempt history): ``json``
    checks the text and keeps it, where ``jsonb`` converts it to and from its binary form on
    every write and read.
    """

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "JSON"


@compiles(JSONDocument, "sqlite")
def _json_document_on_sqlite(type_: JSONDocument, compiler: Any, **kw: Any) -> str:
    return "TEXT"
