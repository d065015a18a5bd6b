"""JSON encoding of task payloads and records (msgspec; never pickle)."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from litestar_queues.exceptions import MalformedRecordError, PayloadTooLargeError, SerializationError
from litestar_queues.models import TaskRecord

__all__ = (
    "decode_record",
    "encode_record",
    "to_json_value",
)

_encoder = msgspec.json.Encoder()
_record_decoder = msgspec.json.Decoder(TaskRecord)
_any_decoder = msgspec.json.Decoder()


def to_json_value(value: Any, *, what: str, max_bytes: int | None = None) -> Any:
    """Return ``value`` as it will read back from JSON, or raise a clear error.

    Args:
        value: Arguments, keyword arguments, metadata or a result.
        what: Names the value in the error message (``"arguments of task 'x'"``).
        max_bytes: Largest encoded size allowed, or ``None`` for no limit.

    Raises:
        SerializationError: ``value`` cannot be serialised to JSON.
        PayloadTooLargeError: The encoded value is larger than ``max_bytes``.
    """
    try:
        encoded = _encoder.encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise SerializationError(f"{what} cannot be serialised to JSON: {exc}") from exc
    if max_bytes is not None and len(encoded) > max_bytes:
        raise PayloadTooLargeError(
            f"{what} encode to {len(encoded)} bytes, over the limit of {max_bytes} bytes"
        )
    # JSON has no NaN or infinity: the encoder writes null, which would read back as None. A
    # non-finite float can only hide behind a null, so only then is the value walked.
    if b"null" in encoded and _has_non_finite(msgspec.to_builtins(value)):
        raise SerializationError(
            f"{what} cannot be serialised to JSON: it holds NaN or infinity, which JSON cannot "
            "represent (send it as a string, or None)"
        )
    return _any_decoder.decode(encoded)


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def encode_record(record: TaskRecord) -> bytes:
    """Encode a record as JSON bytes."""
    return _encoder.encode(record)


def decode_record(data: bytes | str) -> TaskRecord:
    """Decode JSON bytes into a record.

    Raises:
        MalformedRecordError: ``data`` is not a valid record.
    """
    try:
        return _record_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedRecordError(f"stored task record cannot be decoded: {exc}") from exc
