"""What a schedule is: a task, its arguments, when it fires, and what happens after downtime."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar_queues.exceptions import ScheduleError, SerializationError
from litestar_queues.schedules._cron import check_expression
from litestar_queues.serialization import to_json_value

__all__ = ("EPOCH", "MisfirePolicy", "Schedule")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The default anchor of interval schedules: an hourly schedule fires on the hour (UTC)."""

_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,200}")


class MisfirePolicy(StrEnum):
    """What a schedule does with due times that passed while no scheduler ran.

    Either way a schedule never fires a burst: after any outage it enqueues at most one record.
    """

    SKIP = "skip"
    """Fire only a due time the scheduler reaches on time (within its grace); drop the missed."""

    CATCH_UP_ONCE = "catch_up_once"
    """Fire one record for all the missed due times (the latest of them), then continue."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """A task enqueued periodically, on a cron expression or a fixed interval.

    Every field is checked at construction, so a mistake fails when the application starts,
    not at the first due time.

    Attributes:
        name: Identity of the schedule, stable across deploys: due times are stored and
            deduplicated under it (1 to 200 of ``A-Z a-z 0-9 _ . - /``).
        task: Name of the registered task to enqueue.
        args: Positional arguments of each enqueued task (JSON values).
        kwargs: Keyword arguments of each enqueued task (JSON values).
        cron: A five-field cron expression read on the clock of ``timezone`` (needs the
            ``cron`` extra). Exactly one of ``cron`` and ``interval``.
        interval: Seconds, or a timedelta, between fire times; stored as a timedelta. Fire
            times are ``anchor + k * interval``: they do not drift with the scheduler.
        anchor: An aware instant on the grid of an interval schedule (default: the Unix epoch).
        timezone: IANA name of the zone a cron expression is read in (``"Europe/Berlin"``);
            interval schedules count elapsed time and do not use it.
        jitter: Up to this many seconds of delay added to each record's start, the same on
            every scheduler (it never changes which due time a record stands for).
        queue: Queue of the enqueued tasks (``None``: the task's default).
        priority: Priority of the enqueued tasks (``None``: the task's default).
        enabled: A disabled schedule fires nothing; its due times pass without a record.
        misfire: What happens to due times missed during downtime. The default,
            ``catch_up_once``, runs a nightly job once after a deploy or an outage instead
            of silently skipping it; choose ``skip`` for work a late run is useless for.
    """

    name: str
    task: str
    # arguments may hold lists and dicts: the schedule hashes by its other fields
    args: Sequence[Any] = field(default=(), hash=False)
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    cron: str | None = None
    interval: timedelta | float | None = None
    anchor: datetime | None = None
    timezone: str = "UTC"
    jitter: float = 0.0
    queue: str | None = None
    priority: int | None = None
    enabled: bool = True
    misfire: MisfirePolicy = MisfirePolicy.CATCH_UP_ONCE

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ScheduleError(
                f"schedule name {self.name!r} is invalid: use 1 to 200 letters, digits or _ . - / "
                "(the name identifies the schedule's stored state and its records' dedup keys)"
            )
        what = f"schedule {self.name!r}"
        if not isinstance(self.task, str) or not self.task:
            raise ScheduleError(f"{what}: task must be the name of a registered task, got {self.task!r}")
        self._check_payload(what)
        self._check_timing(what)
        self._check_enqueue(what)

    @property
    def zone(self) -> tzinfo:
        """The time zone named by :attr:`timezone`."""
        return _zone(self.timezone)

    @property
    def period(self) -> timedelta | None:
        """The interval as a timedelta, or ``None`` for a cron schedule."""
        return self.interval if isinstance(self.interval, timedelta) else None

    def _check_enqueue(self, what: str) -> None:
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float):
            raise ScheduleError(f"{what}: jitter must be a number of seconds, got {jitter!r}")
        if not (math.isfinite(jitter) and jitter >= 0):
            raise ScheduleError(f"{what}: jitter must be >= 0 seconds (0 for none), got {jitter!r}")
        if self.queue is not None and (not isinstance(self.queue, str) or not self.queue):
            raise ScheduleError(f"{what}: queue must be a non-empty string or None, got {self.queue!r}")
        priority = self.priority
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            raise ScheduleError(f"{what}: priority must be an integer or None, got {priority!r}")
        if not isinstance(self.enabled, bool):
            raise ScheduleError(f"{what}: enabled must be True or False, got {self.enabled!r}")
        try:
            object.__setattr__(self, "misfire", MisfirePolicy(self.misfire))
        except ValueError:
            choices = ", ".join(repr(p.value) for p in MisfirePolicy)
            raise ScheduleError(f"{what}: misfire must be one of {choices}, got {self.misfire!r}") from None

    def _check_payload(self, what: str) -> None:
        if isinstance(self.args, str | bytes) or not isinstance(self.args, Sequence):
            raise ScheduleError(f"{what}: args must be a list or tuple of arguments, got {self.args!r}")
        if not isinstance(self.kwargs, Mapping) or not all(isinstance(k, str) for k in self.kwargs):
            raise ScheduleError(f"{what}: kwargs must be a mapping with string keys, got {self.kwargs!r}")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        try:
            to_json_value([self.args, self.kwargs], what=f"the arguments of {what}")
        except SerializationError as exc:
            raise ScheduleError(str(exc)) from None

    def _check_timing(self, what: str) -> None:
        if (self.cron is None) == (self.interval is None):
            given = "both" if self.cron is not None else "neither"
            raise ScheduleError(
                f"{what} has {given} of cron and interval: give exactly one, "
                "e.g. cron='0 3 * * *' or interval=timedelta(minutes=5)"
            )
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ScheduleError(
                f"{what}: unknown timezone {self.timezone!r}: use an IANA name such as "
                "'Europe/Berlin' or 'UTC' (on a system without a time zone database, "
                "pip install tzdata)"
            ) from None
        if self.cron is not None:
            if not isinstance(self.cron, str):
                raise ScheduleError(f"{what}: cron must be a string such as '0 3 * * *', got {self.cron!r}")
            if self.anchor is not None:
                raise ScheduleError(f"{what}: anchor applies to interval schedules only; remove it")
            check_expression(self.cron, what)
            return
        object.__setattr__(self, "interval", _as_period(self.interval, what))
        if self.anchor is not None and (
            not isinstance(self.anchor, datetime) or self.anchor.utcoffset() is None
        ):
            raise ScheduleError(
                f"{what}: anchor must be a timezone-aware datetime, e.g. "
                f"datetime(2026, 1, 1, 3, tzinfo=UTC), got {self.anchor!r}"
            )


def _zone(name: str) -> tzinfo:
    # UTC needs no time zone database (a slim container may have none)
    return UTC if name == "UTC" else ZoneInfo(name)


def _as_period(interval: object, what: str) -> timedelta:
    if isinstance(interval, bool) or not isinstance(interval, int | float | timedelta):
        raise ScheduleError(f"{what}: interval must be seconds or a timedelta, got {interval!r}")
    try:
        period = interval if isinstance(interval, timedelta) else timedelta(seconds=interval)
    except (OverflowError, ValueError):
        raise ScheduleError(
            f"{what}: interval must be a finite number of seconds, got {interval!r}"
        ) from None
    if period <= timedelta(0):
        raise ScheduleError(f"{what}: interval must be > 0, got {interval!r}")
    return period
