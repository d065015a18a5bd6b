"""Next and last fire times: strictly later, never skipping one, and interval grids fixed by the anchor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.schedules import EPOCH, Schedule, last_fire, next_fire

ZONES = [UTC, *(ZoneInfo(name) for name in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"))]
EXPRESSIONS = [
    "0 3 * * *",
    "30 2 * * *",
    "*/5 * * * *",
    "0 * * * *",
    "15 9-17 * * 1-5",
    "0 0 1 * *",
    "0 0 * * SUN",
    "0 12 29 2 *",
    "59 23 31 12 *",
    "0 0 L * *",
]

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.sampled_from(ZONES)
)
cron_schedules = st.builds(
    lambda expression, zone: Schedule(name="cron", task="t", cron=expression, timezone=zone),
    st.sampled_from(EXPRESSIONS),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
)
periods = st.one_of(
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=40)),
    st.sampled_from([timedelta(seconds=7), timedelta(minutes=90), timedelta(days=1), timedelta(weeks=1)]),
)
interval_schedules = st.builds(
    lambda period, anchor: Schedule(name="interval", task="t", interval=period, anchor=anchor),
    periods,
    st.none() | instants,
)
schedules = cron_schedules | interval_schedules


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


@given(schedule=schedules, after=instants)
def test_next_fire_is_strictly_after_and_in_utc(schedule: Schedule, after: datetime) -> None:
    fire = next_fire(schedule, after)
    assert fire > after
    assert fire.tzinfo is UTC
    assert next_fire(schedule, fire) > fire


@given(schedule=schedules, after=instants, step=st.integers(min_value=0))
def test_no_fire_time_lies_between_after_and_next_fire(
    schedule: Schedule, after: datetime, step: int
) -> None:
    fire = next_fire(schedule, after)
    after = after.astimezone(UTC)  # arithmetic on a zone's wall clock would forget the fold
    between = after + timedelta(microseconds=step % ((fire - after) // timedelta(microseconds=1)))
    assert next_fire(schedule, between) == fire


@given(schedule=schedules, a=instants, b=instants)
def test_next_fire_never_decreases(schedule: Schedule, a: datetime, b: datetime) -> None:
    earlier, later = sorted([a, b], key=lambda t: t.astimezone(UTC))
    assert next_fire(schedule, earlier) <= next_fire(schedule, later)


@given(schedule=interval_schedules, after=instants)
def test_interval_fire_times_sit_on_the_anchor_grid(schedule: Schedule, after: datetime) -> None:
    assert schedule.period is not None
    fire = next_fire(schedule, after)
    assert (fire - (schedule.anchor or EPOCH)) % schedule.period == timedelta(0)
    assert fire - schedule.period <= after


def test_an_interval_does_not_drift_with_the_scheduler() -> None:
    schedule = Schedule(name="poll", task="t", interval=timedelta(minutes=5))
    # a scheduler that runs late, at odd moments, still gets the :00, :05, :10 grid
    assert next_fire(schedule, _utc(2026, 1, 1, 0, 7, 42)) == _utc(2026, 1, 1, 0, 10)
    assert next_fire(schedule, _utc(2026, 1, 1, 0, 10, 0, 1)) == _utc(2026, 1, 1, 0, 15)
    assert next_fire(schedule, _utc(2026, 1, 1, 0, 10)) == _utc(2026, 1, 1, 0, 15)


def test_an_anchor_sets_the_phase_in_elapsed_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    schedule = Schedule(
        name="daily", task="t", interval=timedelta(days=1), anchor=datetime(2026, 3, 27, 3, tzinfo=berlin)
    )
    # 03:00 CET is 02:00 UTC; a day of elapsed time later is still 02:00 UTC, 04:00 CEST after
    # the spring-forward change: use cron for a wall-clock time
    assert next_fire(schedule, _utc(2026, 3, 28, 12)) == _utc(2026, 3, 29, 2)
    assert next_fire(schedule, _utc(2026, 3, 29, 12)).astimezone(berlin).hour == 4
    # the grid extends before the anchor too: the anchor fixes the phase, not a start
    assert next_fire(schedule, _utc(2026, 1, 1)) == _utc(2026, 1, 1, 2)


@given(schedule=schedules, a=instants, b=instants)
def test_last_fire_is_the_latest_fire_time_in_the_window(
    schedule: Schedule, a: datetime, b: datetime
) -> None:
    since, at = sorted([a, b], key=lambda t: t.astimezone(UTC))
    last = last_fire(schedule, at, since=since)
    if last is None:
        assert next_fire(schedule, since.astimezone(UTC) - timedelta(microseconds=1)) > at
    else:
        assert since <= last <= at
        assert last.tzinfo is UTC
        assert next_fire(schedule, last - timedelta(microseconds=1)) == last
        assert next_fire(schedule, last) > at


def test_last_fire_over_years_of_a_leap_day_schedule() -> None:
    schedule = Schedule(name="leap", task="t", cron="0 12 29 2 *")
    assert last_fire(schedule, _utc(2031, 1, 1), since=_utc(2001, 1, 1)) == _utc(2028, 2, 29, 12)
    assert last_fire(schedule, _utc(2028, 2, 29, 11), since=_utc(2025, 1, 1)) is None
    assert last_fire(schedule, _utc(2028, 2, 29, 12), since=_utc(2028, 2, 29, 12)) == _utc(2028, 2, 29, 12)


@pytest.mark.parametrize("call", [next_fire, lambda s, t: last_fire(s, t, since=t)])
def test_a_naive_time_is_refused(call: object) -> None:
    schedule = Schedule(name="nightly", task="t", cron="0 3 * * *")
    with pytest.raises(QueueConfigurationError, match="must be a timezone-aware datetime"):
        call(schedule, datetime(2026, 1, 1))  # type: ignore[operator]
