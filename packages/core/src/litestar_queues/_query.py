"""Listing records: validating filters into a :class:`RecordQuery`, and opaque page cursors."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import ALL_STATUSES, QueryPosition, RecordQuery

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("MAX_PAGE", "build_query", "decode_cursor", "encode_cursor")

MAX_PAGE = 1000
"""The largest page :meth:`QueueService.list_tasks <litestar_queues.QueueService.list_tasks>` returns."""


def encode_cursor(position: QueryPosition) -> str:
    """An opaque, URL-safe cursor for ``position``."""
    raw = f"{position.created_at.isoformat()}|{position.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> QueryPosition:
    """The position a cursor names.

    Raises:
        QueueConfigurationError: The cursor was not made by :func:`encode_cursor`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, hex_id = raw.split("|")
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return QueryPosition(created_at, uuid.UUID(hex=hex_id))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise QueueConfigurationError(
            "malformed cursor: pass the next_cursor of a previous page unchanged"
        ) from None


def _names(value: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    names = tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise QueueConfigurationError(f"{what} must be non-empty strings, got {names!r}")
    return names


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise QueueConfigurationError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def build_query(
    *,
    queues: Iterable[str] | None,
    statuses: Iterable[str] | None,
    task_names: Iterable[str] | None,
    key: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    finished_after: datetime | None,
    finished_before: datetime | None,
    newest_first: bool,
    limit: int,
    cursor: str | None,
) -> RecordQuery:
    """Validate listing filters into a :class:`RecordQuery`.

    Raises:
        QueueConfigurationError: A status is unknown, a name empty, a time naive, the limit out
            of 1 to :data:`MAX_PAGE`, or the cursor malformed.
    """
    status_names = _names(statuses, "statuses")
    if status_names is not None:
        unknown = sorted(set(status_names) - set(ALL_STATUSES))
        if unknown:
            raise QueueConfigurationError(f"unknown status {unknown[0]!r}; one of {', '.join(ALL_STATUSES)}")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise QueueConfigurationError(f"limit must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
    if key is not None and (not isinstance(key, str) or not key):
        raise QueueConfigurationError("key must be a non-empty string")
    fields: dict[str, Any] = {
        "queues": _names(queues, "queues"),
        "statuses": status_names,
        "task_names": _names(task_names, "task_names"),
        "key": key,
        "created_after": _aware(created_after, "created_after"),
        "created_before": _aware(created_before, "created_before"),
        "finished_after": _aware(finished_after, "finished_after"),
        "finished_before": _aware(finished_before, "finished_before"),
        "newest_first": bool(newest_first),
        "after": decode_cursor(cursor) if cursor is not None else None,
        "limit": limit,
    }
    return RecordQuery(**fields)
