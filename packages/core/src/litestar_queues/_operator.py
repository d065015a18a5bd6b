"""Operators' reads of the queue: the live workers, and how many tasks finished lately.

:class:`~litestar_queues.QueueService` exposes them as ``workers()`` and ``finished_counts()``;
the CLIs' ``workers`` and ``status`` commands and dashboards call those.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from litestar_queues.models import WorkerInfo
    from litestar_queues.ports import Clock, QueueBackend

__all__ = ("finished_counts", "live_workers")


async def live_workers(backend: QueueBackend, clock: Clock) -> list[WorkerInfo]:
    """The workers whose presence has not expired by the clock's now, oldest first."""
    return list(await backend.live_workers(now=clock.now()))


async def finished_counts(
    backend: QueueBackend, clock: Clock, *, since: datetime | None, window: timedelta
) -> dict[str, dict[str, int]]:
    """Tasks finished since ``since`` (default: ``window`` before the clock's now), per queue and status.

    Raises:
        QueueConfigurationError: ``since`` is naive, or ``window`` is not a positive timedelta.
    """
    if since is None:
        if not isinstance(window, timedelta) or window <= timedelta(0):
            raise QueueConfigurationError(f"window must be a positive timedelta, got {window!r}")
        since = clock.now() - window
    elif not isinstance(since, datetime) or since.tzinfo is None or since.utcoffset() is None:
        raise QueueConfigurationError(f"since must be a timezone-aware datetime, got {since!r}")
    counts = await backend.finished_counts(since=since.astimezone(UTC))
    return {queue: dict(per_status) for queue, per_status in counts.items() if per_status}
