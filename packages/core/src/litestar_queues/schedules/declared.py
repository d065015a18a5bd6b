"""The schedules a process declares: ``QueueConfig.schedules`` plus ``@task(cron=...)``, checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues.exceptions import ScheduleError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar_queues.config import QueueConfig
    from litestar_queues.registry import TaskRegistry
    from litestar_queues.schedules.definition import Schedule

__all__ = ("check_declared", "declared_schedules")


def declared_schedules(config: QueueConfig) -> tuple[Schedule, ...]:
    """The schedules of ``config`` and of its registry's tasks, sorted by name.

    Read when a service opens and when a worker is built, so a task registered after the
    config was made (its module imported later) still counts.

    Raises:
        ScheduleError: Two schedules share a name, or a schedule names a task that is not
            registered in this process; the message says what to change.
    """
    schedules = [*config.schedules, *config.registry.schedules()]
    check_declared(schedules, config.registry)
    return tuple(sorted(schedules, key=lambda schedule: schedule.name))


def check_declared(schedules: Iterable[Schedule], registry: TaskRegistry) -> None:
    """Refuse repeated schedule names and schedules of unregistered tasks.

    Raises:
        ScheduleError: The message names the schedule and the fix.
    """
    seen: set[str] = set()
    for schedule in schedules:
        if schedule.name in seen:
            raise ScheduleError(
                f"two schedules are named {schedule.name!r} (in QueueConfig.schedules and "
                "@task(cron=...) / interval=..., whose schedules take the task's name): rename one; "
                "the name keys the schedule's stored state"
            )
        seen.add(schedule.name)
        if schedule.task not in registry:
            known = ", ".join(registry.names()) or "none"
            raise ScheduleError(
                f"schedule {schedule.name!r} names task {schedule.task!r}, which is not registered "
                "in this process: import the module that defines it (@task(...)) before the queue "
                f"service opens, or correct the name (registered tasks: {known})"
            )
