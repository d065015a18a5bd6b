"""Queue limits on the Redis backend: the keys the scripts keep, the claim's budget, stored limits.

Beyond the contract kit: a limit key's running set follows the record through claim, finish,
release, cancel, reclaim and a burial, and is gone once none of its records runs; a claim passes
over at most 1,000 held-back records per queue; a queue's bucket goes with its rate; a limit
stored behind the backend's back is refused with a typed error; a store without limits costs a
claim one ``EXISTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from litestar_queues import QueueLimit, QueueLimitError
from litestar_queues.models import Outcome
from tests.redis._listing import make
from tests.redis._support import at

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from litestar_queues.models import TaskRecord
    from litestar_queues_redis import RedisQueueBackend

pytestmark = pytest.mark.anyio


async def _claim(backend: RedisQueueBackend, queues: list[str] | None, limit: int = 10) -> list[TaskRecord]:
    return list(
        await backend.claim(queues=queues, worker_id="w", limit=limit, now=at(100), lease_until=at(130))
    )


async def test_a_limit_key_s_running_set_follows_its_records(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await backend.set_limit("q", QueueLimit(key_concurrency=5))
    records = [make(n, queue="q", limit_key="customer:1") for n in range(5)]
    await backend.enqueue(records)
    key = backend.keys.limit_key_running("q", "customer:1")
    claimed = await _claim(backend, ["q"])
    assert {m.decode() for m in await raw.smembers(key)} == {str(r.id) for r in claimed}  # type: ignore[misc]
    first, second, third, fourth, _fifth = claimed
    assert first.lease_id and second.lease_id and fourth.lease_id
    await backend.finish(
        [
            Outcome(task_id=first.id, lease_id=first.lease_id, kind="complete"),
            Outcome(task_id=second.id, lease_id=second.lease_id, kind="release"),
        ],
        now=at(101),
    )
    await backend.cancel(third.id, now=at(101))
    await backend.extend_leases([(fourth.id, fourth.lease_id)], until=at(1000))
    await backend.reclaim_expired(now=at(200))  # fifth's lease (130) expired; fourth's did not
    assert {m.decode() for m in await raw.smembers(key)} == {str(fourth.id)}  # type: ignore[misc]
    await raw.hset(backend.keys.record(fourth.id), "status", "bogus")  # damaged: buried when met
    assert await backend.extend_leases([(fourth.id, fourth.lease_id)], until=at(2000)) == {fourth.id}
    assert not await raw.exists(key)  # no record of the key runs: the set is gone


async def test_a_record_without_a_limit_key_writes_no_set(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await backend.set_limit("q", QueueLimit(key_concurrency=1))
    await backend.enqueue([make(0, queue="q"), make(1, queue="q")])
    assert len(await _claim(backend, ["q"])) == 2
    assert [k async for k in raw.scan_iter(match=f"{backend.keys.tag}:lk:*")] == []


async def test_a_claim_passes_over_at_most_1000_held_back_records_per_queue(
    backend: RedisQueueBackend,
) -> None:
    await backend.set_limit("q", QueueLimit(key_concurrency=1))
    held = [make(n, queue="q", limit_key="big") for n in range(1002)]
    behind = make(2000, queue="q", limit_key="small")
    other = make(2001, queue="r")
    for start in range(0, len(held), 500):
        await backend.enqueue(held[start : start + 500])
    await backend.enqueue([behind, other])
    assert [r.id for r in await _claim(backend, ["q"], limit=1)] == [held[0].id]
    # 1,001 of "big" wait ahead of "small": the claim stops looking in q after 1,000 of them,
    # and still claims from the other queues
    assert [r.id for r in await _claim(backend, None)] == [other.id]
    await backend.set_limit("q", QueueLimit(key_concurrency=2))
    assert [r.id for r in await _claim(backend, ["q"], limit=1)] == [held[1].id]  # in its place


async def test_a_bucket_goes_with_its_rate(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    await backend.set_limit("q", QueueLimit(rate=2, per=10.0))
    await backend.enqueue([make(n, queue="q") for n in range(4)])
    assert len(await _claim(backend, ["q"])) == 2
    bucket = await raw.hgetall(backend.keys.bucket("q"))  # type: ignore[misc]
    assert float(bucket[b"tokens"]) == 0.0 and int(bucket[b"at"]) > 0
    await backend.set_limit("q", QueueLimit(rate=2, per=10.0, concurrency=5))  # keeps the rate
    assert await raw.exists(backend.keys.bucket("q"))
    await backend.set_limit("q", QueueLimit(concurrency=5))  # the rate is gone: so is the bucket
    assert not await raw.exists(backend.keys.bucket("q"))


async def test_a_limit_stored_behind_the_backend_s_back_is_refused(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await raw.hset(backend.keys.limits, "q", "0 - - -")  # type: ignore[misc]
    with pytest.raises(QueueLimitError, match="the stored limit of queue 'q' is invalid"):
        await backend.limits()


async def test_without_limits_a_claim_reads_no_limit_key(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await backend.enqueue([make(n, queue=f"q{n % 3}") for n in range(6)])
    assert not await raw.exists(backend.keys.limits)
    assert len(await _claim(backend, None)) == 6
    await backend.set_limit("q0", QueueLimit(concurrency=1))
    await backend.set_limit("q0", None)
    assert not await raw.exists(backend.keys.limits)  # the hash goes with its last field
