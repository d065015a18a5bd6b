"""Cron schedules across daylight-saving changes do what docs/schedules.md says, instant by instant.

Berlin, 2026: spring-forward on 29 March (02:00 CET -> 03:00 CEST, 01:00 UTC), fall-back on
25 October (03:00 CEST -> 02:00 CET, 01:00 UTC): 02:00-03:00 is skipped, then repeated.
New York, 2026: spring-forward on 8 March (02:00 EST -> 03:00 EDT, 07:00 UTC), fall-back on
1 November (02:00 EDT -> 01:00 EST, 06:00 UTC): 02:00-03:00 is skipped, 01:00-02:00 repeated.

A hypothesis test also checks the rule against a brute-force model of it, in five zones.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.schedules import Schedule, next_fire


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


def _fires(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    fires = []
    for _ in range(count):
        after = next_fire(schedule, after)
        fires.append(after)
    return fires


def _cron(expression: str, zone: str) -> Schedule:
    return Schedule(name="dst", task="dst.task", cron=expression, timezone=zone)


@pytest.mark.parametrize(
    ("zone", "expression", "after", "expected"),
    [
        pytest.param(
            "Europe/Berlin",
            "30 2 * * *",
            _utc(2026, 3, 27, 12),
            # 02:30 CET; 02:30 does not exist, so 03:00 CEST (the first instant after the gap); 02:30 CEST
            [_utc(2026, 3, 28, 1, 30), _utc(2026, 3, 29, 1, 0), _utc(2026, 3, 30, 0, 30)],
            id="berlin-daily-spring-forward",
        ),
        pytest.param(
            "Europe/Berlin",
            "30 2 * * *",
            _utc(2026, 10, 23, 12),
            # 02:30 CEST; 02:30 happens twice: once, at the first (CEST); then 02:30 CET
            [_utc(2026, 10, 24, 0, 30), _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)],
            id="berlin-daily-fall-back",
        ),
        pytest.param(
            "America/New_York",
            "30 2 * * *",
            _utc(2026, 3, 6, 12),
            # 02:30 EST; 03:00 EDT (first instant after the gap); 02:30 EDT
            [_utc(2026, 3, 7, 7, 30), _utc(2026, 3, 8, 7, 0), _utc(2026, 3, 9, 6, 30)],
            id="new-york-daily-spring-forward",
        ),
        pytest.param(
            "America/New_York",
            "30 1 * * *",
            _utc(2026, 10, 30, 12),
            # 01:30 EDT; 01:30 happens twice: once, at the first (EDT); then 01:30 EST
            [_utc(2026, 10, 31, 5, 30), _utc(2026, 11, 1, 5, 30), _utc(2026, 11, 2, 6, 30)],
            id="new-york-daily-fall-back",
        ),
        pytest.param(
            "America/New_York",
            "30 2 * * *",
            _utc(2026, 10, 31, 12),
            # in New York 02:30 is not repeated on the fall-back day: 02:30 EST, then 02:30 EST
            [_utc(2026, 11, 1, 7, 30), _utc(2026, 11, 2, 7, 30)],
            id="new-york-daily-0230-fall-back",
        ),
        pytest.param(
            "Europe/Berlin",
            "0 1-3 * * *",
            _utc(2026, 3, 28, 12),
            # 01:00 CET, then 02:00 (skipped) and 03:00 are both 03:00 CEST: one fire; then 01:00 CEST
            [_utc(2026, 3, 29, 0, 0), _utc(2026, 3, 29, 1, 0), _utc(2026, 3, 29, 23, 0)],
            id="berlin-range-spring-forward",
        ),
    ],
)
def test_daily_jobs_run_once_per_day_through_both_changes(
    zone: str, expression: str, after: datetime, expected: list[datetime]
) -> None:
    assert _fires(_cron(expression, zone), after, len(expected)) == expected


@pytest.mark.parametrize(
    ("zone", "day", "runs"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
    ],
)
def test_an_hourly_job_runs_once_every_real_hour(zone: str, day: date, runs: int) -> None:
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    fires = _fires(_cron("0 * * * *", zone), start - timedelta(seconds=1), runs + 1)
    assert fires[0] == start and fires[-1] == end
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(fires))
    assert end - start == timedelta(hours=runs)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # the Berlin fall-back hour, second pass (CET): the next 02:30 on the wall clock is
        # today's first pass, an hour in the past, so the next fire is tomorrow's
        (_utc(2026, 10, 25, 1, 15), _utc(2026, 10, 26, 1, 30)),
        (_utc(2026, 10, 25, 0, 29, 59), _utc(2026, 10, 25, 0, 30)),
        (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)),
        # the first instant after the spring-forward gap, given exactly: strictly after it
        (_utc(2026, 3, 29, 1, 0), _utc(2026, 3, 30, 0, 30)),
        (_utc(2026, 3, 29, 0, 59, 59, 999999), _utc(2026, 3, 29, 1, 0)),
    ],
)
def test_next_fire_is_strictly_after_even_inside_a_repeated_hour(after: datetime, expected: datetime) -> None:
    assert next_fire(_cron("30 2 * * *", "Europe/Berlin"), after) == expected


def test_the_answer_does_not_depend_on_the_zone_after_is_given_in() -> None:
    schedule = _cron("30 2 * * *", "Europe/Berlin")
    instant = _utc(2026, 10, 25, 1, 15)
    for zone in ("Europe/Berlin", "America/New_York", "Asia/Kolkata"):
        assert next_fire(schedule, instant.astimezone(ZoneInfo(zone))) == _utc(2026, 10, 26, 1, 30)


# --- the rule against a brute-force model of it -------------------------------------------------

# each zone beside instants near its clock changes: Lord Howe moves by 30 minutes, Santiago at
# midnight, Troll by two hours, and Samoa skipped 30 December 2011 (from UTC-10 to UTC+14)
CHANGES = [
    ("Europe/Berlin", _utc(2026, 3, 29, 1)),
    ("Europe/Berlin", _utc(2026, 10, 25, 1)),
    ("America/New_York", _utc(2026, 3, 8, 7)),
    ("America/New_York", _utc(2026, 11, 1, 6)),
    ("Australia/Lord_Howe", _utc(2026, 4, 4, 15)),
    ("Australia/Lord_Howe", _utc(2026, 10, 3, 15, 30)),
    ("America/Santiago", _utc(2026, 4, 5, 3)),
    ("America/Santiago", _utc(2026, 9, 6, 4)),
    ("Antarctica/Troll", _utc(2026, 3, 29, 1)),
    ("Antarctica/Troll", _utc(2026, 10, 25, 1)),
    ("Pacific/Apia", _utc(2011, 12, 30, 10)),
    ("UTC", _utc(2026, 6, 1)),
]


def _field(text: str, low: int, high: int) -> set[int]:
    if text == "*":
        return set(range(low, high + 1))
    if text.startswith("*/"):
        return set(range(low, high + 1, int(text[2:])))
    if "-" in text:
        first, last = text.split("-")
        return set(range(int(first), int(last) + 1))
    return {int(part) for part in text.split(",")}


def _wall_time_to_instant(naive: datetime, zone: ZoneInfo) -> datetime:
    # a wall time in a gap moves to the first minute after it; a repeated one takes its first pass
    while (local := naive.replace(tzinfo=zone, fold=0)).astimezone(UTC).astimezone(zone).replace(
        tzinfo=None
    ) != naive:
        naive += timedelta(minutes=1)
    return local.astimezone(UTC)


def _reference(expression: str, zone_name: str, after: datetime) -> datetime:
    minute, hour, _, _, weekday = expression.split()
    minutes, hours, weekdays = _field(minute, 0, 59), _field(hour, 0, 23), _field(weekday, 0, 6)
    zone = ZoneInfo(zone_name)
    if not minute.startswith("*") and not hour.startswith("*"):
        # fixed minute and hour: every matching wall-clock time, mapped to its instant
        first_day = after.astimezone(zone).date() - timedelta(days=1)
        for offset in range(10):
            day = first_day + timedelta(days=offset)
            if (day.weekday() + 1) % 7 not in weekdays:
                continue
            for h in sorted(hours):
                for m in sorted(minutes):
                    fire = _wall_time_to_instant(datetime.combine(day, time(h, m)), zone)
                    if fire > after:
                        return fire
        raise AssertionError("no fire in ten days")
    # otherwise: the first instant whose local time matches
    instant = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(10 * 24 * 60):
        local = instant.astimezone(zone)
        if local.minute in minutes and local.hour in hours and (local.weekday() + 1) % 7 in weekdays:
            return instant
        instant += timedelta(minutes=1)
    raise AssertionError("no fire in ten days")


minute_fields = st.one_of(
    st.integers(0, 59).map(str),
    st.sampled_from(["*", "*/15", "*/7", "0,30", "10-20"]),
)
hour_fields = st.one_of(
    st.integers(0, 23).map(str),
    st.sampled_from(["*", "*/2", "*/5", "1-3", "2,14", "0-2", "22-23", "2"]),
)
weekday_fields = st.sampled_from(["*", "*", "*", "0", "1-5"])


@given(
    minute=minute_fields,
    hour=hour_fields,
    weekday=weekday_fields,
    change=st.sampled_from(CHANGES),
    offset=st.integers(-2 * 24 * 3600 * 10**6, 2 * 24 * 3600 * 10**6),
)
def test_next_fire_follows_the_documented_rule(
    minute: str, hour: str, weekday: str, change: tuple[str, datetime], offset: int
) -> None:
    expression = f"{minute} {hour} * * {weekday}"
    zone, instant = change
    after = instant + timedelta(microseconds=offset)
    assert next_fire(_cron(expression, zone), after) == _reference(expression, zone, after)
