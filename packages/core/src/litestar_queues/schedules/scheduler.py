"""The scheduler: applies the schedules to the queue backend, one record per due time.

Every worker runs one (no leader is elected). Each :meth:`Scheduler.tick` reads the stored
schedule states once and moves each due schedule on with the backend's atomic compare-and-set
(:meth:`~litestar_queues.ports.QueueBackend.advance_schedule`), which enqueues the fire's record
in the same step: of any number of schedulers reaching a due time, one moves the state and
enqueues, the others are refused and find the schedule no longer due.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from litestar_queues.schedules._utc import as_utc
from litestar_queues.schedules.declared import check_declared, declared_schedules
from litestar_queues.schedules.identity import due_key
from litestar_queues.schedules.misfire import DEFAULT_MISFIRE_GRACE, decide_fire
from litestar_queues.schedules.timing import next_fire
from litestar_queues.task import EnqueueOptions

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.models import ScheduleState, TaskRecord
    from litestar_queues.schedules.definition import Schedule
    from litestar_queues.service import QueueService

__all__ = ("CLOCK_SKEW", "ScheduleFire", "Scheduler")

logger = logging.getLogger("litestar_queues.schedules")

CLOCK_SKEW = timedelta(minutes=1)
"""How far the clocks of processes running schedulers may disagree.

A stored next fire time beyond the schedule's first fire time after ``now + CLOCK_SKEW`` is
taken for a leftover of an older definition and recomputed; within it, it is taken for the
work of a scheduler whose clock runs ahead, and kept.
"""

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ScheduleFire:
    """One due time a :meth:`Scheduler.tick` enqueued.

    Attributes:
        name: The schedule's name.
        due: The due time fired (aware UTC); its record's dedup key is ``due_key(name, due)``.
        run_at: When the record may start (``due`` plus the schedule's jitter).
        task_id: The id of the record enqueued (or of the active record that held its key).
        created: Whether the record was stored by this fire (``False``: its key was held).
        missed_since: The earliest due time that got no record of its own (downtime), or
            ``None``.
    """

    name: str
    due: datetime
    run_at: datetime
    task_id: UUID | None
    created: bool
    missed_since: datetime | None


class Scheduler:
    """Enqueues each due time of the declared schedules once, through the queue backend.

    Workers run one each (``WorkerConfig.scheduler``); call :meth:`tick` yourself to drive
    one from a test or your own loop.

    Args:
        service: The queue service whose backend stores the schedule states and records.
        schedules: The schedules to apply (default: the service's declared schedules,
            ``QueueConfig.schedules`` and ``@task(cron=...)``).
        interval: Seconds between ticks of :meth:`run` (default:
            ``WorkerConfig.scheduler_interval``). A ``skip`` schedule's grace is at least this.

    Raises:
        ScheduleError: Two schedules share a name, or one names an unregistered task.
        QueueConfigurationError: A schedule's record cannot be built (its arguments are too
            large for ``max_payload_bytes``, its task's placement is refused).
    """

    def __init__(
        self,
        service: QueueService,
        schedules: Sequence[Schedule] | None = None,
        *,
        interval: float | None = None,
    ) -> None:
        self.service = service
        if schedules is None:
            self.schedules = declared_schedules(service.config)
        else:
            self.schedules = tuple(schedules)
            check_declared(self.schedules, service.config.registry)
        self.interval = interval if interval is not None else service.config.worker.scheduler_interval
        self.grace = max(DEFAULT_MISFIRE_GRACE, timedelta(seconds=self.interval))
        """How late a ``skip`` schedule's due time may be reached and still fire."""
        # stored next fire times already found to fit their schedule (see _refit)
        self._fitting: dict[str, datetime] = {}
        now = service.config.clock.now()
        for schedule in self.schedules:
            self._record(schedule, now, now, now)  # fails now, not at the first due time

    async def run(self) -> None:
        """Tick every :attr:`interval` seconds until cancelled (returns at once without schedules).

        A failing tick (the backend unreachable) is logged at WARNING and tried again at the
        next interval.
        """
        if not self.schedules:
            return
        clock = self.service.config.clock
        while True:
            try:
                await self.tick(clock.now())
            except Exception as exc:
                logger.warning("the scheduler could not apply the schedules (trying again): %r", exc)
            await anyio.sleep(self.interval)

    async def tick(self, now: datetime) -> list[ScheduleFire]:
        """Apply every schedule at ``now``: create missing states, fire or pass due times.

        Args:
            now: The current time (aware); read from the service's clock by :meth:`run`.

        Returns:
            The due times this call enqueued (another scheduler may have fired others).
        """
        now = as_utc(now, "now")
        states = {state.name: state for state in await self.service.backend.schedule_states()}
        fires: list[ScheduleFire] = []
        for schedule in self.schedules:
            fire = await self._apply(schedule, states.get(schedule.name), now)
            if fire is not None:
                fires.append(fire)
        return fires

    async def _advance(
        self,
        name: str,
        expected: datetime | None,
        to: datetime,
        now: datetime,
        record: TaskRecord | None = None,
    ) -> ScheduleState | None:
        backend = self.service.backend
        advance = functools.partial(
            backend.advance_schedule, name, expected=expected, next_fire=to, record=record, now=now
        )
        observers = self.service.attempts.observers if record is not None else None
        if observers is None or record is None:
            return await advance()
        # a fire is an enqueue: observed like the service's
        observers.enqueuing(record)
        try:
            state = await advance()
        except BaseException as exc:
            observers.enqueued(record, created=False, error=exc)
            raise
        created = state is not None and state.last_task_id == record.id
        observers.enqueued(record, created=created, error=None)
        return state

    async def _apply(
        self, schedule: Schedule, state: ScheduleState | None, now: datetime
    ) -> ScheduleFire | None:
        name = schedule.name
        if state is None:
            # a new schedule runs from now on, not for the times before it existed
            first = next_fire(schedule, now)
            if await self._advance(name, None, first, now) is not None:
                logger.info("schedule %s: first seen, first due time %s", name, _text(first))
            return None
        stored = state.next_fire
        if stored > now:
            await self._refit(schedule, state, now)
            return None
        decision = decide_fire(schedule, stored, now, grace=self.grace)
        if state.paused or decision.due is None or decision.run_at is None:
            # paused, disabled, or too late for a skip schedule: the due times pass unfired,
            # so a resumed schedule continues from its next due time instead of catching up
            moved = await self._advance(name, stored, decision.next_due, now)
            if moved is not None and decision.missed_since is not None and not state.paused:
                logger.warning(
                    "schedule %s missed its due times since %s (no scheduler ran in time): skipped "
                    "(misfire policy skip), next due time %s",
                    name,
                    _text(decision.missed_since),
                    _text(decision.next_due),
                )
            return None
        expected = stored
        if decision.due != stored:
            # catching up: first move the stored due time onto the one that fires (no record),
            # so the fire below stores that due time as last_fire. Both steps are compare-and-set:
            # a scheduler that dies between them leaves a due state that the next tick fires.
            if await self._advance(name, stored, decision.due, now) is None:
                return None
            expected = decision.due
            logger.warning(
                "schedule %s missed its due times since %s (no scheduler ran): firing once for %s "
                "(misfire policy catch_up_once)",
                name,
                _text(stored),
                _text(decision.due),
            )
        record = self._record(schedule, decision.due, decision.run_at, now)
        fired = await self._advance(name, expected, decision.next_due, now, record)
        if fired is None:
            return None
        created = fired.last_task_id == record.id
        logger.info(
            "schedule %s fired for %s: task %s %s%s",
            name,
            _text(decision.due),
            schedule.task,
            fired.last_task_id,
            "" if created else " (already enqueued: its dedup key was held)",
        )
        return ScheduleFire(
            name=name,
            due=decision.due,
            run_at=decision.run_at,
            task_id=fired.last_task_id,
            created=created,
            missed_since=decision.missed_since,
        )

    async def _refit(self, schedule: Schedule, state: ScheduleState, now: datetime) -> None:
        """Replace a future stored due time that does not fit the schedule's definition.

        It fits when it is one of the schedule's fire times and no later than its first fire
        time after ``now + CLOCK_SKEW`` (a scheduler whose clock runs ahead stores a later
        one). Otherwise the definition changed since it was stored (a cron expression edited,
        an interval shortened), and it becomes the first fire time after ``now`` (and after
        the last fire, so a due time never fires twice).
        """
        stored = state.next_fire
        if self._fitting.get(schedule.name) == stored:
            return
        if next_fire(schedule, stored - _TICK) == stored and stored <= next_fire(schedule, now + CLOCK_SKEW):
            self._fitting[schedule.name] = stored
            return
        since = max(now, state.last_fire) if state.last_fire is not None else now
        refit = next_fire(schedule, since)
        if await self._advance(schedule.name, stored, refit, now) is not None:
            logger.info(
                "schedule %s: the stored due time %s does not fit its definition (changed?): next due "
                "time %s",
                schedule.name,
                _text(stored),
                _text(refit),
            )

    def _record(self, schedule: Schedule, due: datetime, run_at: datetime, now: datetime) -> TaskRecord:
        """The record of one due time, built the way every enqueue builds its record."""
        options = EnqueueOptions(
            queue=schedule.queue,
            priority=schedule.priority,
            run_after=run_at,
            key=due_key(schedule.name, due),
        )
        return self.service.build_record(schedule.task, schedule.args, schedule.kwargs, options, now=now)


def _text(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")
