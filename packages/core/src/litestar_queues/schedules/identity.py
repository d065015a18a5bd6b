"""The identity of one due time of one schedule: the same text on every scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues.schedules._utc import as_utc

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ("due_key",)


def due_key(name: str, due: datetime) -> str:
    """The dedup key of the record a schedule enqueues for one due time.

    Every scheduler computes the same key for the same schedule and instant, whatever zone
    ``due`` is given in, so the store keeps one record per due time. Jitter never enters the
    key: it delays when the record runs, not which due time it stands for.

    Args:
        name: The schedule's name.
        due: The due time (aware).

    Returns:
        ``schedule:<name>:<due time in UTC, ISO 8601>``, e.g.
        ``schedule:reports.nightly:2026-03-29T01:00:00Z`` (microseconds only when not zero).
    """
    utc = as_utc(due, "due")
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return f"schedule:{name}:{text.removesuffix('+00:00')}Z"
