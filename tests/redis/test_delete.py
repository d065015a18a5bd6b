"""The Redis backend's delete: exactly what query lists, never a running record, nothing left behind.

Beyond the contract kit: every filter of the listing tests in both orders, page sizes and keyset
positions, compared with what ``query`` lists for the same query just before; running records
racing the delete; dedup keys, claims and counts after it; every key under the prefix scanned for
a trace of a deleted record; index entries whose record expired by ``result_ttl``; the retention
sweep's query in a loop; and a delete that takes several script calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest

import litestar_queues_redis.backend as backend_module
from litestar_queues.models import ALL_STATUSES, QueryPosition, RecordQuery, TaskRecord
from litestar_queues_redis import RedisQueueBackend
from tests.redis._listing import QUERIES, build_mix, check_indexes, claim, finish, make, reference, stored
from tests.redis._support import ScriptCalls, at

if TYPE_CHECKING:
    import uuid

    import redis.asyncio as aioredis

pytestmark = pytest.mark.anyio


async def expected_counts(backend: RedisQueueBackend, raw: aioredis.Redis) -> dict[str, dict[str, int]]:
    """``counts()`` as the stored records say it should be."""
    result: dict[str, dict[str, int]] = {}
    for rec in await stored(backend, raw):
        per_queue = result.setdefault(rec.queue, {})
        per_queue[rec.status] = per_queue.get(rec.status, 0) + 1
    return result


async def traces(raw: aioredis.Redis, prefix_tag: str, task_id: uuid.UUID) -> list[str]:
    """Every key under the prefix that names ``task_id`` or holds it (in a member, field or value)."""
    needle = str(task_id).encode()
    found: list[str] = []
    async for name in raw.scan_iter(match=prefix_tag.replace("{", "\\{").replace("}", "\\}") + "*"):
        kind = (await raw.type(name)).decode()
        if kind == "hash":
            content = [b for pair in (await raw.hgetall(name)).items() for b in pair]
        elif kind == "zset":
            content = await raw.zrange(name, 0, -1)
        elif kind == "set":
            content = list(await raw.smembers(name))
        elif kind == "list":
            content = await raw.lrange(name, 0, -1)
        else:
            content = [await raw.get(name) or b""]
        if needle in name or any(needle in item for item in content):
            found.append(name.decode())
    return found


# -- what is deleted ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
async def test_delete_removes_what_query_lists_but_running_records(
    backend: RedisQueueBackend, raw: aioredis.Redis, query: RecordQuery
) -> None:
    """Every filter, both orders, small pages and a keyset position: each delete takes what
    ``query`` listed the moment before (minus running records), in its order, and nothing else."""
    await build_mix(backend)
    everything = await stored(backend, raw)
    middle = sorted(everything, key=lambda r: (r.created_at, r.id.bytes))[len(everything) // 2]
    for newest_first in (True, False):
        for after in (QueryPosition.of(middle), None):
            for size in (1, 4, 50):
                paged = msgspec.structs.replace(query, newest_first=newest_first, limit=size, after=after)
                before = await stored(backend, raw)
                listed = await backend.query(paged)
                assert [r.id for r in listed] == reference(before, paged)[:size]
                deleted = await backend.delete(paged)
                assert deleted == [r.id for r in listed if r.status != "running"]
                left = {r.id for r in await stored(backend, raw)}
                assert left == {r.id for r in before} - set(deleted)
                await check_indexes(raw, backend.keys)
                assert await backend.counts() == await expected_counts(backend, raw)
    assert await backend.dead_letters() == {}


async def test_running_records_are_never_deleted(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    await build_mix(backend)
    running = await backend.query(RecordQuery(statuses=("running",), limit=100))
    assert running
    deleted = await backend.delete(RecordQuery(limit=1000))
    assert not set(deleted) & {r.id for r in running}
    assert {r.status for r in await stored(backend, raw)} == {"running"}
    assert await backend.delete(RecordQuery(statuses=("running",), limit=1000)) == []
    for held in running:  # their workers still finish them
        await finish(backend, held, "complete", 500)
    assert len(await backend.delete(RecordQuery(limit=1000))) == len(running)
    assert await stored(backend, raw) == []
    await check_indexes(raw, backend.keys)


async def test_a_record_claimed_while_deletes_run_is_either_claimed_or_deleted(redis_url: str) -> None:
    """The status is read inside the delete script: a concurrent claim and delete never both win,
    and a delete that selects a record claimed meanwhile leaves it."""
    deleter, claimer = RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)
    await deleter.open()
    await claimer.open()
    records = [make(i / 100) for i in range(400)]
    deleted: list[uuid.UUID] = []
    claimed: list[TaskRecord] = []
    try:
        await deleter.enqueue(records)

        async def delete_loop() -> None:
            # every status, newest first: the claims take the oldest, so the two meet in the middle
            while await deleter.query(RecordQuery(statuses=("pending",), limit=1)):
                deleted.extend(await deleter.delete(RecordQuery(limit=7)))

        async def claim_loop() -> None:
            while batch := await claim(claimer, 1, limit=5):
                claimed.extend(batch)

        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_loop)
            tg.start_soon(claim_loop)
        assert deleted and claimed
        assert not set(deleted) & {r.id for r in claimed}
        assert set(deleted) | {r.id for r in claimed} == {r.id for r in records}
        assert len(deleted) == len(set(deleted))
        for held in claimed:
            assert (await deleter.get(held.id) or held).status == "running"
        assert all([await deleter.get(task_id) is None for task_id in deleted])
    finally:
        await deleter.close()
        await claimer.close()


# -- what goes with a deleted record -----------------------------------------------------------------


async def test_a_deleted_keyed_record_frees_its_key(backend: RedisQueueBackend) -> None:
    for status_run_at in (0.0, 50.0):  # pending, then scheduled
        held = make(
            0, key="invoice-1", run_at=at(status_run_at), status="scheduled" if status_run_at else "pending"
        )
        (first,) = await backend.enqueue([held])
        assert first.created
        (dup,) = await backend.enqueue([make(1, key="invoice-1")])
        assert not dup.created and dup.record.id == held.id
        assert await backend.delete(RecordQuery(key="invoice-1")) == [held.id]
        fresh = make(2, key="invoice-1")
        (again,) = await backend.enqueue([fresh])
        assert again.created and again.record.id == fresh.id
        assert await backend.delete(RecordQuery(key="invoice-1")) == [fresh.id]


async def test_a_finished_record_deleted_leaves_the_key_of_its_successor(backend: RedisQueueBackend) -> None:
    old = make(0, key="k")
    await backend.enqueue([old])
    (held,) = await claim(backend, 1)
    await finish(backend, held, "complete", 2)
    successor = make(3, key="k")
    (result,) = await backend.enqueue([successor])
    assert result.created
    assert await backend.delete(RecordQuery(statuses=("completed",))) == [old.id]
    (dup,) = await backend.enqueue([make(4, key="k")])
    assert not dup.created and dup.record.id == successor.id


async def test_deleted_waiting_records_are_never_claimed(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    pending, scheduled, kept = make(0), make(1, run_at=at(10), status="scheduled"), make(2)
    await backend.enqueue([pending, scheduled, kept])
    deleted = await backend.delete(
        RecordQuery(statuses=("pending", "scheduled"), limit=2, newest_first=False)
    )
    assert deleted == [pending.id, scheduled.id]
    held = await claim(backend, 1000, limit=10)  # the scheduled one would be due
    assert [r.id for r in held] == [kept.id]
    for task_id in deleted:
        assert await backend.claim_task(task_id, worker_id="w", now=at(1000), lease_until=at(1030)) is None
    assert await claim(backend, 2000, limit=10) == []
    assert await backend.dead_letters() == {}  # no entry was left for a claim to trip over
    assert await backend.counts() == {"default": {"running": 1}}


async def test_no_key_of_a_deleted_record_remains(redis_url: str, raw: aioredis.Redis) -> None:
    """Scan every key of the prefix for a deleted record's id, in every status it can be deleted in."""
    for ttl in (None, 3600.0):
        backend = RedisQueueBackend(url=redis_url, result_ttl=ttl)
        await backend.open()
        try:
            await build_mix(backend)
            keyed = make(40, key="kept-key")
            await backend.enqueue([keyed])
            victims = [r for r in await stored(backend, raw) if r.status != "running"]
            assert {r.status for r in victims} == set(ALL_STATUSES) - {"running"}
            deleted = await backend.delete(RecordQuery(limit=1000))
            assert set(deleted) == {r.id for r in victims}
            for task_id in deleted:
                assert await traces(raw, backend.keys.tag, task_id) == []
            await check_indexes(raw, backend.keys)
            for held in await backend.query(RecordQuery(limit=100)):
                await finish(backend, held, "complete", 600)
            await backend.delete(RecordQuery(limit=1000))
            assert [k async for k in raw.scan_iter(match=backend.keys.records_pattern)] == []
            assert await backend.counts() == {}
        finally:
            await backend.close()
            await raw.delete(
                *[k async for k in raw.scan_iter(match=backend.keys.tag.replace("{", "\\{") + "*")]
            )


async def test_a_waiter_on_a_deleted_record_returns(backend: RedisQueueBackend) -> None:
    rec = make(0)
    await backend.enqueue([rec])
    waited = anyio.Event()

    async def wait() -> None:
        await backend.wait_for_finish(rec.id, timeout=10)
        waited.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.sleep(0.2)
        assert not waited.is_set()
        assert await backend.delete(RecordQuery()) == [rec.id]
        with anyio.fail_after(2):
            await waited.wait()


# -- stale entries, retention sweep, several calls -------------------------------------------------------


async def test_entries_of_records_expired_by_result_ttl_are_skipped_and_cleaned(
    short_lived: RedisQueueBackend, redis_url: str, raw: aioredis.Redis
) -> None:
    backend = short_lived
    await backend.enqueue([make(i) for i in range(4)])
    for held in await claim(backend, 10, limit=4):
        await finish(backend, held, "complete", 11)
    await anyio.sleep(0.2)  # their hashes expired; their index and retention entries are left
    keeper = RedisQueueBackend(url=redis_url)  # the same prefix, finished records kept
    await keeper.open()
    try:
        late = make(5)
        await keeper.enqueue([late])
        (held,) = await claim(keeper, 12)
        await finish(keeper, held, "complete", 13)
    finally:
        await keeper.close()
    index = backend.keys.index("default", "completed")
    retained = backend.keys.queue("default", "completed")
    assert await raw.zcard(index) == 5
    assert await raw.zcard(retained) == 5
    sweep = RecordQuery(
        statuses=("completed",), finished_before=at(20), created_before=at(20), newest_first=False
    )
    assert await backend.delete(sweep) == [late.id]
    assert await raw.zcard(index) == 0
    assert await raw.zcard(retained) == 0
    assert await backend.query(sweep) == []
    assert await backend.dead_letters() == {}  # an expired record is not a dead letter


async def test_delete_drops_stale_entries_it_meets_without_counting_them(
    short_lived: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    backend = short_lived
    records = [make(i) for i in range(6)]
    await backend.enqueue(records)
    for held in await claim(backend, 10, limit=6):
        await finish(backend, held, "fail", 11, error="boom")
    await anyio.sleep(0.2)
    # no finish or counts ran since: every entry is stale, none is trimmed yet
    assert await raw.zcard(backend.keys.index("default", "failed")) == 6
    assert await backend.delete(RecordQuery(statuses=("failed",), limit=2)) == []
    assert await raw.zcard(backend.keys.index("default", "failed")) == 0
    assert await raw.zcard(backend.keys.queue("default", "failed")) == 0


async def test_the_retention_sweep_deletes_old_finished_records_in_rounds(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """The core's sweep: per status, ``finished_before`` and ``created_before`` the cutoff, oldest first."""
    records = [make(i, queue="ab"[i % 2]) for i in range(30)]
    await backend.enqueue(records)
    for i, held in enumerate(await claim(backend, 100, limit=30)):
        await finish(backend, held, "complete", 100 + i)  # finished at 100..129
    young = make(200)
    await backend.enqueue([young])
    (held,) = await claim(backend, 201)
    await finish(backend, held, "complete", 202)
    cutoff = at(120)
    sweep = RecordQuery(
        statuses=("completed",), finished_before=cutoff, created_before=cutoff, newest_first=False, limit=7
    )
    expected = reference(await stored(backend, raw), msgspec.structs.replace(sweep, limit=1000))
    assert len(expected) == 20
    deleted: list[uuid.UUID] = []
    while batch := await backend.delete(sweep):
        assert len(batch) <= 7
        deleted += batch
    assert deleted == expected
    assert sorted(r.finished_at or at(0) for r in await stored(backend, raw)) == [
        at(s) for s in (*range(120, 130), 202)
    ]
    await check_indexes(raw, backend.keys)


async def test_a_delete_that_takes_several_calls_counts_running_records_towards_its_limit(
    backend: RedisQueueBackend, raw: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_module, "QUERY_BUDGET", 3)
    records = [make(i, task_name="t.rare" if i % 4 == 0 else "t.one") for i in range(40)]
    await backend.enqueue(records)
    rare = [r for r in records if r.task_name == "t.rare"]  # created at 0, 4, 8, ...
    held = await backend.claim_task(rare[1].id, worker_id="w", now=at(1), lease_until=at(100))
    assert held is not None
    script = ScriptCalls(backend, "delete")
    query = RecordQuery(task_names=("t.rare",), limit=4, newest_first=False)
    # query lists rare[0..3], the running rare[1] among them: delete takes the other three
    assert [r.id for r in await backend.query(query)] == [r.id for r in rare[:4]]
    assert await backend.delete(query) == [rare[0].id, rare[2].id, rare[3].id]
    assert script.calls == 5  # 3 entries per call: 13 entries up to rare[3]
    assert await backend.delete(query) == [r.id for r in rare[4:7]]
    await check_indexes(raw, backend.keys)


async def test_delete_selects_nothing_for_empty_filters_or_limit(backend: RedisQueueBackend) -> None:
    await backend.enqueue([make(0)])
    for query in (
        RecordQuery(queues=()),
        RecordQuery(statuses=()),
        RecordQuery(task_names=()),
        RecordQuery(limit=0),
    ):
        assert await backend.delete(query) == []
    assert len(await backend.query(RecordQuery())) == 1


async def test_a_large_delete_is_split_into_calls_of_delete_chunk_records(
    backend: RedisQueueBackend, raw: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No script call deletes more than DELETE_CHUNK records: the server is held briefly each time."""
    monkeypatch.setattr(backend_module, "DELETE_CHUNK", 2)
    records = [make(i) for i in range(7)]
    await backend.enqueue(records)
    sizes: list[int] = []
    script = backend._s.delete

    async def counted(**kwargs: Any) -> Any:
        reply = await script(**kwargs)
        sizes.append(len(reply[0]))
        return reply

    backend._s.delete = counted  # type: ignore[assignment]
    query = RecordQuery(newest_first=False, limit=5)
    assert await backend.delete(query) == [r.id for r in records[:5]]
    assert sizes == [2, 2, 1]
    assert [r.id for r in await backend.query(RecordQuery(newest_first=False))] == [r.id for r in records[5:]]
    await check_indexes(raw, backend.keys)
