"""The Redis backend's read model: listing indexes, query, requeue, history, backfill, retention.

Beyond the contract kit (tests/redis/test_contract.py): every filter and both orders against a
reference computed from the stored records, keyset pages through created_at ties and across
queues and statuses, a query that takes several script calls, requeue racing an enqueue of the
same key, the attempt history through every read, records written before the listing indexes
existed, and finished records whose retention ends. After each scenario the indexes are checked
against the records: every record is listed exactly once, in the index of its queue and status.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest
from redis.asyncio.cluster import RedisCluster

import litestar_queues_redis.backend as backend_module
from litestar_queues import QueueConfigurationError
from litestar_queues.models import (
    ALL_STATUSES,
    AttemptRecord,
    Outcome,
    QueryPosition,
    RecordQuery,
    TaskRecord,
)
from litestar_queues_redis import RedisQueueBackend
from litestar_queues_redis._codec import listing_position
from litestar_queues_redis.backend import INDEX_VERSION
from tests.redis._listing import (
    QUERIES,
    build_mix,
    check_indexes,
    claim,
    finish,
    make,
    page_through,
    reference,
    stored,
)
from tests.redis._support import T0, ScriptCalls, at

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from litestar_queues_redis._keys import Keys
    from tests.servers import RedisServer

pytestmark = pytest.mark.anyio


# -- ordering ----------------------------------------------------------------------------------------


def test_the_listing_position_orders_like_the_query() -> None:
    """The index members' byte order is (created_at, id.bytes), over the whole time range."""
    times = [
        datetime(1700, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        T0,
        T0 + timedelta(microseconds=1),
        datetime(2250, 1, 1, tzinfo=UTC),
    ]
    keys = [(moment, uuid.uuid4()) for moment in times for _ in range(200)]
    by_query = sorted(keys, key=lambda k: (k[0], k[1].bytes))
    by_member = sorted(keys, key=lambda k: listing_position(*k).encode())
    assert by_member == by_query


async def test_pages_across_created_at_ties_in_both_orders(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """One enqueue_many shares one created_at: the id orders the tie group, pages split it anywhere."""
    tied = [make(5) for _ in range(40)]
    await backend.enqueue([make(4), *tied, make(6)])
    records = await stored(backend, raw)
    for newest_first in (True, False):
        for size in (1, 3, 7, 50):
            query = RecordQuery(newest_first=newest_first, limit=size)
            assert await page_through(backend, query) == reference(records, query)
        # a page that starts inside the tie group
        middle = sorted(tied, key=lambda r: r.id.bytes)[17]
        query = RecordQuery(newest_first=newest_first, limit=10, after=QueryPosition.of(middle))
        assert [r.id for r in await backend.query(query)] == reference(records, query)[:10]
    await check_indexes(raw, backend.keys)


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
async def test_every_filter_in_both_orders_matches_the_reference(
    backend: RedisQueueBackend, raw: aioredis.Redis, query: RecordQuery
) -> None:
    await build_mix(backend)
    records = await stored(backend, raw)
    assert {r.status for r in records} == set(ALL_STATUSES)
    for newest_first in (True, False):
        for size in (1, 4, 50):
            paged = msgspec.structs.replace(query, newest_first=newest_first, limit=size)
            expected = reference(records, paged)
            assert await page_through(backend, paged) == expected
            assert [r.id for r in await backend.query(paged)] == expected[:size]
    await check_indexes(raw, backend.keys)


async def test_a_listed_record_reads_back_like_get(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    await build_mix(backend)
    for listed in await backend.query(RecordQuery(limit=100)):
        assert listed == await backend.get(listed.id)


async def test_a_selective_filter_takes_several_calls(
    backend: RedisQueueBackend, raw: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each script call reads at most QUERY_BUDGET entries; the client goes on where it stopped."""
    monkeypatch.setattr(backend_module, "QUERY_BUDGET", 5)
    records = [make(i, task_name="t.rare" if i % 11 == 0 else "t.one") for i in range(60)]
    await backend.enqueue(records)
    script = ScriptCalls(backend, "query")
    query = RecordQuery(task_names=("t.rare",), limit=10)  # 6 of the 60 match
    assert [r.id for r in await backend.query(query)] == reference(records, query)
    assert script.calls == 12  # at most QUERY_BUDGET = 5 entries per call
    script.calls = 0
    query = RecordQuery(task_names=("t.rare",), limit=2, newest_first=False)
    assert [r.id for r in await backend.query(query)] == reference(records, query)[:2]
    assert script.calls == 3  # 5 + 5 + 2 entries: it stops as soon as the page is full


# -- requeue -----------------------------------------------------------------------------------------


async def test_requeue_moves_the_record_back_in_one_step(redis_url: str, raw: aioredis.Redis) -> None:
    backend = RedisQueueBackend(url=redis_url, result_ttl=3600)
    await backend.open()
    try:
        first, later = make(0, key="k"), make(1)
        await backend.enqueue([first])
        (held,) = await claim(backend, 1)
        failed = await finish(backend, held, "fail", 2, error="boom")
        await backend.enqueue([later])
        keys = backend.keys
        member = await raw.hget(keys.record(first.id), "member")
        ix = listing_position(first.created_at, first.id)
        assert await raw.ttl(keys.record(first.id)) > 0
        assert await raw.zscore(keys.queue("default", "failed"), ix) is not None

        again = await backend.requeue(first.id, now=at(3))
        assert again is not None
        expected = msgspec.structs.replace(
            failed, status="pending", run_at=at(3), attempts=0, reclaims=0, finished_at=None, result=None
        )
        assert again == expected == await backend.get(first.id)
        assert await raw.ttl(keys.record(first.id)) == -1  # kept until it finishes again
        assert await raw.zscore(keys.queue("default", "failed"), ix) is None
        assert await raw.zscore(keys.index("default", "failed"), ix) is None
        assert await raw.zscore(keys.index("default", "pending"), ix) == 0
        assert await raw.hget(f"{keys.tag}:keys", "k") == str(first.id).encode()
        assert await raw.zscore(keys.queue("default", "ready"), member or b"") is not None
        await check_indexes(raw, keys)
        # it kept its place in the enqueue order: ahead of the record enqueued after it
        assert [r.id for r in await claim(backend, 4, limit=2)] == [first.id, later.id]
        assert (await backend.counts())["default"] == {"running": 2}
    finally:
        await backend.close()


async def test_requeue_leaves_other_statuses_and_unknown_ids(backend: RedisQueueBackend) -> None:
    pending, running = make(0), make(1)
    await backend.enqueue([running, pending])
    (held,) = await claim(backend, 1)
    assert await backend.requeue(held.id, now=at(2)) == held
    assert await backend.requeue(pending.id, now=at(2)) == pending
    assert await backend.requeue(uuid.uuid4(), now=at(2)) is None
    done = await finish(backend, held, "complete", 3, result=7)
    assert await backend.requeue(done.id, now=at(4)) == done


async def test_requeue_races_an_enqueue_of_the_same_key(redis_url: str, raw: aioredis.Redis) -> None:
    """One script each: whichever runs first holds the key, the other sees it held."""
    first, second = RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)
    await first.open()
    await second.open()
    outcomes = set()
    try:
        for i in range(30):
            key = f"race{i}"
            old = make(i, key=key)
            await first.enqueue([old])
            (held,) = await claim(first, i)
            await finish(first, held, "fail", i, error="boom")
            fresh = make(i, key=key)
            results: dict[str, Any] = {}

            async def requeue(old: TaskRecord = old, results: dict[str, Any] = results, i: int = i) -> None:
                results["requeue"] = await first.requeue(old.id, now=at(i + 1))

            async def enqueue(fresh: TaskRecord = fresh, results: dict[str, Any] = results) -> None:
                (results["enqueue"],) = await second.enqueue([fresh])

            async with anyio.create_task_group() as tg:
                tg.start_soon(requeue)
                tg.start_soon(enqueue)
            requeued, enqueued = results["requeue"], results["enqueue"]
            if requeued.status == "pending":  # the requeue ran first
                assert not enqueued.created
                assert enqueued.record.id == old.id
                holder = old.id
                outcomes.add("requeue first")
            else:  # the enqueue ran first: the failed record stays failed
                assert requeued.status == "failed"
                assert enqueued.created
                holder = fresh.id
                outcomes.add("enqueue first")
            assert await raw.hget(f"{first.keys.tag}:keys", key) == str(holder).encode()
            active = await first.query(RecordQuery(key=key, statuses=("pending", "scheduled", "running")))
            assert [r.id for r in active] == [holder]
            # the queue drains whatever won: one active record per key
            for rec in await claim(first, i + 2, limit=10):
                await finish(first, rec, "complete", i + 2)
        await check_indexes(raw, first.keys)
    finally:
        await first.close()
        await second.close()
    assert outcomes  # which orders occurred depends on scheduling; each is checked above


# -- history -----------------------------------------------------------------------------------------


async def test_history_round_trips_through_every_read(backend: RedisQueueBackend) -> None:
    rec = make(0, max_retries=3)
    await backend.enqueue([rec])
    (held,) = await claim(backend, 1)
    first = AttemptRecord(
        run=1,
        worker_id="w",
        started_at=at(1),
        finished_at=at(2),
        verdict="retried",
        error="ValueError: ünïcödé ✓",
        traceback="Traceback (most recent call last):\n" + "x" * 8000 + "\nValueError: ünïcödé ✓\n",
    )
    retried = await finish(backend, held, "retry", 2, error="ValueError", history=[first])
    assert retried.history == [first]
    (held,) = await claim(backend, 3)
    assert held.history == [first]  # the claim's reply carries it
    (listed,) = await backend.query(RecordQuery(statuses=("running",)))
    assert listed.history == [first]
    second = AttemptRecord(run=2, worker_id="w", started_at=at(3), finished_at=at(4), verdict="failed")
    failed = await finish(backend, held, "fail", 4, error="boom", history=[first, second])
    assert failed.history == [first, second]
    again = await backend.requeue(rec.id, now=at(5))
    assert again is not None and again.history == [first, second]  # requeue keeps it
    (held,) = await claim(backend, 6)
    kept = await finish(backend, held, "complete", 7)  # no history: left as it was
    assert kept.history == [first, second]
    assert (await backend.get(rec.id)) == kept


async def test_an_empty_history_is_stored_as_given(backend: RedisQueueBackend) -> None:
    rec = make(0)
    await backend.enqueue([rec])
    (held,) = await claim(backend, 1)
    entry = AttemptRecord(run=1, verdict="released")
    await finish(backend, held, "release", 2, history=[entry])
    (held,) = await claim(backend, 3)
    done = await finish(backend, held, "complete", 4, history=[])
    assert done.history == [] == (await backend.get(rec.id) or rec).history


async def test_a_history_that_is_not_attempt_records_is_refused(backend: RedisQueueBackend) -> None:
    rec = make(0)
    await backend.enqueue([rec])
    (held,) = await claim(backend, 1)
    bad = Outcome(task_id=held.id, lease_id=held.lease_id or "", kind="complete", history=[{"run": 1}])  # type: ignore[list-item]
    with pytest.raises(QueueConfigurationError, match="history"):
        await backend.finish([bad], now=at(2))
    assert (await backend.get(rec.id) or rec).status == "running"


# -- records written before the listing indexes -------------------------------------------------------


async def make_legacy(raw: aioredis.Redis, keys: Keys, rec: TaskRecord) -> None:
    """Turn a stored record into what the backend wrote before the listing indexes existed.

    That version stored the same hash without ``ix``, ``task`` and ``history``, its JSON had no
    ``history`` key, its finished records were kept in the retention sets under their bare id,
    and there were no index sets (listing or key) and no ``index_version`` key.
    """
    name = keys.record(rec.id)
    status, queue, ix = (v.decode() for v in await raw.hmget(name, "status", "queue", "ix"))
    if rec.key is not None:
        await raw.zrem(keys.key_index(rec.key), ix)
    doc = json.loads(await raw.hget(name, "rec") or b"")
    del doc["history"]
    await raw.hset(name, "rec", json.dumps(doc))
    await raw.hdel(name, "ix", "task", "history")
    await raw.zrem(keys.index(queue, status), ix)
    if status in ("completed", "failed", "cancelled"):
        until = await raw.zscore(keys.queue(queue, status), ix)
        assert until is not None
        await raw.zrem(keys.queue(queue, status), ix)
        await raw.zadd(keys.queue(queue, status), {str(rec.id): until})
    await raw.delete(keys.index_version)


async def test_open_lists_records_written_before_the_indexes(redis_url: str, raw: aioredis.Redis) -> None:
    """The first open after the upgrade backfills: old records are listed, in their statuses."""
    writer = RedisQueueBackend(url=redis_url, result_ttl=3600)
    await writer.open()
    records = [make(i, queue="ab"[i % 2]) for i in range(8)]
    try:
        await writer.enqueue(records)
        held = await claim(writer, 10, limit=5)
        await finish(writer, held[0], "complete", 11, result={"x": 1})
        await finish(writer, held[1], "fail", 12, error="boom")
        await finish(writer, held[2], "retry", 13, run_at=at(99))
        await writer.cancel(records[7].id, now=at(14))
        before = {r.id: r for r in await stored(writer, raw)}
        for rec in records:
            await make_legacy(raw, writer.keys, rec)
    finally:
        await writer.close()
    assert await raw.exists(writer.keys.index_version) == 0

    upgraded = RedisQueueBackend(url=redis_url, result_ttl=3600)
    await upgraded.open()  # runs the backfill
    try:
        assert await raw.get(upgraded.keys.index_version) == INDEX_VERSION.encode()
        listed = await upgraded.query(RecordQuery(limit=50))
        assert {r.id: r for r in listed} == before  # every field, history [] (not in the old JSON)
        assert all(r.history == [] for r in listed)
        assert await page_through(upgraded, RecordQuery(limit=3)) == reference(
            list(before.values()), RecordQuery()
        )
        await check_indexes(raw, upgraded.keys)
        # the retention entries were renamed: expiry and requeue find them
        failed = before[held[1].id]
        ix = listing_position(failed.created_at, failed.id)
        assert await raw.zscore(upgraded.keys.queue(failed.queue, "failed"), ix) is not None
        assert (await upgraded.requeue(failed.id, now=at(20)) or failed).status == "pending"
        # from now on the scripts keep them listed
        for rec in await claim(upgraded, 21, limit=10):
            await finish(upgraded, rec, "complete", 22)
        await check_indexes(raw, upgraded.keys)
        assert await upgraded.backfill_index() == 0  # nothing left to list
    finally:
        await upgraded.close()


async def test_records_an_old_version_writes_later_are_listed_by_backfill_index(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """A rolling upgrade: records written by an old process after the backfill are not listed yet.

    The scripts serve them (claim, finish) without listing them; ``backfill_index()`` lists them
    in the status they have by then.
    """
    listed, late = make(0), make(1)
    await backend.enqueue([listed, late])
    await make_legacy(raw, backend.keys, late)
    await raw.set(backend.keys.index_version, INDEX_VERSION)
    assert [r.id for r in await backend.query(RecordQuery())] == [listed.id]
    held = await claim(backend, 2, limit=2)
    assert {r.id for r in held} == {listed.id, late.id}
    for rec in held:
        await finish(backend, rec, "complete", 3)
    assert [r.id for r in await backend.query(RecordQuery())] == [listed.id]
    assert await backend.backfill_index() == 1
    done = await backend.query(RecordQuery(statuses=("completed",)))
    assert [r.id for r in done] == [late.id, listed.id]
    await check_indexes(raw, backend.keys)


async def test_the_backfill_moves_malformed_records_aside(redis_url: str, raw: aioredis.Redis) -> None:
    writer = RedisQueueBackend(url=redis_url)
    await writer.open()
    good, garbage, other_id, not_hash = make(0), make(1), make(2), make(3)
    try:
        await writer.enqueue([good, garbage, other_id, not_hash])
        for rec in (good, garbage, other_id, not_hash):
            await make_legacy(raw, writer.keys, rec)
    finally:
        await writer.close()
    keys = writer.keys
    await raw.hset(keys.record(garbage.id), "rec", b"{not json")
    await raw.hset(keys.record(other_id.id), "rec", await raw.hget(keys.record(good.id), "rec") or b"")
    await raw.delete(keys.record(not_hash.id))
    await raw.set(keys.record(not_hash.id), b"junk")
    upgraded = RedisQueueBackend(url=redis_url)
    await upgraded.open()
    try:
        assert [r.id for r in await upgraded.query(RecordQuery())] == [good.id]
        assert set(await upgraded.dead_letters()) == {str(r.id) for r in (garbage, other_id, not_hash)}
    finally:
        await upgraded.close()


async def test_the_backfill_runs_through_a_cluster_client(
    redis_cluster_server: RedisServer, redis_prefix: str
) -> None:
    client = RedisCluster(host="127.0.0.1", port=redis_cluster_server.port)
    backend = RedisQueueBackend(client=client, key_prefix=redis_prefix)
    try:
        await backend.open()
        records = [make(i) for i in range(3)]
        await backend.enqueue(records)
        for rec in records:
            await make_legacy(client, backend.keys, rec)  # type: ignore[arg-type]
        assert await backend.query(RecordQuery()) == []
        await backend.close()
        await backend.open()
        assert [r.id for r in await backend.query(RecordQuery(newest_first=False))] == [r.id for r in records]
        (held,) = await claim(backend, 5)
        assert await backend.requeue(held.id, now=at(6)) == held  # running: unchanged
    finally:
        await backend.close()
        await client.aclose()


async def test_a_new_prefix_is_marked_by_its_first_enqueue(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """open() writes nothing on an empty prefix (a read-only replica opens too); enqueue marks it."""
    assert await raw.exists(backend.keys.index_version) == 0
    await backend.enqueue([make(0)])
    assert await raw.get(backend.keys.index_version) == INDEX_VERSION.encode()


# -- retention and stale entries ------------------------------------------------------------------------


async def test_expired_records_leave_no_visible_index_entry(
    short_lived: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """A finished record's hash expires after result_ttl; the listing drops its entry when met."""
    backend = short_lived
    records = [make(i, queue="ab"[i % 2]) for i in range(6)]
    await backend.enqueue(records)
    for rec in await claim(backend, 10, limit=4):
        await finish(backend, rec, "complete" if rec.queue == "a" else "fail", 11)
    indexes = [backend.keys.index(q, s) for q in "ab" for s in ("completed", "failed")]
    assert sum([await raw.zcard(index) for index in indexes]) == 4
    await anyio.sleep(0.2)
    assert await backend.query(RecordQuery(statuses=("completed", "failed"))) == []
    remaining = await backend.query(RecordQuery(limit=10))
    assert {r.status for r in remaining} == {"pending"} and len(remaining) == 2
    assert sum([await raw.zcard(index) for index in indexes]) == 0
    assert await backend.dead_letters() == {}  # an expired record is not a dead letter
    await check_indexes(raw, backend.keys)


async def test_retention_drops_index_entries_without_a_query(
    short_lived: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """The next finish (or counts) forgets expired records: the index does not grow without reads."""
    backend = short_lived
    records = [make(i) for i in range(5)]
    await backend.enqueue(records)
    for rec in await claim(backend, 10, limit=3):
        await finish(backend, rec, "complete", 11)
    await anyio.sleep(0.2)
    (last,) = await claim(backend, 12)
    await finish(backend, last, "complete", 13)
    index = backend.keys.index("default", "completed")
    assert await raw.zrange(index, 0, -1) == [listing_position(last.created_at, last.id).encode()]
    assert await raw.zcard(backend.keys.queue("default", "completed")) == 1
    (held,) = await claim(backend, 14)
    await backend.cancel(held.id, now=at(15))
    await anyio.sleep(0.2)
    assert await backend.counts() == {}
    assert await raw.zcard(backend.keys.index("default", "cancelled")) == 0
    assert await raw.zcard(index) == 0


async def test_an_entry_whose_record_was_deleted_is_dropped_silently(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    gone, kept = make(0), make(1)
    await backend.enqueue([gone, kept])
    await raw.delete(backend.keys.record(gone.id))
    assert [r.id for r in await backend.query(RecordQuery())] == [kept.id]
    assert await raw.zcard(backend.keys.index("default", "pending")) == 1
    assert await backend.dead_letters() == {}


async def test_an_entry_left_in_another_status_index_is_moved_when_met(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """A status change that did not move the entry (an older process) is repaired by a listing
    that meets it; until then only listings reading the old index see the record."""
    rec = make(0)
    await backend.enqueue([rec])
    (held,) = await claim(backend, 1)
    ix = listing_position(rec.created_at, rec.id)
    keys = backend.keys
    await raw.zrem(keys.index("default", "running"), ix)
    await raw.zadd(keys.index("default", "pending"), {ix: 0})
    assert await backend.query(RecordQuery(statuses=("running",))) == []  # not found where it belongs
    assert await backend.query(RecordQuery(statuses=("pending",))) == []  # met, moved, left out
    assert await backend.query(RecordQuery(statuses=("running",))) == [held]
    await check_indexes(raw, keys)


async def test_backfill_index_repairs_entries_an_older_version_left_behind(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    first, second = make(0), make(1)
    await backend.enqueue([first, second])
    held = await claim(backend, 1)
    done = await finish(backend, held[0], "complete", 2)
    keys = backend.keys
    ix = listing_position(first.created_at, first.id)
    # what an older process's finish does: no listing move, the retention entry under the bare id
    await raw.zrem(keys.index("default", "completed"), ix)
    await raw.zadd(keys.index("default", "running"), {ix: 0})
    until = await raw.zscore(keys.queue("default", "completed"), ix)
    await raw.zrem(keys.queue("default", "completed"), ix)
    await raw.zadd(keys.queue("default", "completed"), {str(first.id): until or 0})
    assert await backend.backfill_index() == 1
    assert await backend.query(RecordQuery(statuses=("completed",))) == [done]
    assert await raw.zscore(keys.queue("default", "completed"), ix) == until
    await check_indexes(raw, keys)
    assert await backend.backfill_index() == 0


async def test_an_entry_naming_another_position_is_dropped(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    rec = make(0)
    await backend.enqueue([rec])
    wrong = listing_position(at(50), rec.id)
    await raw.zadd(backend.keys.index("default", "pending"), {wrong: 0, "x" * 14 + str(uuid.uuid4()): 0})
    assert await backend.query(RecordQuery()) == [rec]
    await check_indexes(raw, backend.keys)


async def test_a_naive_created_at_is_listed_as_utc(backend: RedisQueueBackend) -> None:
    naive = make(5)
    naive.created_at = at(5).replace(tzinfo=None)
    await backend.enqueue([make(0), naive, make(10)])
    listed = await backend.query(RecordQuery(created_after=at(4), created_before=at(6)))
    assert [r.id for r in listed] == [naive.id]
    assert listed[0].created_at == naive.created_at  # read back as stored
    after = RecordQuery(newest_first=False, after=QueryPosition(at(5), naive.id))
    assert len(await backend.query(after)) == 1


async def test_created_at_outside_the_stored_range_is_refused(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    bad = make(0)
    bad.created_at = datetime(9999, 1, 1, tzinfo=UTC)
    with pytest.raises(QueueConfigurationError, match="created_at"):
        await backend.enqueue([make(1), bad])
    assert [k async for k in raw.scan_iter(match=backend.keys.records_pattern)] == []
