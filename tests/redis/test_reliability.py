"""Malformed records written with raw Redis commands: every operation moves them aside and goes on.

Each test damages one record (or one index entry) behind the backend's back, then runs one
operation: it must not hang or fail, the damaged record must end in the dead letters, the good
record beside it must be served, and no active record may be left outside the index that serves
it (a ``pending`` record missing from ``ready`` would never run, a ``running`` one missing from
``leases`` would never be reclaimed).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues import MalformedRecordError, Outcome
from litestar_queues.models import RecordQuery
from tests.redis._support import at, record

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import redis.asyncio as aioredis

    from litestar_queues.models import TaskRecord
    from litestar_queues_redis import RedisQueueBackend
    from litestar_queues_redis._keys import Keys

    Scenario = Callable[[RedisQueueBackend, aioredis.Redis, str], Awaitable[None]]

pytestmark = pytest.mark.anyio

FIELD_DAMAGES: dict[str, tuple[str, bytes]] = {
    "non-numeric score": ("score", b"high"),
    "infinite score": ("score", b"inf"),
    "empty member": ("member", b""),
    "non-numeric attempts": ("attempts", b"x"),
    "fractional attempts": ("attempts", b"1.5"),
    "non-numeric runs": ("runs", b"many"),
    "fractional reclaims": ("reclaims", b"0.5"),
    "non-numeric max_reclaims": ("max_reclaims", b"three"),
    "non-numeric run_at": ("run_at", b"soon"),
    "run_at out of range": ("run_at", b"9" * 25),
    "non-numeric lease expiry": ("lease_exp", b"later"),
    "non-numeric started_at": ("started_at", b"x"),
    "unknown status": ("status", b"exploded"),
    "empty queue": ("queue", b""),
    "garbage JSON": ("rec", b"{not json"),
    "JSON of another type": ("rec", b"[1, 2]"),
    "listing position of no record": ("ix", b"0" * 14 + str(uuid.uuid4()).encode()),
    "listing position not hex": ("ix", b"x" * 14),
    "garbage history": ("history", b"[{"),
    "history of another type": ("history", b'{"run": 1}'),
}
OTHER_DAMAGES = ("not a hash", "no queue field", "member of another record", "record of another id")
DAMAGES = (*FIELD_DAMAGES, *OTHER_DAMAGES)
# found when the client decodes the record's JSON: extend_leases returns no record, so never
CLIENT_DECODED = frozenset(
    {
        "garbage JSON",
        "JSON of another type",
        "record of another id",
        "garbage history",
        "history of another type",
    }
)


async def damage(raw: aioredis.Redis, keys: Keys, bad: TaskRecord, good: TaskRecord, how: str) -> None:
    """Damage ``bad``'s stored record (``good`` lends a field for the cross-record damages)."""
    key, good_key = keys.record(bad.id), keys.record(good.id)
    if how == "not a hash":
        await raw.delete(key)
        await raw.set(key, b"\x00garbage")
    elif how == "no queue field":
        await raw.hdel(key, "queue")
    elif how == "member of another record":
        await raw.hset(key, "member", await raw.hget(good_key, "member") or b"")
    elif how == "record of another id":
        await raw.hset(key, "rec", await raw.hget(good_key, "rec") or b"")
    else:
        field, value = FIELD_DAMAGES[how]
        await raw.hset(key, field, value)


async def stranded(raw: aioredis.Redis, keys: Keys) -> list[str]:
    """Active records missing from the index that serves them: they would never move again."""
    lost = []
    async for name in raw.scan_iter(match=keys.record("*")):
        if await raw.type(name) != b"hash":
            lost.append(name.decode())
            continue
        status, queue, member = await raw.hmget(name, "status", "queue", "member")
        task_id = name.decode().rsplit(":", 1)[1]
        if status is None or queue is None:
            lost.append(task_id)
            continue
        index, entry = {
            b"pending": ("ready", member),
            b"scheduled": ("delayed", task_id),
            b"running": ("leases", task_id),
        }.get(status, (None, None))
        if index is not None and (
            entry is None or await raw.zscore(keys.queue(queue.decode(), index), entry) is None
        ):
            lost.append(task_id)
    return lost


async def assert_moved_aside(backend: RedisQueueBackend, raw: aioredis.Redis, bad: TaskRecord) -> None:
    """``bad`` is in the dead letters with its raw key kept, and no active record is stranded."""
    assert str(bad.id) in await backend.dead_letters()
    assert await raw.exists(backend.keys.record(bad.id)) == 0
    assert await raw.exists(backend.keys.dead_record(bad.id)) == 1
    assert await stranded(raw, backend.keys) == []


async def claim_one_queue(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=at(1), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    await assert_moved_aside(backend, raw, bad)


async def claim_two_queues(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(queue="a", priority=1), record(queue="b")
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    claimed = await backend.claim(queues=["a", "b"], worker_id="w", limit=10, now=at(1), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    await assert_moved_aside(backend, raw, bad)


async def claim_due_scheduled(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(run_at=5), record(run_at=5)
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    claimed = await backend.claim(queues=["default"], worker_id="w", limit=10, now=at(6), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    await assert_moved_aside(backend, raw, bad)


async def claim_task(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    assert await backend.claim_task(bad.id, worker_id="w", now=at(1), lease_until=at(30)) is None
    claimed = await backend.claim_task(good.id, worker_id="w", now=at(1), lease_until=at(30))
    assert claimed is not None and claimed.status == "running"
    await assert_moved_aside(backend, raw, bad)


async def get(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    with pytest.raises(MalformedRecordError, match="dead letters"):
        await backend.get(bad.id)
    assert await backend.get(good.id) == good
    await assert_moved_aside(backend, raw, bad)


async def cancel(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    with pytest.raises(MalformedRecordError, match="dead letters"):
        await backend.cancel(bad.id, now=at(1))
    cancelled = await backend.cancel(good.id, now=at(1))
    assert cancelled is not None and cancelled.status == "cancelled"
    await assert_moved_aside(backend, raw, bad)


async def enqueue_same_key(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(key="k"), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    again = record(key="k")
    (result,) = await backend.enqueue([again])
    assert result.created and result.record.id == again.id
    await assert_moved_aside(backend, raw, bad)
    assert await backend.get(again.id) == again


async def enqueue_same_id(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    (result,) = await backend.enqueue([bad])
    assert result.created
    assert str(bad.id) in await backend.dead_letters()
    assert await raw.exists(backend.keys.dead_record(bad.id)) == 1
    assert await backend.get(bad.id) == bad
    assert await stranded(raw, backend.keys) == []


async def claim_both(backend: RedisQueueBackend) -> tuple[TaskRecord, TaskRecord]:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    claimed = await backend.claim(queues=None, worker_id="w", limit=2, now=at(1), lease_until=at(2))
    assert [r.id for r in claimed] == [bad.id, good.id]
    return claimed[0], claimed[1]


async def reclaim_expired(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = await claim_both(backend)
    await damage(raw, backend.keys, bad, good, how)
    reclaimed = await backend.reclaim_expired(now=at(3))
    assert [(r.id, r.status) for r in reclaimed] == [(good.id, "pending")]
    await assert_moved_aside(backend, raw, bad)


async def extend_leases(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = await claim_both(backend)
    await damage(raw, backend.keys, bad, good, how)
    leases = [(bad.id, bad.lease_id or ""), (good.id, good.lease_id or "")]
    assert await backend.extend_leases(leases, until=at(60)) == {bad.id}
    extended = await backend.get(good.id)
    assert extended is not None and extended.lease_expires_at == at(60)
    await assert_moved_aside(backend, raw, bad)


async def finish(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = await claim_both(backend)
    await damage(raw, backend.keys, bad, good, how)
    outcomes = [
        Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete", result=1) for r in (bad, good)
    ]
    first, second = await backend.finish(outcomes, now=at(1.5))
    assert first is None
    assert second is not None and (second.id, second.status, second.result) == (good.id, "completed", 1)
    await assert_moved_aside(backend, raw, bad)


async def query(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    await damage(raw, backend.keys, bad, good, how)
    listed = await backend.query(RecordQuery(limit=10))
    assert [r.id for r in listed] == [good.id]
    await assert_moved_aside(backend, raw, bad)


async def requeue(backend: RedisQueueBackend, raw: aioredis.Redis, how: str) -> None:
    bad, good = record(), record()
    await backend.enqueue([bad, good])
    for rec in (bad, good):
        await backend.cancel(rec.id, now=at(1))
    await damage(raw, backend.keys, bad, good, how)
    with pytest.raises(MalformedRecordError, match="dead letters"):
        await backend.requeue(bad.id, now=at(2))
    again = await backend.requeue(good.id, now=at(2))
    assert again is not None and again.status == "pending"
    await assert_moved_aside(backend, raw, bad)


SCENARIOS: dict[str, Scenario] = {
    "claim": claim_one_queue,
    "claim over two queues": claim_two_queues,
    "claim of due scheduled": claim_due_scheduled,
    "claim_task": claim_task,
    "get": get,
    "cancel": cancel,
    "enqueue with the key": enqueue_same_key,
    "enqueue with the id": enqueue_same_id,
    "reclaim_expired": reclaim_expired,
    "extend_leases": extend_leases,
    "finish": finish,
    "query": query,
    "requeue": requeue,
}
CASES = [
    pytest.param(op, how, id=f"{op}-{how}")
    for op in SCENARIOS
    for how in DAMAGES
    if not (op == "extend_leases" and how in CLIENT_DECODED)
]


@pytest.mark.parametrize(("op", "how"), CASES)
async def test_a_malformed_record_is_moved_aside_and_the_good_one_served(
    backend: RedisQueueBackend, raw: aioredis.Redis, op: str, how: str
) -> None:
    with anyio.fail_after(10):
        await SCENARIOS[op](backend, raw, how)
        # the queue keeps flowing afterwards
        later = record()
        await backend.enqueue([later])
        claimed = await backend.claim(queues=None, worker_id="w2", limit=10, now=at(100), lease_until=at(200))
        assert later.id in {r.id for r in claimed}


async def test_extend_leases_keeps_a_lease_whose_json_only_the_client_decodes(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    bad, good = await claim_both(backend)
    await damage(raw, backend.keys, bad, good, "garbage JSON")
    assert await backend.extend_leases([(bad.id, bad.lease_id or "")], until=at(60)) == set()
    # the next operation that returns the record moves it aside
    outcome = Outcome(task_id=bad.id, lease_id=bad.lease_id or "", kind="complete")
    assert await backend.finish([outcome], now=at(2)) == [None]
    await assert_moved_aside(backend, raw, bad)


def orphan_member(task_id: str) -> str:
    return f"{9_999_999:016d}{task_id}"


async def test_a_ready_entry_without_a_record_is_noted_and_dropped(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    good = record()
    await backend.enqueue([good])
    ghost = str(uuid.uuid4())
    ready = backend.keys.queue("default", "ready")
    await raw.zadd(ready, {orphan_member(ghost): -5.0, b"": -4.0, b"short": -3.0})
    with anyio.fail_after(10):
        claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=at(1), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    assert await raw.zcard(ready) == 0
    dead = await backend.dead_letters()
    assert json.loads(dead[ghost])["key"] is None
    assert "no record" in json.loads(dead[ghost])["error"]


async def test_a_ready_entry_without_a_record_is_dropped_over_two_queues(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    good = record(queue="b")
    await backend.enqueue([good])
    ghost = str(uuid.uuid4())
    await raw.sadd(f"{backend.keys.tag}:queues", "a")
    await raw.zadd(backend.keys.queue("a", "ready"), {orphan_member(ghost): -5.0, b"": -9.0})
    with anyio.fail_after(10):
        claimed = await backend.claim(
            queues=["a", "b"], worker_id="w", limit=10, now=at(1), lease_until=at(30)
        )
    assert [r.id for r in claimed] == [good.id]
    assert ghost in await backend.dead_letters()


async def test_a_delayed_entry_without_a_record_is_noted_and_dropped(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    good = record(run_at=5)
    await backend.enqueue([good])
    ghost = str(uuid.uuid4())
    delayed = backend.keys.queue("default", "delayed")
    await raw.zadd(delayed, {ghost: 1.0, b"": 2.0})
    with anyio.fail_after(10):
        claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=at(6), lease_until=at(30))
    assert [r.id for r in claimed] == [good.id]
    assert await raw.zcard(delayed) == 0
    assert ghost in await backend.dead_letters()


async def test_a_lease_entry_without_a_record_is_noted_and_dropped(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    bad, good = await claim_both(backend)
    await raw.delete(backend.keys.record(bad.id))
    leases = backend.keys.queue("default", "leases")
    await raw.zadd(leases, {b"": 1.0})
    with anyio.fail_after(10):
        reclaimed = await backend.reclaim_expired(now=at(3))
    assert [r.id for r in reclaimed] == [good.id]
    assert await raw.zrange(leases, 0, -1) == []
    assert str(bad.id) in await backend.dead_letters()
    assert await stranded(raw, backend.keys) == []


async def test_a_dedup_key_of_a_missing_record_is_taken_over(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    await raw.hset(f"{backend.keys.tag}:keys", "k", str(uuid.uuid4()))
    await raw.hset(f"{backend.keys.tag}:keys", "k2", "")
    fresh, fresh2 = record(key="k"), record(key="k2")
    results = await backend.enqueue([fresh, fresh2])
    assert [r.created for r in results] == [True, True]
    assert await backend.get(fresh.id) == fresh


async def test_a_worker_serves_good_records_beside_malformed_ones(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """Many damaged records in one queue: repeated claims drain the good ones, none strand."""
    records = [record(priority=i % 3) for i in range(40)]
    await backend.enqueue(records)
    bad = records[::4]
    for i, rec in enumerate(bad):
        await damage(raw, backend.keys, rec, records[1], DAMAGES[i % len(DAMAGES)])
    served: list[uuid.UUID] = []
    with anyio.fail_after(10):
        while batch := await backend.claim(
            queues=None, worker_id="w", limit=3, now=at(1), lease_until=at(30)
        ):
            served += [r.id for r in batch]
    good_ids = {r.id for r in records} - {r.id for r in bad}
    assert sorted(served) == sorted(good_ids)
    assert set(await backend.dead_letters()) == {str(r.id) for r in bad}
    assert await stranded(raw, backend.keys) == []


async def test_a_record_buried_after_it_finished_is_not_counted(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    bad, good = await claim_both(backend)
    await damage(raw, backend.keys, bad, good, "garbage JSON")  # found only when the reply is decoded
    outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete") for r in (bad, good)]
    assert [r is None for r in await backend.finish(outcomes, now=at(1.5))] == [True, False]
    assert await backend.counts() == {"default": {"completed": 1}}


async def test_garbage_in_the_queue_set_and_the_wake_up_lists_is_harmless(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    good = record()
    await backend.enqueue([good])
    await raw.sadd(f"{backend.keys.tag}:queues", "", "\xff\xfe", "x" * 1000)
    await raw.rpush(backend.keys.queue("default", "wake"), b"", b"\x00junk", b"9" * 100)
    with anyio.fail_after(10):
        await backend.wait_for_work(["default"], timeout=5)
        claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=at(1), lease_until=at(30))
        assert [r.id for r in claimed] == [good.id]
        assert await backend.reclaim_expired(now=at(60)) != []
        counts = await backend.counts()
    assert counts["default"] == {"pending": 1}
