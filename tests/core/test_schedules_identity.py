"""A due time has one key and one jitter offset, the same on every scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.schedules import Schedule, due_key, jitter_offset

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_key_names_the_schedule_and_the_instant_in_utc() -> None:
    due = datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert due_key("reports.nightly", due) == "schedule:reports.nightly:2026-03-29T01:00:00Z"
    assert (
        due_key("reports.nightly", due.astimezone(BERLIN)) == "schedule:reports.nightly:2026-03-29T01:00:00Z"
    )
    assert due_key("poll", due + timedelta(microseconds=250)) == "schedule:poll:2026-03-29T01:00:00.000250Z"


def test_the_two_passes_of_a_repeated_hour_have_different_keys() -> None:
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = first.replace(fold=1)
    assert due_key("s", first) == "schedule:s:2026-10-25T00:30:00Z"
    assert due_key("s", second) == "schedule:s:2026-10-25T01:30:00Z"


def test_a_naive_due_time_is_refused() -> None:
    with pytest.raises(QueueConfigurationError, match="due must be a timezone-aware datetime"):
        due_key("s", datetime(2026, 1, 1))


jitters = st.floats(min_value=0, max_value=24 * 3600, allow_nan=False)
dues = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2040, 1, 1),
    timezones=st.sampled_from([UTC, BERLIN]),
    allow_imaginary=False,
)


@given(jitter=jitters, due=dues, name=st.from_regex(r"[a-z0-9_.\-/]{1,30}", fullmatch=True))
def test_jitter_stays_in_bounds_and_is_the_same_on_every_call(
    jitter: float, due: datetime, name: str
) -> None:
    schedule = Schedule(name=name, task="t", interval=60, jitter=jitter)
    offset = jitter_offset(schedule, due)
    assert timedelta(0) <= offset <= timedelta(seconds=jitter)
    # another scheduler: its own Schedule object, the due time read in another zone
    other = Schedule(name=name, task="other", cron="0 * * * *", jitter=jitter, queue="q")
    assert jitter_offset(other, due.astimezone(ZoneInfo("Asia/Tokyo"))) == offset


def test_no_jitter_is_no_delay() -> None:
    schedule = Schedule(name="s", task="t", interval=60)
    assert jitter_offset(schedule, datetime(2026, 1, 1, tzinfo=UTC)) == timedelta(0)


def test_jitter_spreads_due_times_and_schedules_over_the_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = Schedule(name="hourly", task="t", interval=3600, jitter=60)
    offsets = [jitter_offset(schedule, start + timedelta(hours=h)) for h in range(200)]
    assert len(set(offsets)) == len(offsets)
    assert min(offsets) < timedelta(seconds=6) and max(offsets) > timedelta(seconds=54)
    # schedules sharing a due time do not all start together
    named = [Schedule(name=f"tenant-{i}", task="t", interval=3600, jitter=60) for i in range(50)]
    per_schedule = {jitter_offset(s, start) for s in named}
    assert len(per_schedule) == len(named)
