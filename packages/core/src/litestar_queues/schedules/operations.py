"""What operators see and change: each schedule's definition and stored state; pause, resume, delete.

The :class:`~litestar_queues.QueueService` methods ``schedules``, ``pause_schedule``,
``resume_schedule`` and ``delete_schedule`` call these; both CLIs print their results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from litestar_queues.exceptions import ScheduleError, ScheduleNotFoundError
from litestar_queues.schedules.timing import next_fire

if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from uuid import UUID

    from litestar_queues.models import ScheduleState
    from litestar_queues.schedules.definition import Schedule
    from litestar_queues.service import QueueService

__all__ = ("ScheduleInfo", "ScheduleStatus", "delete_schedule", "list_schedules", "set_schedule_paused")

logger = logging.getLogger("litestar_queues.admin")

ScheduleStatus = Literal["active", "paused", "disabled", "removed", "new"]
"""Where a schedule stands; see :attr:`ScheduleInfo.status`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleInfo:
    """One schedule: its definition in this process's code and its state in the queue backend.

    Attributes:
        name: The schedule's name.
        status: ``active`` (declared and stored), ``paused`` (its due times pass without
            firing until resumed), ``disabled`` (declared with ``enabled=False``), ``removed``
            (stored, but declared nowhere in this process: it fires no more; delete its state
            with ``delete_schedule``), or ``new`` (declared; no scheduler has stored it yet).
        task: The task it enqueues (``None`` for a removed schedule: only code knows it).
        cron: Its cron expression, or ``None``.
        interval: Its interval, or ``None``.
        timezone: The zone its cron expression is read in (``None`` for interval schedules
            and removed ones).
        paused: Whether it is paused (a stored flag, shared by every process).
        last_fire: The due time of its last fire (aware UTC), or ``None``.
        last_task_id: The record that fire enqueued, or ``None``.
        next_fire: Its next due time (aware UTC): stored, or for a ``new`` schedule the one
            it gets when a scheduler first sees it.
    """

    name: str
    status: ScheduleStatus
    task: str | None
    cron: str | None
    interval: timedelta | None
    timezone: str | None
    paused: bool
    last_fire: datetime | None
    last_task_id: UUID | None
    next_fire: datetime | None

    @classmethod
    def of(
        cls, name: str, schedule: Schedule | None, state: ScheduleState | None, now: datetime
    ) -> ScheduleInfo:
        """Combine a declared schedule (or ``None``) and a stored state (or ``None``)."""
        paused = state is not None and state.paused
        status: ScheduleStatus
        if schedule is None:
            status = "removed"
        elif paused:
            status = "paused"
        elif not schedule.enabled:
            status = "disabled"
        else:
            status = "active" if state is not None else "new"
        upcoming = state.next_fire if state is not None else None
        if upcoming is None and schedule is not None:
            upcoming = next_fire(schedule, now)
        return cls(
            name=name,
            status=status,
            task=schedule.task if schedule is not None else None,
            cron=schedule.cron if schedule is not None else None,
            interval=schedule.period if schedule is not None else None,
            timezone=schedule.timezone if schedule is not None and schedule.cron is not None else None,
            paused=paused,
            last_fire=state.last_fire if state is not None else None,
            last_task_id=state.last_task_id if state is not None else None,
            next_fire=upcoming,
        )


async def list_schedules(service: QueueService) -> list[ScheduleInfo]:
    """Every schedule declared in this process or stored in the backend, sorted by name."""
    declared = {schedule.name: schedule for schedule in service.declared_schedules()}
    stored = {state.name: state for state in await service.backend.schedule_states()}
    now = service.config.clock.now()
    return [
        ScheduleInfo.of(name, declared.get(name), stored.get(name), now)
        for name in sorted(declared.keys() | stored.keys())
    ]


async def set_schedule_paused(service: QueueService, name: str, *, paused: bool) -> ScheduleInfo:
    """Pause or resume the schedule ``name`` for every process; a declared one is stored first.

    Raises:
        ScheduleNotFoundError: No schedule of that name is declared or stored.
    """
    declared = {schedule.name: schedule for schedule in service.declared_schedules()}
    backend = service.backend
    now = service.config.clock.now()
    schedule = declared.get(name)
    if schedule is not None:
        # not stored yet (no scheduler ran since it was declared): store it as a scheduler would
        await backend.advance_schedule(
            name, expected=None, next_fire=next_fire(schedule, now), record=None, now=now
        )
    state = await backend.set_schedule_paused(name, paused=paused, now=now)
    if state is None:
        raise ScheduleNotFoundError(name)
    logger.info("schedule %s %s", name, "paused" if paused else "resumed")
    return ScheduleInfo.of(name, schedule, state, now)


async def delete_schedule(service: QueueService, name: str, *, force: bool = False) -> None:
    """Delete the stored state of a schedule removed from the code (its records stay).

    Raises:
        ScheduleError: The schedule is still declared in this process and ``force`` is not
            set (its schedulers would store it again at their next tick).
        ScheduleNotFoundError: No state is stored under ``name``.
    """
    declared = {schedule.name for schedule in service.declared_schedules()}
    if name in declared and not force:
        raise ScheduleError(
            f"schedule {name!r} is still declared in this process (QueueConfig.schedules or "
            "@task(cron=... / interval=...)), so schedulers store it again at their next tick: remove "
            "it from the code first, or force the deletion (force=True, --force) to restart it from now"
        )
    if not await service.backend.delete_schedule(name):
        raise ScheduleNotFoundError(name)
    logger.info("schedule %s deleted", name)
