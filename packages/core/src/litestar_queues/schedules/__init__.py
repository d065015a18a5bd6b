"""Schedules: tasks enqueued on a cron expression or a fixed interval.

This package holds the pure half: what a schedule is, when it fires, what it does after
downtime, and the identity of each due time. Nothing here reads a clock or touches a store;
the scheduler passes ``now`` in, like the queue port does.
"""

from __future__ import annotations

from litestar_queues.schedules.definition import EPOCH, MisfirePolicy, Schedule
from litestar_queues.schedules.identity import due_key
from litestar_queues.schedules.misfire import DEFAULT_MISFIRE_GRACE, FireDecision, decide_fire
from litestar_queues.schedules.timing import jitter_offset, last_fire, next_fire

__all__ = (
    "DEFAULT_MISFIRE_GRACE",
    "EPOCH",
    "FireDecision",
    "MisfirePolicy",
    "Schedule",
    "decide_fire",
    "due_key",
    "jitter_offset",
    "last_fire",
    "next_fire",
)
