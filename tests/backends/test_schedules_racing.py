"""1, 2 or 5 schedulers on their own connections to one real store fire each due time once (issue 17).

Each service has its own backend object (its own connections) on the same SQLite file, Redis
database or PostgreSQL tables; at every step all of them tick concurrently, at the same due
times, with clocks a fraction of a second apart. Hypothesis picks the clock step, the skews and
the interleavings (the seed of the order of ticks and of the yields inside backend calls).
Records are finished between and during the steps, so a
second fire of a due time would store a second record instead of being deduplicated by its key.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litestar_queues import QueueBackend, QueueConfig, QueueService, Schedule, TaskRegistry, task
from litestar_queues._loading import backend_from_url
from litestar_queues.schedules import due_key, next_fire
from tests.core._schedules import Interleaving, all_records, finish_all, keys_of

if TYPE_CHECKING:
    from litestar_queues.schedules.scheduler import ScheduleFire

pytestmark = pytest.mark.anyio

REGISTRY = TaskRegistry()


@task("xb.race.job", registry=REGISTRY)
async def job() -> None:
    """The task the racing schedules enqueue."""


START = datetime(2030, 1, 1, 12, 0, 2, tzinfo=UTC)
STEPS = 30


@pytest.mark.parametrize("schedulers", [1, 2, 5])
@pytest.mark.parametrize("fixture", ["sqlite_url", "redis_url", "postgres_url"])
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), step=st.sampled_from([0.7, 2.5, 4.9, 61.0]))
async def test_schedulers_on_one_store_fire_each_due_time_once(
    fixture: str, schedulers: int, seed: int, step: float, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(fixture))
    # each example has schedules of its own: the store is shared by the examples of a test
    tag = uuid.uuid4().hex[:8]
    every_5s = Schedule(name=f"xb.every5s.{tag}", task="xb.race.job", interval=5)
    minutely = Schedule(name=f"xb.minutely.{tag}", task="xb.race.job", cron="* * * * *", jitter=30)
    rng = random.Random(seed)
    skews = [timedelta(seconds=rng.uniform(-0.4, 0.4)) for _ in range(schedulers)]
    STEP = timedelta(seconds=step)
    fires: list[ScheduleFire] = []
    async with AsyncExitStack() as stack:
        services = []
        for _ in range(schedulers):
            # its own backend object; its schedule calls also yield at random (more interleavings)
            backend = cast("QueueBackend", Interleaving(backend_from_url(url), rng))
            config = QueueConfig(queue_backend=backend, registry=REGISTRY, schedules=[every_5s, minutely])
            services.append(await stack.enter_async_context(QueueService(config)))
        schedulers_ = [service.scheduler() for service in services]
        now = START
        for _ in range(STEPS):
            now += STEP

            async def tick(index: int, at: datetime) -> None:
                fires.extend(await schedulers_[index].tick(at + skews[index]))

            async with anyio.create_task_group() as tg:
                order = list(range(schedulers))
                rng.shuffle(order)
                for index in order:
                    tg.start_soon(tick, index, now)
                tg.start_soon(finish_all, services[0].backend, now)
            await finish_all(services[0].backend, now)
        records = await all_records(services[0].backend)
    end = now
    for schedule in (every_5s, minutely):
        keys = keys_of(records, schedule.name)
        assert [key for key, n in Counter(keys).items() if n > 1] == []
        dues = sorted(f.due for f in fires if f.name == schedule.name)
        assert [d for d, n in Counter(dues).items() if n > 1] == []
        assert sorted(keys) == sorted(due_key(schedule.name, d) for d in dues)
        period = 5.0 if schedule is every_5s else 60.0
        if step + 0.8 >= period:
            # steps longer than the period: each step fires once (catch up once, never a burst)
            assert len(dues) <= STEPS
            continue
        # every due time from the first to the last one every clock passed fired
        expected, due = [], next_fire(schedule, START + STEP + timedelta(seconds=0.4))
        while due <= end - timedelta(seconds=0.4):
            expected.append(due)
            due = next_fire(schedule, due)
        assert dues[: len(expected)] == expected
    # the every-5s schedule fires at most once per step (catch-up fires once), at least once per 5 s
    assert len(keys_of(records, every_5s.name)) >= min(STEPS, (STEPS * step) // 5) - 2
