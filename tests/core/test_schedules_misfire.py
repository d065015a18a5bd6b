"""After downtime a schedule fires at most one record, per its misfire policy; never a burst."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.schedules import (
    DEFAULT_MISFIRE_GRACE,
    FireDecision,
    MisfirePolicy,
    Schedule,
    decide_fire,
    jitter_offset,
    next_fire,
)

HOURLY = Schedule(name="hourly", task="t", cron="0 * * * *", jitter=30)
START = datetime(2026, 3, 1, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


@dataclass
class Store:
    """The store step, modelled: move the stored due time and keep the record, atomically."""

    stored: datetime
    records: list[FireDecision] = field(default_factory=list)

    def tick(self, schedule: Schedule, now: datetime) -> FireDecision:
        decision = decide_fire(schedule, self.stored, now)
        self.stored = decision.next_due
        if decision.due is not None:
            self.records.append(decision)
        return decision


def _run_with_outage(policy: MisfirePolicy) -> Store:
    """An hourly schedule; a scheduler ticking every 10 s, down from 00:50 to 03:50."""
    schedule = replace(HOURLY, misfire=policy)
    store = Store(stored=_at(0))
    now = _at(0) + timedelta(seconds=5)
    while now < _at(6):
        if not _at(50 / 60) <= now < _at(3 + 50 / 60):
            store.tick(schedule, now)
        now += timedelta(seconds=10)
    return store


def test_catch_up_once_fires_one_record_for_a_three_hour_outage() -> None:
    store = _run_with_outage(MisfirePolicy.CATCH_UP_ONCE)
    assert [r.due for r in store.records] == [_at(0), _at(3), _at(4), _at(5)]
    catch_up = store.records[1]
    # fired at 03:50:05 for the latest due time that came (03:00); 01:00 and 02:00 are missed
    assert catch_up.missed_since == _at(1)
    assert catch_up.next_due == _at(4)
    assert catch_up.run_at == _at(3) + jitter_offset(HOURLY, _at(3))
    assert [r.missed_since for r in store.records if r is not catch_up] == [None, None, None]


def test_skip_fires_nothing_for_the_outage_and_resumes_on_time() -> None:
    store = _run_with_outage(MisfirePolicy.SKIP)
    assert [r.due for r in store.records] == [_at(0), _at(4), _at(5)]


def test_skip_reports_the_missed_due_times_once() -> None:
    schedule = replace(HOURLY, misfire=MisfirePolicy.SKIP)
    decision = decide_fire(schedule, _at(1), _at(3.5))
    assert decision == FireDecision(due=None, run_at=None, next_due=_at(4), missed_since=_at(1))
    assert decide_fire(schedule, decision.next_due, _at(3.6)).due is None


@pytest.mark.parametrize("policy", list(MisfirePolicy))
def test_a_due_time_reached_within_the_grace_fires_under_both_policies(policy: MisfirePolicy) -> None:
    schedule = replace(HOURLY, misfire=policy)
    on_time = decide_fire(schedule, _at(1), _at(1) + DEFAULT_MISFIRE_GRACE)
    assert (on_time.due, on_time.next_due, on_time.missed_since) == (_at(1), _at(2), None)
    late = decide_fire(schedule, _at(1), _at(1) + DEFAULT_MISFIRE_GRACE + timedelta(microseconds=1))
    assert late.due == (_at(1) if policy is MisfirePolicy.CATCH_UP_ONCE else None)
    # a scheduler just back from an outage, on time for the latest due time: it fires, the
    # earlier ones are missed
    back = decide_fire(schedule, _at(1), _at(3) + timedelta(seconds=20))
    assert (back.due, back.next_due, back.missed_since) == (_at(3), _at(4), _at(1))


def test_a_custom_grace() -> None:
    schedule = replace(HOURLY, misfire=MisfirePolicy.SKIP)
    assert decide_fire(schedule, _at(1), _at(1.1), grace=timedelta(minutes=10)).due == _at(1)
    assert decide_fire(schedule, _at(1), _at(1.1), grace=timedelta(minutes=5)).due is None
    with pytest.raises(QueueConfigurationError, match="grace must be >= 0"):
        decide_fire(schedule, _at(1), _at(1.1), grace=timedelta(seconds=-1))


def test_nothing_is_due_before_the_stored_time() -> None:
    decision = decide_fire(HOURLY, _at(2), _at(1.99))
    assert decision == FireDecision(due=None, run_at=None, next_due=_at(2), missed_since=None)


def test_a_disabled_schedule_lets_due_times_pass_without_counting_them_missed() -> None:
    paused = replace(HOURLY, enabled=False)
    decision = decide_fire(paused, _at(1), _at(3.5))
    assert decision == FireDecision(due=None, run_at=None, next_due=_at(4), missed_since=None)
    # enabled again later, it does not catch up the paused hours
    resumed = decide_fire(HOURLY, decision.next_due, _at(4))
    assert (resumed.due, resumed.missed_since) == (_at(4), None)


def test_a_stored_time_off_the_schedule_still_counts_as_due() -> None:
    # the cron expression changed after 00:30 was stored
    decision = decide_fire(HOURLY, _at(0.5), _at(0.5) + timedelta(seconds=3))
    assert (decision.due, decision.next_due) == (_at(0.5), _at(1))
    later = decide_fire(HOURLY, _at(0.5), _at(2.5))
    assert (later.due, later.next_due, later.missed_since) == (_at(2), _at(3), _at(0.5))


def test_naive_times_are_refused() -> None:
    with pytest.raises(QueueConfigurationError, match="now must be a timezone-aware datetime"):
        decide_fire(HOURLY, _at(1), datetime(2026, 3, 1, 2))
    with pytest.raises(QueueConfigurationError, match="stored_due must be a timezone-aware datetime"):
        decide_fire(HOURLY, datetime(2026, 3, 1, 1), _at(2))


# --- schedulers racing over random clock steps ---------------------------------------------------

schedules = st.builds(
    lambda trigger, policy, jitter: Schedule(name="s", task="t", misfire=policy, jitter=jitter, **trigger),
    st.sampled_from(
        [
            {"cron": "0 * * * *"},
            {"cron": "*/5 * * * *", "timezone": "Europe/Berlin"},
            {"cron": "30 2 * * *", "timezone": "America/New_York"},
            {"interval": timedelta(minutes=7)},
            {"interval": timedelta(seconds=45)},
        ]
    ),
    st.sampled_from(list(MisfirePolicy)),
    st.sampled_from([0, 30]),
)
# each step: which scheduler ticks, and how much real time passed before it (up to five hours)
steps = st.lists(st.tuples(st.integers(0, 4), st.integers(1, 5 * 3600 * 1000)), min_size=1, max_size=60)
skews = st.lists(st.integers(-30_000, 30_000), min_size=5, max_size=5)


@given(schedule=schedules, steps=steps, skews=skews, start=st.integers(0, 400 * 24 * 3600))
def test_racing_schedulers_fire_each_due_time_once_and_never_a_burst(
    schedule: Schedule, steps: list[tuple[int, int]], skews: list[int], start: int
) -> None:
    real = START + timedelta(seconds=start)
    store = Store(stored=next_fire(schedule, real))
    for scheduler, elapsed_ms in steps:
        real += timedelta(milliseconds=elapsed_ms)
        now = real + timedelta(milliseconds=skews[scheduler])
        before = store.stored
        decision = store.tick(schedule, now)
        assert decision.next_due > now
        if decision.due is None:
            if before <= now:  # something came: only skip drops it, and reports it
                assert schedule.misfire is MisfirePolicy.SKIP
                assert decision.missed_since == before
            continue
        # one record, for a due time that came, the latest one that came
        assert before <= decision.due <= now
        assert next_fire(schedule, decision.due) == decision.next_due
        assert decision.run_at == decision.due + jitter_offset(schedule, decision.due)
        if schedule.misfire is MisfirePolicy.SKIP:
            assert now - decision.due <= DEFAULT_MISFIRE_GRACE
        # every due time between the previous record and this one is reported missed
        if decision.due > before:
            assert decision.missed_since == before
    dues = [r.due for r in store.records if r.due is not None]
    assert dues == sorted(set(dues))  # no due time fired twice, whatever the skews
