"""How long finished records are kept, and the sweep that deletes older ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import RecordQuery

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues.models import TaskStatus
    from litestar_queues.ports import QueueBackend

__all__ = ("RETENTION_DUTY", "Retention", "prune")

logger = logging.getLogger("litestar_queues.retention")

RETENTION_DUTY = "retention"
"""The duty (:meth:`~litestar_queues.ports.QueueBackend.take_turn`) a worker holds while it sweeps."""

_MAX_AGE = timedelta(days=36500)


def _age(value: timedelta | float | None, what: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise QueueConfigurationError(f"{what} must be a timedelta, seconds or None, got {value!r}")
    age = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if not timedelta(0) < age <= _MAX_AGE:
        raise QueueConfigurationError(f"{what} must be more than 0 and at most 100 years, got {value!r}")
    return age


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long finished records are kept before a worker's sweep deletes them.

    Each age counts from the record's ``finished_at``; ``None`` keeps that status forever.
    A record's result, error and attempt history are part of it and go with it.

    Attributes:
        completed: Age of completed records (default one day).
        failed: Age of failed records (default seven days: long enough to find and retry them
            after a weekend).
        cancelled: Age of cancelled records (default seven days).
        interval: Seconds between sweeps. Across every worker sharing the backend, one worker
            at a time holds the sweep's turn for this long, so the sweep runs about once per
            interval however many workers run.
        batch: Records deleted per backend call; a sweep calls until a call deletes fewer.
        enabled: ``False`` turns the workers' sweep off (``prune`` still works on demand).
    """

    completed: timedelta | float | None = timedelta(days=1)
    failed: timedelta | float | None = timedelta(days=7)
    cancelled: timedelta | float | None = timedelta(days=7)
    interval: float = 60.0
    batch: int = 1000
    enabled: bool = True

    def __post_init__(self) -> None:
        for status in ("completed", "failed", "cancelled"):
            object.__setattr__(self, status, _age(getattr(self, status), f"Retention.{status}"))
        if (
            isinstance(self.interval, bool)
            or not isinstance(self.interval, (int, float))
            or self.interval <= 0
        ):
            raise QueueConfigurationError(f"Retention.interval must be seconds > 0, got {self.interval!r}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or not 1 <= self.batch <= 10_000:
            raise QueueConfigurationError(
                f"Retention.batch must be a whole number from 1 to 10000, got {self.batch!r}"
            )

    def ages(self) -> dict[TaskStatus, timedelta]:
        """The kept statuses and their ages (statuses kept forever are left out)."""
        ages: dict[TaskStatus, timedelta] = {}
        for status in ("completed", "failed", "cancelled"):
            age = getattr(self, status)
            if age is not None:
                ages[status] = age
        return ages


async def prune(backend: QueueBackend, retention: Retention, now: datetime) -> dict[str, int]:
    """Delete finished records older than ``retention`` allows, batch by batch, oldest first.

    Safe to run from many workers at once (each record is deleted once; a running record is
    never touched); workers take :data:`RETENTION_DUTY` first so that one at a time does.

    Returns:
        The number of records deleted per status.
    """
    deleted: dict[str, int] = {}
    for status, age in retention.ages().items():
        cutoff = now - age
        # created_before bounds the index range too: a record finished before the cutoff was
        # created before it, so the backend walks only old records
        query = RecordQuery(
            statuses=(status,),
            finished_before=cutoff,
            created_before=cutoff,
            newest_first=False,
            limit=retention.batch,
        )
        total = 0
        while True:
            removed = len(await backend.delete(query))
            total += removed
            if removed < retention.batch:
                break
        if total:
            deleted[status] = total
    if deleted:
        logger.info("retention: deleted %s", ", ".join(f"{n} {status}" for status, n in deleted.items()))
    return deleted
