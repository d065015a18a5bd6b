"""Racing schedulers over one store fire each due time exactly once (issue 17).

1, 2 and 5 schedulers tick the same memory backend in random order, their ticks interleaving
between reading the states and moving them on, with clocks skewed by under a second; hypothesis
chooses the clock steps, the skews, who ticks and the interleaving.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues import (
    MemoryQueueBackend,
    QueueBackend,
    QueueConfig,
    QueueService,
    Schedule,
    TaskRegistry,
    task,
)
from litestar_queues.schedules import due_key, next_fire
from tests.core._schedules import Interleaving, all_records, finish_all, keys_of

if TYPE_CHECKING:
    from litestar_queues.schedules.scheduler import ScheduleFire

REGISTRY = TaskRegistry()


@task("race.job", registry=REGISTRY)
async def job() -> None:
    """The task the racing schedules enqueue."""


EVERY_10S = Schedule(name="race.every10s", task="race.job", interval=10)
MINUTELY = Schedule(name="race.minutely", task="race.job", cron="* * * * *", jitter=20)
SCHEDULES = (EVERY_10S, MINUTELY)
START = datetime(2030, 1, 1, 12, 0, 3, tzinfo=UTC)
SKEW = 0.9
# rounds a little shorter than the shortest period less twice the skew: no due time can be
# overtaken by the next one between two rounds, so every one of them must fire
MAX_STEP = 7.5
WORKER = 5

rounds = st.lists(
    st.tuples(
        st.floats(0, MAX_STEP),  # how far the true time moves before the round
        # who ticks, concurrently; WORKER: a worker finishes every record meanwhile
        st.lists(st.integers(0, WORKER), min_size=1, max_size=8).filter(lambda who: set(who) != {WORKER}),
    ),
    min_size=1,
    max_size=30,
)


async def race(
    count: int, skews: list[float], plan: list[tuple[float, list[int]]], seed: int
) -> tuple[list[ScheduleFire], list[datetime], MemoryQueueBackend]:
    store = MemoryQueueBackend()
    rng = random.Random(seed)
    schedulers = [
        QueueService(
            QueueConfig(
                queue_backend=cast("QueueBackend", Interleaving(store, rng)),
                registry=REGISTRY,
                schedules=SCHEDULES,
            )
        ).scheduler()
        for _ in range(count)
    ]
    fires: list[ScheduleFire] = []
    times: list[datetime] = []
    now = START

    async def tick(index: int) -> None:
        fires.extend(await schedulers[index].tick(now + timedelta(seconds=skews[index])))

    # records are finished (their keys free again) during and after each round: a second fire of
    # a due time would store a second record, not be deduplicated
    for step, tickers in plan:
        now += timedelta(seconds=step)
        times.append(now)
        async with anyio.create_task_group() as tg:
            for who in tickers:
                if who == WORKER:
                    tg.start_soon(finish_all, store, now)
                else:
                    tg.start_soon(tick, who % count)
        await finish_all(store, now)
    return fires, times, store


@pytest.mark.parametrize("count", [1, 2, 5])
@given(
    skews=st.lists(st.floats(-SKEW, SKEW), min_size=5, max_size=5),
    plan=rounds,
    seed=st.integers(0, 2**32),
)
def test_each_due_time_fires_exactly_once(
    count: int, skews: list[float], plan: list[tuple[float, list[int]]], seed: int
) -> None:
    fires, times, store = anyio.run(race, count, skews, plan, seed)
    records = anyio.run(all_records, store)
    first_round, last_round = times[0], times[-1]
    assert times  # the plan has a round at least
    for schedule in SCHEDULES:
        keys = keys_of(records, schedule.name)
        assert [k for k, n in Counter(keys).items() if n > 1] == []  # never two records for one due time
        dues = sorted(f.due for f in fires if f.name == schedule.name)
        assert sorted(keys) == sorted(due_key(schedule.name, d) for d in dues)
        assert all(f.created and f.missed_since is None for f in fires)
        # the state was created in the first round, at the first due time after the creator's now
        earliest = next_fire(schedule, first_round - timedelta(seconds=SKEW))
        latest_first = next_fire(schedule, first_round + timedelta(seconds=SKEW))
        if dues:
            assert earliest <= dues[0] <= latest_first
        # from the first due time on, every one that every clock passed fired, and none later
        due = dues[0] if dues else latest_first
        expected = []
        while due <= last_round - timedelta(seconds=SKEW):
            expected.append(due)
            due = next_fire(schedule, due)
        assert dues[: len(expected)] == expected
        assert all(d <= last_round + timedelta(seconds=SKEW) for d in dues)
        assert all(next_fire(schedule, a) == b for a, b in itertools.pairwise(dues))
