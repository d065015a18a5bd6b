"""What a scheduler does when a schedule's stored due time has come: at most one record, ever.

The scheduler keeps one value per schedule, its next due time. When ``now`` reaches it,
:func:`decide_fire` says which single due time to enqueue (if any) under the schedule's
misfire policy, and what the stored next due time becomes. The store then moves the stored
value from the old due time to the new one and stores the record in one atomic step, so any
number of schedulers racing on the same decision produce one record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.schedules._utc import as_utc
from litestar_queues.schedules.definition import MisfirePolicy
from litestar_queues.schedules.timing import jitter_offset, last_fire, next_fire

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues.schedules.definition import Schedule

__all__ = ("DEFAULT_MISFIRE_GRACE", "FireDecision", "decide_fire")

DEFAULT_MISFIRE_GRACE = timedelta(minutes=1)
"""How late a due time may be reached and still count as on time (``skip`` policy)."""


@dataclass(frozen=True, slots=True)
class FireDecision:
    """The outcome of :func:`decide_fire`.

    Attributes:
        due: The due time to enqueue a record for (its identity: see
            :func:`~litestar_queues.schedules.due_key`), or ``None`` to enqueue nothing.
            Never later than ``now``.
        run_at: When that record may start: ``due`` plus the schedule's jitter offset
            (``None`` when nothing fires).
        next_due: The schedule's new stored due time, strictly after ``now``; unchanged
            when the stored one has not come yet.
        missed_since: The earliest due time that got no record of its own (downtime, or a
            scheduler that fell behind), or ``None`` when none was missed.
    """

    due: datetime | None
    run_at: datetime | None
    next_due: datetime
    missed_since: datetime | None


def decide_fire(
    schedule: Schedule,
    stored_due: datetime,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
) -> FireDecision:
    """Decide what a schedule fires at ``now``, given its stored next due time.

    The due times that have come are ``stored_due`` and every fire time after it up to
    ``now``. Of these at most one fires, the latest:

    * ``catch_up_once``: always (after a three-hour outage an hourly schedule fires once, for
      the last hour that came, and the others are missed).
    * ``skip``: only if it came no more than ``grace`` before ``now``; otherwise nothing fires
      until the next due time.
    * a disabled schedule fires nothing, and its due times pass without counting as missed.

    Args:
        schedule: The schedule.
        stored_due: The schedule's stored next due time (aware). It counts as due even if the
            schedule's definition changed since it was stored.
        now: The current time (aware).
        grace: How late a due time may be reached and still fire under ``skip``; give at
            least the scheduler's polling interval.

    Returns:
        The decision; its times are aware UTC datetimes.

    Raises:
        QueueConfigurationError: A time is naive, or ``grace`` is negative.
    """
    stored = as_utc(stored_due, "stored_due")
    now = as_utc(now, "now")
    if grace < timedelta(0):
        raise QueueConfigurationError(f"grace must be >= 0, got {grace!r}")
    if stored > now:
        return FireDecision(due=None, run_at=None, next_due=stored, missed_since=None)
    latest = last_fire(schedule, now, since=stored) or stored
    next_due = next_fire(schedule, latest)
    if not schedule.enabled:
        return FireDecision(due=None, run_at=None, next_due=next_due, missed_since=None)
    if schedule.misfire is MisfirePolicy.SKIP and now - latest > grace:
        return FireDecision(due=None, run_at=None, next_due=next_due, missed_since=stored)
    return FireDecision(
        due=latest,
        run_at=latest + jitter_offset(schedule, latest),
        next_due=next_due,
        missed_since=stored if latest > stored else None,
    )
