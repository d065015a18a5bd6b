"""The Redis backend's own behaviour beyond the contract: URLs, batching, retention, waiting."""

from __future__ import annotations

import shutil
import socket
import uuid
from typing import TYPE_CHECKING

import anyio
import pytest
import redis.asyncio as aioredis

from litestar_queues import (
    BackendUnavailableError,
    Outcome,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
)
from litestar_queues_redis import RedisQueueBackend
from tests.redis._support import T0, at, record
from tests.servers import RedisServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


async def test_url_resolves_through_the_entry_point(redis_url: str, redis_prefix: str) -> None:
    service = QueueService(QueueConfig(queue_backend=redis_url + "&result_ttl=60"))
    assert isinstance(service.backend, RedisQueueBackend)
    assert service.backend.key_prefix == redis_prefix
    assert service.backend.result_ttl == 60


@pytest.mark.parametrize(
    "url", ["http://localhost", "redis://localhost?result_ttl=-1", "redis://x?key_prefix={a}"]
)
def test_invalid_urls_are_rejected(url: str) -> None:
    with pytest.raises(QueueConfigurationError):
        RedisQueueBackend(url=url)


def test_needs_exactly_one_of_url_and_client() -> None:
    with pytest.raises(QueueConfigurationError):
        RedisQueueBackend()


async def test_unix_socket_url(redis_server: RedisServer, redis_prefix: str) -> None:
    backend = RedisQueueBackend(url=f"{redis_server.unix_url}&key_prefix={redis_prefix}")
    await backend.open()
    try:
        rec = record()
        await backend.enqueue([rec])
        assert await backend.get(rec.id) == rec
        assert backend.key_prefix == redis_prefix
    finally:
        await backend.close()


async def test_passed_in_client_stays_open(redis_server: RedisServer, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    backend = RedisQueueBackend(client=client, key_prefix=redis_prefix)
    await backend.open()
    (stored,) = await backend.enqueue([record()])
    await backend.close()
    assert await client.exists(backend.keys.record(stored.record.id)) == 1
    await client.aclose()


async def test_enqueue_many_is_ordered_and_dedups_inside_one_batch(backend: RedisQueueBackend) -> None:
    records = [record(key="same" if i % 700 == 0 else None) for i in range(1200)]
    results = await backend.enqueue(records)
    assert [r.created for r in results].count(False) == 1
    assert results[700].record.id == records[0].id
    claimed = await backend.claim(queues=None, worker_id="w", limit=2000, now=at(1), lease_until=at(30))
    expected = [r.id for i, r in enumerate(records) if i != 700]
    assert [c.id for c in claimed] == expected


async def test_claim_orders_by_priority_then_enqueue_order_across_queues(backend: RedisQueueBackend) -> None:
    a = record(queue="a")
    b = record(queue="b", priority=1)
    c = record(queue="a", priority=1)
    d = record(queue="b")
    later = record(queue="a", priority=5, run_at=10)
    await backend.enqueue([a, b, c, d, later])
    first = await backend.claim(queues=["b", "a"], worker_id="w", limit=3, now=at(1), lease_until=at(30))
    assert [r.id for r in first] == [b.id, c.id, a.id]
    rest = await backend.claim(queues=["a", "b"], worker_id="w", limit=5, now=at(11), lease_until=at(30))
    assert [r.id for r in rest] == [later.id, d.id]
    assert all(r.status == "running" and r.worker_id == "w" and r.started_at == at(11) for r in rest)


async def test_big_values_survive_the_round_trip(backend: RedisQueueBackend) -> None:
    big = record(args=[2**62 + 1, 1e300, "ü" * 10], kwargs={"n": -(2**53) - 1}, priority=2**40)
    await backend.enqueue([big])
    (claimed,) = await backend.claim(queues=None, worker_id="w", limit=1, now=at(1), lease_until=at(2))
    assert claimed.args == big.args and claimed.kwargs == big.kwargs and claimed.priority == 2**40
    lease = claimed.lease_id or ""
    outcome = Outcome(task_id=big.id, lease_id=lease, kind="complete", result={"x": 2**63 - 1})
    (done,) = await backend.finish([outcome], now=at(1.5))
    assert done is not None and done.result == {"x": 2**63 - 1}
    assert (await backend.get(big.id)) == done


async def test_finished_records_expire_after_result_ttl(redis_url: str) -> None:
    backend = RedisQueueBackend(url=redis_url, result_ttl=0.2)
    await backend.open()
    try:
        rec = record()
        await backend.enqueue([rec])
        assert (await backend.cancel(rec.id, now=at(1))) is not None
        assert (await backend.counts())["default"] == {"cancelled": 1}
        await anyio.sleep(0.4)
        assert await backend.get(rec.id) is None
        assert await backend.counts() == {}
    finally:
        await backend.close()


async def test_active_records_never_expire(redis_url: str, raw: aioredis.Redis) -> None:
    backend = RedisQueueBackend(url=redis_url, result_ttl=0.1)
    await backend.open()
    try:
        rec = record()
        await backend.enqueue([rec])
        assert await raw.pttl(backend.keys.record(rec.id)) == -1
    finally:
        await backend.close()


@pytest.mark.parametrize("damage", ["not a hash", "bad json", "bad status"])
async def test_malformed_record_is_dead_lettered(
    backend: RedisQueueBackend, raw: aioredis.Redis, damage: str
) -> None:
    bad, good = record(key="k"), record()
    await backend.enqueue([bad, good])
    key = backend.keys.record(bad.id)
    if damage == "not a hash":
        await raw.delete(key)
        await raw.set(key, b"\x00garbage")
    elif damage == "bad json":
        await raw.hset(key, "rec", b"{not json")
    else:
        await raw.hset(key, "status", "exploded")
    claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=at(1), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    dead = await backend.dead_letters()
    assert list(dead) == [str(bad.id)]
    assert await raw.exists(backend.keys.dead_record(bad.id)) == 1
    assert await backend.get(bad.id) is None
    # the dedup key is free again and the queue keeps flowing
    (again,) = await backend.enqueue([record(key="k")])
    assert again.created


async def test_get_of_a_malformed_record_raises_a_clear_error(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    from litestar_queues import MalformedRecordError

    rec = record()
    await backend.enqueue([rec])
    await raw.hset(backend.keys.record(rec.id), "rec", b"[1, 2]")
    with pytest.raises(MalformedRecordError, match="dead letters"):
        await backend.get(rec.id)
    assert str(rec.id) in await backend.dead_letters()


async def test_wake_up_is_latched_and_wakes_a_blocked_waiter(backend: RedisQueueBackend) -> None:
    await backend.enqueue([record()])
    with anyio.fail_after(5):  # the token pushed before anyone waited is still there
        await backend.wait_for_work(None, timeout=30)
    woke = anyio.Event()

    async def waiter() -> None:
        await backend.wait_for_work(["q2"], timeout=30)
        woke.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            assert not woke.is_set()
            await backend.enqueue([record(queue="q2")])
            await woke.wait()


async def test_wait_for_work_times_out_without_work(backend: RedisQueueBackend) -> None:
    with anyio.fail_after(5):
        await backend.wait_for_work(["nothing-here"], timeout=0.05)


async def test_wait_for_finish_wakes_on_completion(backend: RedisQueueBackend) -> None:
    rec = record()
    await backend.enqueue([rec])
    (claimed,) = await backend.claim(queues=None, worker_id="w", limit=1, now=at(1), lease_until=at(30))
    finished = anyio.Event()

    async def waiter() -> None:
        await backend.wait_for_finish(rec.id, timeout=30)
        finished.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            assert not finished.is_set()
            outcome = Outcome(task_id=rec.id, lease_id=claimed.lease_id or "", kind="complete")
            await backend.finish([outcome], now=at(2))
            await finished.wait()
        # terminal already: returns at once, many times (the subscriber connection is reused)
        for _ in range(3):
            await backend.wait_for_finish(rec.id, timeout=30)


async def test_unreachable_server_raises_backend_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = RedisQueueBackend(url=f"redis://127.0.0.1:{port}/0")
    with pytest.raises(BackendUnavailableError):
        await backend.open()
    with pytest.raises(BackendUnavailableError):
        await backend.enqueue([record()])
    await backend.close()


async def test_server_restart_is_survived(redis_server: RedisServer, redis_prefix: str) -> None:
    backend = RedisQueueBackend(url=redis_server.url, key_prefix=redis_prefix)
    await backend.open()
    try:
        rec = record()
        await backend.enqueue([rec])
        redis_server.kill()
        with pytest.raises(BackendUnavailableError):
            await backend.get(rec.id)
        with pytest.raises(BackendUnavailableError):
            await backend.wait_for_work(None, timeout=0.5)
        redis_server.start()
        assert (await backend.get(rec.id)) == rec  # AOF kept it; scripts are loaded again
        claimed = await backend.claim(queues=None, worker_id="w", limit=1, now=at(1), lease_until=at(2))
        assert [r.id for r in claimed] == [rec.id]
    finally:
        await backend.close()
        if redis_server.process is None:
            redis_server.start()


async def test_counts_per_queue_and_status(backend: RedisQueueBackend) -> None:
    recs = [record(queue="a"), record(queue="a", run_at=5), record(queue="b"), record(queue="b")]
    await backend.enqueue(recs)
    (claimed,) = await backend.claim(queues=["b"], worker_id="w", limit=1, now=at(1), lease_until=at(2))
    await backend.cancel(recs[3].id, now=at(1))
    assert await backend.counts() == {
        "a": {"pending": 1, "scheduled": 1},
        "b": {"running": 1, "cancelled": 1},
    }
    assert claimed.created_at == T0


async def test_read_only_replica_raises_backend_unavailable(tmp_path: Path) -> None:
    binary = shutil.which("redis-server")
    assert binary is not None
    server = RedisServer(binary, tmp_path)
    server.start()
    client = aioredis.Redis.from_url(server.url)
    backend = RedisQueueBackend(url=server.url)
    try:
        await client.execute_command("REPLICAOF", "127.0.0.1", "1")  # a failover demoted it
        await backend.open()
        with pytest.raises(BackendUnavailableError, match="cannot take writes"):
            await backend.enqueue([record()])
        assert await backend.get(uuid.uuid4()) is None  # reads still work
    finally:
        await backend.close()
        await client.aclose()
        server.stop()
