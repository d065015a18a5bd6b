"""Instants in, instants out: every schedule function takes aware datetimes and returns UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar_queues.exceptions import QueueConfigurationError

__all__ = ("as_utc",)


def as_utc(value: datetime, what: str) -> datetime:
    """Return the aware datetime ``value`` in UTC.

    Raises:
        QueueConfigurationError: ``value`` is not a datetime, or is naive.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise QueueConfigurationError(
            f"{what} must be a timezone-aware datetime, e.g. datetime.now(UTC), got {value!r}"
        )
    return value.astimezone(UTC)
