"""Queue limits in the core (issue 21): the model, the bucket, the config, enqueue, workers, placements."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

import anyio
import msgspec
import pytest

from litestar_queues import (
    MemoryQueueBackend,
    QueueConfig,
    QueueConfigurationError,
    QueueLimit,
    QueueLimitError,
    QueueService,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.execution.protocol import ExitCode
from litestar_queues.limits import Bucket, LimitGate

pytestmark = pytest.mark.anyio

T0 = datetime(2030, 1, 1, tzinfo=UTC)
registry = TaskRegistry()
running = {"now": 0, "most": 0}


@task("limits.step", registry=registry, queue="capped")
async def step(seconds: float) -> None:
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    try:
        await anyio.sleep(seconds)
    finally:
        running["now"] -= 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "a QueueLimit needs concurrency, rate or key_concurrency; to remove a queue's limit"),
        ({"concurrency": 0}, "concurrency (running records of the queue) must be a whole number from 1"),
        ({"concurrency": True}, "concurrency (running records of the queue) must be a whole number"),
        ({"concurrency": 2**31}, "from 1 to 2,147,483,647"),
        ({"rate": 2.5}, "rate (starts per period) must be a whole number"),
        ({"key_concurrency": -1}, "key_concurrency (running records per limit key)"),
        ({"rate": 5, "per": 0}, "per (the rate's period) must be seconds from 0.001"),
        ({"rate": 5, "per": math.inf}, "per (the rate's period) must be seconds"),
        ({"rate": 5, "per": "60"}, "per (the rate's period) must be seconds"),
        ({"concurrency": 1, "per": 60.0}, "per is the period of rate: give rate too"),
    ],
)
def test_a_bad_limit_is_refused_when_built_naming_the_fix(fields: dict[str, object], message: str) -> None:
    with pytest.raises(QueueLimitError) as caught:
        QueueLimit(**fields)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert isinstance(caught.value, QueueConfigurationError)


def test_a_limit_is_a_frozen_value_that_round_trips() -> None:
    limit = QueueLimit(concurrency=5, rate=60, per=60, key_concurrency=1)
    assert limit.per == 60.0 and isinstance(limit.per, float)
    assert limit == QueueLimit(concurrency=5, rate=60, per=60.0, key_concurrency=1)
    with pytest.raises(AttributeError):
        limit.concurrency = 6  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(limit), type=QueueLimit) == limit
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"concurrency": 0}', type=QueueLimit)
    assert limit.describe() == "concurrency 5, 60 per 1m, 1 per limit key"
    assert QueueLimit(rate=10, per=0.5).describe() == "10 per 0.5s"


def test_the_bucket_refills_continuously_up_to_its_rate() -> None:
    limit = QueueLimit(rate=60, per=60.0)  # one a second
    assert limit.tokens(None, T0) == 60.0  # a new bucket is full
    empty = Bucket(0.0, T0)
    assert limit.tokens(empty, T0 + timedelta(seconds=1.5)) == 1.5
    assert limit.tokens(empty, T0 + timedelta(hours=1)) == 60.0  # never above the rate
    assert limit.tokens(empty, T0 - timedelta(seconds=5)) == 0.0  # a clock behind adds nothing
    with pytest.raises(QueueLimitError):
        QueueLimit(concurrency=1).tokens(None, T0)


def test_the_gate_counts_what_it_admits_in_claim_order() -> None:
    limits = {"q": QueueLimit(concurrency=3, rate=2, key_concurrency=1)}
    gate = LimitGate(limits, T0, running={"q": 1}, key_running={("q", "a"): 1}, buckets={})
    assert not gate.admit("q", "a")  # key a runs one already
    assert gate.admit("q", "b") and gate.admit("q", None)  # the two tokens
    assert not gate.admit("q", None) and gate.token_wait() == pytest.approx(0.5)
    assert gate.admit("other", None)  # no limit
    assert gate.buckets() == {"q": Bucket(0.0, T0)}
    assert gate.closed_keys() == [("q", "a"), ("q", "b")]


def test_the_config_takes_limits_by_queue_and_refuses_anything_else() -> None:
    config = QueueConfig(limits={"emails": QueueLimit(concurrency=5)})
    assert config.limits == {"emails": QueueLimit(concurrency=5)}
    with pytest.raises(QueueLimitError, match="must be a QueueLimit"):
        QueueConfig(limits={"emails": 5})  # type: ignore[dict-item]
    with pytest.raises(QueueLimitError, match="a non-empty queue name"):
        QueueConfig(limits={"": QueueLimit(concurrency=1)})
    with pytest.raises(QueueLimitError, match="limits must map queue names to QueueLimit"):
        QueueConfig(limits=[QueueLimit(concurrency=1)])  # type: ignore[arg-type]


async def test_limit_key_is_an_enqueue_option_stored_on_the_record() -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        handle = await service.enqueue(step, 0.0, limit_key="customer:42")
        assert handle.record.limit_key == "customer:42"
        using = await step.using(limit_key="customer:7").enqueue(0.0)
        assert using.record.limit_key == "customer:7"
        with pytest.raises(QueueConfigurationError, match="limit_key must be a non-empty string"):
            await service.enqueue(step, 0.0, limit_key="")
        with pytest.raises(QueueConfigurationError, match="limit_key must be a non-empty string"):
            await service.enqueue(step, 0.0, limit_key=42)  # type: ignore[arg-type]
        stored = await service.backend.get(handle.id)
        assert stored is not None and stored.limit_key == "customer:42"


async def test_service_sets_lists_and_removes_limits_and_stats_name_them() -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        await service.set_limit("b", QueueLimit(rate=5))
        await service.set_limit("a", QueueLimit(concurrency=1))
        assert list(await service.limits()) == ["a", "b"]
        assert (await service.stats()).limits == await service.limits()
        await service.set_limit("a", None)
        assert await service.limits() == {"b": QueueLimit(rate=5)}
        with pytest.raises(QueueLimitError, match="takes a QueueLimit or None"):
            await service.set_limit("a", {"concurrency": 1})  # type: ignore[arg-type]
        with pytest.raises(QueueLimitError, match="non-empty queue name"):
            await service.set_limit("", QueueLimit(concurrency=1))


async def test_workers_in_one_process_never_pass_the_cap_and_freed_slots_wake_them() -> None:
    running.update(now=0, most=0)
    config = QueueConfig(
        registry=registry,
        limits={"capped": QueueLimit(concurrency=2)},
        worker=WorkerConfig(concurrency=5, poll_interval=5.0),  # a freed slot wakes; no poll needed
    )
    async with QueueService(config) as service:
        handles = [await service.enqueue(step, 0.05) for _ in range(20)]
        began = time.monotonic()
        async with (
            service.worker(worker_id="a"),
            service.worker(worker_id="b"),
            service.worker(worker_id="c"),
        ):
            for handle in handles:
                await handle.wait(timeout=30)
        took = time.monotonic() - began
    assert running["most"] == 2
    assert took < 3.0, f"20 tasks of 50 ms, 2 at a time, took {took:.2f} s"


async def test_a_worker_waits_for_the_next_token_not_for_its_poll() -> None:
    config = QueueConfig(
        registry=registry,
        limits={"capped": QueueLimit(rate=10, per=0.5)},
        worker=WorkerConfig(concurrency=20, poll_interval=5.0),
    )
    async with QueueService(config) as service:
        handles = [await service.enqueue(step, 0.0) for _ in range(20)]
        began = time.monotonic()
        async with service.worker():
            for handle in handles:
                await handle.wait(timeout=30)
        took = time.monotonic() - began
        started = sorted(h.record.started_at for h in handles if h.record.started_at is not None)
    # a burst of 10, then 20 a second: the last start about 0.5 s after the first
    assert 0.4 <= (started[-1] - started[0]).total_seconds() <= 2.0, started
    assert took < 3.0


async def test_a_worker_writes_the_configured_limits_before_it_claims() -> None:
    backend = MemoryQueueBackend()
    await backend.set_limit("other", QueueLimit(concurrency=9))  # not in the config: kept
    await backend.set_limit("capped", QueueLimit(concurrency=9))  # the config says otherwise
    config = QueueConfig(
        queue_backend=backend, registry=registry, limits={"capped": QueueLimit(concurrency=1)}
    )
    async with QueueService(config) as service, service.worker():
        assert await service.limits() == {
            "capped": QueueLimit(concurrency=1),
            "other": QueueLimit(concurrency=9),
        }


async def test_an_immediate_task_held_back_by_its_queue_limit_waits_for_a_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        await service.set_limit("capped", QueueLimit(concurrency=1))
        await service.enqueue(step, 0.0)
        now = service.config.clock.now()
        await service.backend.claim(
            queues=["capped"], worker_id="w", limit=1, now=now, lease_until=now + timedelta(seconds=30)
        )
        with caplog.at_level(logging.INFO, logger="litestar_queues.admin"):
            handle = await service.enqueue(step, 0.0, execution_backend="immediate")
        assert handle.status == "pending"
        assert "the limit of queue capped holds it back; a worker runs it" in caplog.text
        # run-task (a claim by id, without a lease) is held back the same way
        assert await service.attempts.adopt(handle.id, lease_id=None, worker_id="x") is ExitCode.NOT_CLAIMABLE
        await service.set_limit("capped", None)
        adopted = await service.attempts.adopt(handle.id, lease_id=None, worker_id="x")
        assert not isinstance(adopted, ExitCode) and adopted.status == "running"
