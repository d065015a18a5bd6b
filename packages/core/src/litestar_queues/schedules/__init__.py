"""Schedules: tasks enqueued on a cron expression or a fixed interval.

The pure half is exported here: what a schedule is, when it fires, what it does after
downtime, and the identity of each due time; none of it reads a clock or touches a store.
The half that applies them lives in :mod:`litestar_queues.schedules.scheduler` (the
``Scheduler`` every worker runs), :mod:`~litestar_queues.schedules.declared` (which schedules a
process declares) and :mod:`~litestar_queues.schedules.operations` (listing, pause, resume,
delete), all re-exported from ``litestar_queues``.
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
