"""Worker presence and finished counts on the Redis backend.

Presences are one hash and one expiry set (expired entries dropped by the next beat);
finished counts are ZCOUNTs of the per-queue finish-time sets, kept by every script that
finishes, requeues, deletes or expires a record, filled by the backfill on an upgraded prefix,
and read without touching a record.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues.models import Outcome, RecordQuery, TaskRecord, WorkerInfo
from litestar_queues_redis import RedisQueueBackend
from litestar_queues_redis._codec import listing_position, to_us
from tests._presence import worker_info
from tests.redis._listing import build_mix, check_indexes, claim, finish, make
from tests.redis._support import at

if TYPE_CHECKING:
    import redis.asyncio as aioredis

pytestmark = pytest.mark.anyio


def info(worker_id: str, seconds: float, *, ttl: float = 30, **fields: object) -> WorkerInfo:
    return worker_info(worker_id, at(seconds), ttl=ttl, **fields)


# -- presence ------------------------------------------------------------------------------------


async def test_presences_are_one_hash_and_one_expiry_set_kept_small(
    backend: RedisQueueBackend, redis_url: str, raw: aioredis.Redis
) -> None:
    keys = backend.keys
    for n in range(20):
        await backend.record_worker(info(f"w{n:02}", 0, ttl=5))
    other = RedisQueueBackend(url=redis_url)  # another process
    await other.open()
    try:
        assert [w.worker_id for w in await other.live_workers(now=at(0))] == [f"w{n:02}" for n in range(20)]
        assert await raw.zscore(keys.workers_expiry, "w00") == int(to_us(at(5)))
        await other.record_worker(info("late", 10))
        assert (await raw.hlen(keys.workers), await raw.zcard(keys.workers_expiry)) == (1, 1)
        assert await backend.live_workers(now=at(10)) == [info("late", 10)]
        await backend.forget_worker("late")
        assert await raw.exists(keys.workers, keys.workers_expiry) == 0
    finally:
        await other.close()


async def test_a_presence_that_cannot_be_decoded_is_left_out(
    backend: RedisQueueBackend, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await backend.record_worker(info("good", 0))
    await raw.hset(backend.keys.workers, "bad", "{not json")
    await raw.zadd(backend.keys.workers_expiry, {"bad": int(to_us(at(30)))})
    with caplog.at_level(logging.WARNING, logger="litestar_queues.redis"):
        assert [w.worker_id for w in await backend.live_workers(now=at(0))] == ["good"]
    assert any("cannot be decoded" in r.getMessage() for r in caplog.records)


# -- finished counts ---------------------------------------------------------------------------


async def test_finished_counts_follow_every_change_of_a_finished_record(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await backend.enqueue([make(0, queue="a"), make(0, queue="b"), make(0, queue="b"), make(0, queue="a")])
    (first,) = await claim(backend, 1)
    done = await finish(backend, first, "complete", 10)
    (second,) = await claim(backend, 11)
    failed = await finish(backend, second, "fail", 20, error="boom")
    (third,) = await claim(backend, 21)
    cancelled = await backend.cancel(third.id, now=at(30))
    assert cancelled is not None
    keys = backend.keys
    assert await raw.zscore(keys.finished(done.queue, "completed"), done_ix(done)) == int(to_us(at(10)))
    await check_indexes(raw, keys)
    assert (done.queue, failed.queue, cancelled.queue) == ("a", "b", "b")  # priority, then enqueue order
    assert await backend.finished_counts(since=at(10)) == {
        "a": {"completed": 1},
        "b": {"failed": 1, "cancelled": 1},
    }
    assert await backend.finished_counts(since=at(20)) == {"b": {"failed": 1, "cancelled": 1}}
    assert await backend.finished_counts(since=at(30.000001)) == {}
    await backend.requeue(failed.id, now=at(40))
    await backend.delete(RecordQuery(statuses=("cancelled",)))
    assert await backend.finished_counts(since=at(0)) == {"a": {"completed": 1}}
    await check_indexes(raw, keys)


def done_ix(record: TaskRecord) -> bytes:
    return listing_position(record.created_at, record.id).encode()


async def test_records_whose_retention_ended_are_not_counted(
    short_lived: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    backend = short_lived
    await backend.enqueue([make(0), make(0)])
    for n in range(2):
        (held,) = await claim(backend, n)
        await finish(backend, held, "complete", n + 0.5)
    assert await backend.finished_counts(since=at(0)) == {"default": {"completed": 2}}
    await anyio.sleep(0.15)  # Redis expires both hashes
    assert await backend.finished_counts(since=at(0)) == {}
    assert await raw.exists(backend.keys.finished("default", "completed")) == 0


async def test_counting_reads_no_record(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    """10,000 finished records in four queues: one ZCOUNT per queue and status, no record read."""
    for start in range(0, 10_000, 2_000):
        await backend.enqueue([make(i / 10, queue=f"q{i % 4}") for i in range(start, start + 2_000)])
        held = await claim(backend, 2000, limit=2_000)
        outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete") for r in held]
        await backend.finish(outcomes, now=at(start / 10))
    await raw.config_resetstat()
    counts = await backend.finished_counts(since=at(500))
    assert counts == {f"q{n}": {"completed": 1_000} for n in range(4)}  # the batches finished at 600 and 800
    stats = await raw.info("commandstats")
    calls = {
        name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("zcount", "hmget", "hget")
    }
    assert calls == {"zcount": 12, "hmget": 0, "hget": 0}, calls


async def test_the_backfill_notes_records_finished_before_the_finish_time_sets(
    redis_url: str, raw: aioredis.Redis
) -> None:
    """Records an older version (index_version 2) finished have no finish-time entries."""
    writer = RedisQueueBackend(url=redis_url)
    await writer.open()
    try:
        await build_mix(writer)
        expected = await writer.finished_counts(since=at(0) - timedelta(days=1))
        assert expected
        for queue in await raw.smembers(f"{writer.keys.tag}:queues"):
            for status in ("completed", "failed", "cancelled"):
                await raw.delete(writer.keys.finished(queue.decode(), status))
        await raw.set(writer.keys.index_version, "2")
        assert await writer.finished_counts(since=at(0) - timedelta(days=1)) == {}
    finally:
        await writer.close()
    upgraded = RedisQueueBackend(url=redis_url)
    await upgraded.open()  # index_version 2 < 3: the backfill runs
    try:
        assert await raw.get(upgraded.keys.index_version) == b"3"
        assert await upgraded.finished_counts(since=at(0) - timedelta(days=1)) == expected
        await check_indexes(raw, upgraded.keys)
        assert await upgraded.backfill_index() == 0
    finally:
        await upgraded.close()
