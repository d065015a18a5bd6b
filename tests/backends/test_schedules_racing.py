"""Five schedulers on five connections to one real store fire each due time exactly once (issue 17).

Each service has its own backend object (its own connections) on the same SQLite file, Redis
database or PostgreSQL tables; at every step all five tick concurrently, at the same due times,
with clocks a fraction of a second apart. Records are finished between and during the steps, so a
second fire of a due time would store a second record instead of being deduplicated by its key.
"""

from __future__ import annotations

import random
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import anyio
import pytest

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


EVERY_5S = Schedule(name="xb.every5s", task="xb.race.job", interval=5)
MINUTELY = Schedule(name="xb.minutely", task="xb.race.job", cron="* * * * *", jitter=30)
START = datetime(2030, 1, 1, 12, 0, 2, tzinfo=UTC)
STEP = timedelta(seconds=2.5)
STEPS = 60
SCHEDULERS = 5


@pytest.mark.parametrize("fixture", ["sqlite_url", "redis_url", "postgres_url"])
async def test_five_schedulers_on_one_store_fire_each_due_time_once(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(fixture))
    rng = random.Random(17)
    skews = [timedelta(seconds=rng.uniform(-0.4, 0.4)) for _ in range(SCHEDULERS)]
    fires: list[ScheduleFire] = []
    async with AsyncExitStack() as stack:
        services = []
        for _ in range(SCHEDULERS):
            # its own backend object; its schedule calls also yield at random (more interleavings)
            backend = cast("QueueBackend", Interleaving(backend_from_url(url), rng))
            config = QueueConfig(queue_backend=backend, registry=REGISTRY, schedules=[EVERY_5S, MINUTELY])
            services.append(await stack.enter_async_context(QueueService(config)))
        schedulers = [service.scheduler() for service in services]
        now = START
        for _ in range(STEPS):
            now += STEP

            async def tick(index: int, at: datetime) -> None:
                fires.extend(await schedulers[index].tick(at + skews[index]))

            async with anyio.create_task_group() as tg:
                order = list(range(SCHEDULERS))
                rng.shuffle(order)
                for index in order:
                    tg.start_soon(tick, index, now)
                tg.start_soon(finish_all, services[0].backend, now)
            await finish_all(services[0].backend, now)
        records = await all_records(services[0].backend)
    end = now
    for schedule in (EVERY_5S, MINUTELY):
        keys = keys_of(records, schedule.name)
        assert [key for key, n in Counter(keys).items() if n > 1] == []
        dues = sorted(f.due for f in fires if f.name == schedule.name)
        assert [d for d, n in Counter(dues).items() if n > 1] == []
        assert sorted(keys) == sorted(due_key(schedule.name, d) for d in dues)
        # every due time from the first to the last one every clock passed fired
        expected, due = [], next_fire(schedule, START + STEP + timedelta(seconds=0.4))
        while due <= end - timedelta(seconds=0.4):
            expected.append(due)
            due = next_fire(schedule, due)
        assert dues[: len(expected)] == expected
    assert len(keys_of(records, EVERY_5S.name)) >= (STEPS * STEP.total_seconds()) // 5 - 2
