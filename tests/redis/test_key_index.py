"""The index of each dedup key (``{prefix}:keyix:<key>``): what a key filter reads.

A key listing must list what the memory backend lists for the same records and operations (both
orders, pages, other filters on top), a deleted record must leave its key's index, the backfill
must index keyed records written before the key indexes, and a key listing must read only the
key's records, not the store (counted with ``INFO commandstats``: commands a script runs count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest

from litestar_queues.backends.memory import MemoryQueueBackend
from litestar_queues.models import QueryPosition, RecordQuery, TaskRecord
from litestar_queues_redis import RedisQueueBackend
from litestar_queues_redis._codec import listing_position
from litestar_queues_redis.backend import INDEX_VERSION
from tests.redis._listing import check_indexes, claim, finish, make
from tests.redis._support import at

if TYPE_CHECKING:
    import uuid

    import redis.asyncio as aioredis

    from litestar_queues.ports import QueueBackend

pytestmark = pytest.mark.anyio

KEYS = ("ka", "kb", "kc")


def generations() -> list[list[TaskRecord]]:
    """Five rounds of records: each key once per round (across queues and task names), plus unkeyed ones."""
    rounds = []
    for g in range(5):
        batch = []
        for i in range(9):
            key = KEYS[i] if i < 3 and (g + i) % 4 != 3 else None
            batch.append(
                make(
                    g * 10 + i // 2,
                    queue="ab"[(g + i) % 2],
                    task_name=("t.one", "t.two")[i % 2],
                    key=key,
                    max_retries=0,
                )
            )
        rounds.append(batch)
    return rounds


async def play(backend: Any, rounds: list[list[TaskRecord]]) -> None:
    """The same operations on either backend: each round is enqueued, then (but the last) finished."""
    number = {r.id: n for n, r in enumerate(rec for batch in rounds for rec in batch)}
    now = 100.0
    for g, batch in enumerate(rounds):
        results = await backend.enqueue(batch)
        assert all(result.created for result in results)  # each key was free again
        if g == len(rounds) - 1:
            break
        held = await backend.claim(
            queues=None, worker_id="w", limit=100, now=at(now), lease_until=at(now + 30)
        )
        for rec in sorted(held, key=lambda r: number[r.id]):
            now += 1
            await finish(backend, rec, ("complete", "fail")[number[rec.id] % 2], now, error="e")
    cancelled = next(r for r in rounds[-1] if r.key == "kb")
    await backend.cancel(cancelled.id, now=at(now + 1))
    # a failed keyed record back to pending (or unchanged, when an active record holds its key)
    requeued = next(r for r in rounds[0] if r.key is not None and number[r.id] % 2 == 1)
    assert await backend.requeue(requeued.id, now=at(now + 2)) is not None


KEY_QUERIES = [
    RecordQuery(key="ka"),
    RecordQuery(key="kb"),
    RecordQuery(key="kc", statuses=("completed", "failed")),
    RecordQuery(key="ka", queues=("a",)),
    RecordQuery(key="kb", task_names=("t.two",)),
    RecordQuery(key="kc", created_after=at(12), created_before=at(40)),
    RecordQuery(key="ka", finished_after=at(104), finished_before=at(130)),
    RecordQuery(key="kb", statuses=("pending", "cancelled"), queues=("a", "b")),
    RecordQuery(key="missing"),
]


async def pages(backend: QueueBackend, query: RecordQuery) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    while True:
        page = await backend.query(query)
        ids += [r.id for r in page]
        if len(page) < query.limit:
            return ids
        query = msgspec.structs.replace(query, after=QueryPosition.of(page[-1]))


async def test_a_key_listing_equals_the_memory_backends(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    rounds = generations()
    memory = MemoryQueueBackend()
    await memory.open()
    await play(memory, rounds)
    await play(backend, rounds)
    assert len(await memory.query(RecordQuery(key="ka"))) >= 4  # several pages of one key
    for query in KEY_QUERIES:
        for newest_first in (True, False):
            for size in (1, 2, 50):
                paged = msgspec.structs.replace(query, newest_first=newest_first, limit=size)
                expected = await pages(memory, paged)
                assert await pages(backend, paged) == expected, paged
                assert [r.id for r in await backend.query(paged)] == expected[:size]
                # a page that starts after a position inside the key's records
                if len(expected) > 2:
                    middle = await memory.get(expected[1])
                    assert middle is not None
                    after = msgspec.structs.replace(paged, after=QueryPosition.of(middle))
                    assert [r.id for r in await backend.query(after)] == [
                        r.id for r in await memory.query(after)
                    ]
    # and a key listing reads back like get
    for listed in await backend.query(RecordQuery(key="ka")):
        assert listed == await backend.get(listed.id)
    await check_indexes(raw, backend.keys)


async def test_a_deleted_record_leaves_its_key_index(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    rounds = generations()
    await play(backend, rounds)
    index = backend.keys.key_index("ka")
    before = await backend.query(RecordQuery(key="ka", newest_first=False))
    # through the key index
    deleted = await backend.delete(
        RecordQuery(key="ka", statuses=("completed",), limit=1, newest_first=False)
    )
    assert len(deleted) == 1
    # through the listing indexes (no key filter): every failed record
    failed = await backend.delete(RecordQuery(statuses=("failed",)))
    assert failed
    left = [r.id for r in before if r.id not in deleted and r.id not in failed]
    assert [r.id for r in await backend.query(RecordQuery(key="ka", newest_first=False))] == left
    members = set(await raw.zrange(index, 0, -1))
    assert members == {listing_position(r.created_at, r.id).encode() for r in before if r.id in left}
    await check_indexes(raw, backend.keys)
    await backend.delete(RecordQuery(key="ka"))
    assert await raw.exists(index) == 0


async def test_the_backfill_indexes_keyed_records_written_without_the_key_index(
    redis_url: str, raw: aioredis.Redis
) -> None:
    """Records an older version (index_version 1) wrote have listing positions but no key index."""
    writer = RedisQueueBackend(url=redis_url)
    await writer.open()
    rounds = generations()
    try:
        await play(writer, rounds)
        everything = [r.id for r in await writer.query(RecordQuery(key="kb", limit=100))]
        assert everything
        async for name in raw.scan_iter(match=writer.keys.records_pattern.removesuffix(":t:*") + ":keyix:*"):
            await raw.delete(name)
        await raw.set(writer.keys.index_version, "1")
        assert await writer.query(RecordQuery(key="kb")) == []  # not indexed: not found
    finally:
        await writer.close()
    upgraded = RedisQueueBackend(url=redis_url)
    await upgraded.open()  # index_version 1 < 2: the backfill runs
    try:
        assert await raw.get(upgraded.keys.index_version) == INDEX_VERSION.encode()
        assert [r.id for r in await upgraded.query(RecordQuery(key="kb", limit=100))] == everything
        await check_indexes(raw, upgraded.keys)
        assert await upgraded.backfill_index() == 0  # nothing left to index
    finally:
        await upgraded.close()


async def _script_reads(raw: aioredis.Redis) -> dict[str, int]:
    stats = await raw.info("commandstats")
    return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("hmget", "zrangebylex")}


async def test_a_key_listing_reads_only_the_keys_records(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """20,000 unkeyed records and 3 keyed ones: listing or deleting the key reads a handful of records."""
    for start in range(0, 20_000, 2_000):
        await backend.enqueue([make(i / 100) for i in range(start, start + 2_000)])
    keyed = [make(50.5 + i, key="rare", queue="ab"[i % 2]) for i in range(3)]
    for rec in keyed:
        await backend.enqueue([rec])
        held = await backend.claim_task(rec.id, worker_id="w", now=at(300), lease_until=at(400))
        assert held is not None
        await finish(backend, held, "complete", 301)
    await raw.config_resetstat()
    listed = await backend.query(RecordQuery(key="rare"))
    assert [r.id for r in listed] == [r.id for r in reversed(keyed)]
    assert [r.id for r in await backend.query(RecordQuery(key="rare", queues=("b",)))] == [keyed[1].id]
    reads = await _script_reads(raw)
    assert reads["hmget"] <= 12, reads  # 3 records read per query, not 20,003
    assert reads["zrangebylex"] <= 4, reads
    await raw.config_resetstat()
    assert await backend.delete(RecordQuery(key="rare", queues=("a",))) == [keyed[2].id, keyed[0].id]
    reads = await _script_reads(raw)
    assert reads["hmget"] <= 6, reads
    assert [r.id for r in await backend.query(RecordQuery(key="rare"))] == [keyed[1].id]


async def test_a_keyed_enqueue_drops_entries_whose_retention_ended(
    redis_url: str, raw: aioredis.Redis
) -> None:
    """A key reused forever: its index keeps no entry for records whose hash expired."""
    backend = RedisQueueBackend(url=redis_url, result_ttl=0.05)
    await backend.open()
    try:
        index = backend.keys.key_index("cron")
        for i in range(6):
            rec = make(i, key="cron")
            await backend.enqueue([rec])
            (held,) = await claim(backend, i + 0.5)
            await finish(backend, held, "complete", i + 0.6)
            await anyio.sleep(0.12)  # its retention ends
        assert await raw.zcard(index) <= 2
        last = make(10, key="cron")
        await backend.enqueue([last])
        assert await raw.zrange(index, 0, -1) == [listing_position(last.created_at, last.id).encode()]
        assert [r.id for r in await backend.query(RecordQuery(key="cron"))] == [last.id]
    finally:
        await backend.close()
