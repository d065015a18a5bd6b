"""When a schedule fires: its next and last fire times, and its jitter. Pure functions of time.

The rules (documented in ``docs/schedules.md``):

* Interval schedules fire at ``anchor + k * interval`` for every whole ``k``: the grid is fixed
  by the anchor, not by when a scheduler happened to run.
* Cron schedules read the expression on the clock of the schedule's time zone. An expression
  whose minute and hour fields are both fixed (``30 2 * * *``) fires once per matching wall-clock
  time: a time skipped by spring-forward fires at the first instant after the gap, a time that
  happens twice fires at its first occurrence. An expression with ``*`` in its minute or hour
  field (``0 * * * *``) fires at every instant whose local time matches, so an hourly job runs
  once every real hour through both changes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta
from typing import TYPE_CHECKING

from litestar_queues.exceptions import ScheduleError
from litestar_queues.schedules._cron import next_cron_fire
from litestar_queues.schedules._utc import as_utc
from litestar_queues.schedules.definition import EPOCH
from litestar_queues.schedules.identity import due_key

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues.schedules.definition import Schedule

__all__ = ("jitter_offset", "last_fire", "next_fire")

_TICK = timedelta(microseconds=1)
_FIRST_SPAN = timedelta(minutes=1)


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    """The schedule's first fire time strictly after ``after``.

    Args:
        schedule: The schedule.
        after: An aware instant.

    Returns:
        An aware UTC datetime ``> after``.

    Raises:
        QueueConfigurationError: ``after`` is naive.
        CronExpressionError: The cron expression matches no date in the next 50 years.
    """
    after = as_utc(after, "after")
    if schedule.cron is not None:
        return next_cron_fire(schedule.cron, schedule.zone, after)
    period, anchor = _grid(schedule)
    return anchor + ((after - anchor) // period + 1) * period


def last_fire(schedule: Schedule, at: datetime, *, since: datetime) -> datetime | None:
    """The schedule's latest fire time in ``[since, at]``, or ``None`` if it has none there.

    The cost does not grow with the length of ``[since, at]``: an interval schedule computes
    the answer, a cron schedule searches back from ``at`` in doubling steps.

    Args:
        schedule: The schedule.
        at: The latest instant that counts (aware).
        since: The earliest instant that counts (aware).

    Returns:
        An aware UTC datetime, or ``None``.
    """
    at = as_utc(at, "at")
    since = as_utc(since, "since")
    if schedule.cron is None:
        period, anchor = _grid(schedule)
        fire = anchor + ((at - anchor) // period) * period
        return fire if fire >= since else None
    floor = since - _TICK
    span = _FIRST_SPAN
    while True:
        start = floor if at - floor <= span else at - span
        fire = next_fire(schedule, start)
        if fire <= at:
            # the latest fire in (start, at] is the latest in [since, at], since start >= floor
            while (following := next_fire(schedule, fire)) <= at:
                fire = following
            return fire
        if start == floor:
            return None
        span *= 2


def jitter_offset(schedule: Schedule, due: datetime) -> timedelta:
    """The delay added to the start of the record enqueued for ``due``: in ``[0, jitter]``.

    Derived from the due time's key (schedule name and instant), so every scheduler computes
    the same offset, and due times of one schedule, like schedules sharing a due time, spread
    over the window.

    Args:
        schedule: The schedule.
        due: The due time (aware).

    Returns:
        A timedelta between zero and ``schedule.jitter`` seconds, whole microseconds.
    """
    window = int(schedule.jitter * 1_000_000)
    if window == 0:
        return timedelta(0)
    digest = hashlib.blake2b(due_key(schedule.name, due).encode(), digest_size=8).digest()
    return timedelta(microseconds=int.from_bytes(digest, "big") % (window + 1))


def _grid(schedule: Schedule) -> tuple[timedelta, datetime]:
    period = schedule.period
    if period is None:
        raise ScheduleError(f"schedule {schedule.name!r} has neither a cron expression nor an interval")
    return period, (schedule.anchor or EPOCH).astimezone(UTC)
