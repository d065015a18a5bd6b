"""Converting task records to table rows and back (JSON columns via msgspec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues.exceptions import MalformedRecordError
from litestar_queues.models import TaskRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

_JSON_FIELDS = ("args", "kwargs", "metadata", "result")
_FIELDS = tuple(TaskRecord.__struct_fields__)


def encode_json(value: Any) -> str:
    """Encode a JSON value as text."""
    return _encoder.encode(value).decode()


def record_to_row(record: TaskRecord) -> dict[str, Any]:
    """Column values of a new row for ``record`` (``seq`` is assigned by the database)."""
    row = {name: getattr(record, name) for name in _FIELDS}
    for name in _JSON_FIELDS:
        row[name] = encode_json(row[name])
    return row


def row_to_record(row: Mapping[Any, Any]) -> TaskRecord:
    """Decode a row (a mapping of column values) into a record.

    Raises:
        MalformedRecordError: A JSON column or a field value is invalid.
    """
    try:
        values = {name: row[name] for name in _FIELDS}
        for name in _JSON_FIELDS:
            raw = values[name]
            values[name] = None if raw is None else _decoder.decode(raw)
        return msgspec.convert(values, TaskRecord)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        raise MalformedRecordError(f"stored task record cannot be decoded: {exc}") from exc


def describe_row(row: Mapping[Any, Any]) -> str:
    """The raw column values of a row as JSON text, for the dead-letter table."""
    return encode_json(
        {
            name: value if isinstance(value, int | float | str | None) else str(value)
            for name, value in row.items()
        }
    )
