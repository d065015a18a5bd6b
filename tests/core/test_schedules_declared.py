"""Declaring schedules (issue 17): on the task, in the config, checked at start-up; workers run them."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from litestar_queues import (
    CronExpressionError,
    MemoryQueueBackend,
    MisfirePolicy,
    QueueConfig,
    QueueService,
    Schedule,
    ScheduleError,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.exceptions import PayloadTooLargeError, QueueConfigurationError
from litestar_queues.task import EnqueueOptions
from litestar_queues.testing import ManualClock
from tests.core._support import fast_worker, wait_until

pytestmark = pytest.mark.anyio

SCHEDULE_KEYWORDS = {"cron", "interval", "timezone", "schedule_args", "schedule_kwargs", "jitter", "misfire"}


def test_task_declares_a_schedule_named_after_it(registry: TaskRegistry) -> None:
    @task(
        "reports.nightly",
        registry=registry,
        queue="reports",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        schedule_kwargs={"kind": "daily"},
        jitter=60,
        misfire=MisfirePolicy.SKIP,
    )
    async def nightly(kind: str) -> None:
        return None

    @task("feeds.poll", registry=registry, interval=timedelta(minutes=5), schedule_args=[3])
    async def poll(limit: int) -> None:
        return None

    @task("plain", registry=registry)
    async def plain() -> None:
        return None

    assert plain.schedule is None
    assert registry.schedules() == [poll.schedule, nightly.schedule]
    assert nightly.schedule == Schedule(
        name="reports.nightly",
        task="reports.nightly",
        kwargs={"kind": "daily"},
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        jitter=60,
        misfire=MisfirePolicy.SKIP,
    )
    assert nightly.schedule is not None and nightly.schedule.kwargs == {"kind": "daily"}
    assert poll.schedule is not None and poll.schedule.args == (3,)
    assert poll.schedule.interval == timedelta(minutes=5)
    assert nightly.using(priority=3).schedule is nightly.schedule


def test_the_schedule_keywords_stay_out_of_the_enqueue_options() -> None:
    keywords = {p.name for p in inspect.signature(task).parameters.values() if p.kind is p.KEYWORD_ONLY}
    assert keywords >= SCHEDULE_KEYWORDS
    assert not SCHEDULE_KEYWORDS & set(EnqueueOptions.__struct_fields__)


def test_schedule_keywords_without_a_timing_or_with_a_bad_one_fail_at_declaration(
    registry: TaskRegistry,
) -> None:
    with pytest.raises(
        ScheduleError, match=r"timezone, jitter configure a schedule, which needs cron= or interval="
    ):
        task("a", registry=registry, timezone="Europe/Berlin", jitter=5)(_noop)
    with pytest.raises(CronExpressionError, match="'0 25 \\* \\* \\*' is invalid"):
        task("b", registry=registry, cron="0 25 * * *")(_noop)
    with pytest.raises(ScheduleError, match="both of cron and interval"):
        task("c", registry=registry, cron="0 3 * * *", interval=60)(_noop)
    assert registry.names() == []


async def _noop() -> None:
    return None


def test_config_schedules_must_be_schedules_with_unique_names() -> None:
    one = Schedule(name="dup", task="x", interval=60)
    with pytest.raises(ScheduleError, match="'dup' is given more than once"):
        QueueConfig(schedules=[one, Schedule(name="dup", task="y", interval=30)])
    with pytest.raises(QueueConfigurationError, match="schedules must be a list of Schedule"):
        QueueConfig(schedules=one)  # type: ignore[arg-type]
    assert QueueConfig(schedules=[one]).schedules == (one,)


async def test_a_schedule_of_an_unregistered_task_fails_at_open_and_at_worker_build(
    registry: TaskRegistry,
) -> None:
    config = QueueConfig(
        queue_backend=MemoryQueueBackend(),
        registry=registry,
        schedules=[Schedule(name="reports.nightly", task="reports.build", cron="0 3 * * *")],
    )
    service = QueueService(config)
    with pytest.raises(ScheduleError) as caught:
        await service.open()
    assert "names task 'reports.build', which is not registered" in str(caught.value)
    assert "import the module that defines it" in str(caught.value)
    assert not service.is_open
    with pytest.raises(ScheduleError, match="not registered"):
        service.worker()
    service.worker(scheduler=False)  # a worker that runs no schedules does not need them

    @task("reports.build", registry=registry)
    async def build() -> None:
        return None

    async with service:
        assert [s.name for s in service.declared_schedules()] == ["reports.nightly"]


async def test_a_config_schedule_sharing_a_task_schedule_name_fails_at_open(registry: TaskRegistry) -> None:
    @task("sync", registry=registry, interval=60)
    async def sync() -> None:
        return None

    config = QueueConfig(registry=registry, schedules=[Schedule(name="sync", task="sync", interval=30)])
    with pytest.raises(ScheduleError, match="two schedules are named 'sync'"):
        await QueueService(config).open()


async def test_a_schedule_whose_record_cannot_be_built_fails_at_open(registry: TaskRegistry) -> None:
    @task("big", registry=registry)
    async def big(blob: str) -> None:
        return None

    schedule = Schedule(name="big", task="big", args=["x" * 2000], interval=60)
    config = QueueConfig(registry=registry, schedules=[schedule], max_payload_bytes=1000)
    with pytest.raises(PayloadTooLargeError):
        await QueueService(config).open()


def test_the_scheduler_interval_must_be_positive() -> None:
    with pytest.raises(QueueConfigurationError, match="scheduler_interval must be seconds > 0"):
        WorkerConfig(scheduler_interval=0)


async def test_every_worker_runs_the_schedules_unless_told_not_to(registry: TaskRegistry) -> None:
    ran: list[str] = []

    @task("tick.job", registry=registry, interval=60, schedule_args=["on"])
    async def job(label: str) -> None:
        ran.append(label)

    clock = ManualClock(datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC))
    backend = MemoryQueueBackend()
    config = QueueConfig(
        queue_backend=backend, registry=registry, clock=clock, worker=fast_worker(scheduler_interval=0.01)
    )
    async with QueueService(config) as service:
        async with service.worker(scheduler=False):
            await anyio.sleep(0.2)
        assert await backend.schedule_states() == []  # that worker never looked at the schedules
        async with service.worker() as worker:
            assert worker.scheduler is not None

            async def stored() -> bool:
                return bool(await backend.schedule_states())

            await wait_until(stored)
            clock.advance(60)

            async def ran_once() -> bool:
                return ran == ["on"]

            await wait_until(ran_once)
            await anyio.sleep(0.1)  # later ticks find nothing due
        assert ran == ["on"]
        (info,) = await service.schedules()
        assert info.last_fire == datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
