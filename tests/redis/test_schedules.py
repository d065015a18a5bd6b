"""Schedule states on the Redis backend: the compare-and-set, the fire it enqueues, what it stores.

Beyond the contract kit: the stored hash and its exact times, a due time one microsecond off,
the same instant in another zone, 20 advances racing over two clients, a fire whose key is held
(by an active, a finished or a malformed record), a fire stored exactly as ``enqueue`` stores the
same record (every key compared), nothing left but the records after ``delete_schedule``, records
checked before anything is written, and damaged states moved aside.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest

from litestar_queues import QueueConfigurationError, SerializationError
from litestar_queues.models import RecordQuery, ScheduleState
from litestar_queues_redis import RedisQueueBackend
from litestar_queues_redis._codec import to_us
from tests.redis._support import at, record
from tests.redis.test_reliability import damage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import redis.asyncio as aioredis

    from litestar_queues.models import TaskRecord
    from litestar_queues_redis._keys import Keys

pytestmark = pytest.mark.anyio

US = timedelta(microseconds=1)


def fire(name: str, due: datetime, **extra: Any) -> TaskRecord:
    """The record a scheduler enqueues when ``name`` fires at ``due`` (keyed by the due time)."""
    extra.setdefault("key", f"schedule:{name}:{due.isoformat()}")
    return record(**extra)


async def dump(raw: aioredis.Redis, keys: Keys) -> dict[str, tuple[str, Any]]:
    """Every key under the backend's prefix (without it) with its type and content."""
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in keys.tag) + "*"
    found: dict[str, tuple[str, Any]] = {}
    async for name in raw.scan_iter(match=pattern, count=1000):
        kind = (await raw.type(name)).decode()
        value: Any
        if kind == "hash":
            value = await raw.hgetall(name)
        elif kind == "zset":
            value = await raw.zrange(name, 0, -1, withscores=True)
        elif kind == "set":
            value = await raw.smembers(name)
        elif kind == "list":
            value = await raw.lrange(name, 0, -1)
        else:
            value = await raw.get(name)
        found[name.decode().removeprefix(keys.tag)] = (kind, value)
    return found


@pytest.fixture
async def other(redis_url: str) -> AsyncIterator[RedisQueueBackend]:
    """A second backend on the same server under another prefix."""
    backend = RedisQueueBackend(url=redis_url, key_prefix=f"o{uuid.uuid4().hex[:12]}")
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def create(backend: RedisQueueBackend, name: str, first: datetime, now: datetime) -> ScheduleState:
    state = await backend.advance_schedule(name, expected=None, next_fire=first, record=None, now=now)
    assert state is not None
    return state


async def stored_ids(backend: RedisQueueBackend) -> list[uuid.UUID]:
    return [r.id for r in await backend.query(RecordQuery(limit=1000, newest_first=False))]


async def test_the_state_is_a_hash_of_microseconds_read_back_exactly(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    first, now = at(60.000001), at(0.123457)
    state = await create(backend, "nightly", first, now)
    assert state == ScheduleState(name="nightly", next_fire=first, updated_at=now)
    key = backend.keys.schedule("nightly")
    assert await raw.hgetall(key) == {
        b"next_fire": to_us(first).encode(),
        b"paused": b"0",
        b"last_fire": b"",
        b"last_task_id": b"",
        b"updated_at": to_us(now).encode(),
    }
    assert await raw.smembers(backend.keys.schedules) == {b"nightly"}
    due, following = first, at(120.999999)
    job = fire("nightly", due)
    fired = await backend.advance_schedule(
        "nightly", expected=due, next_fire=following, record=job, now=at(61.5)
    )
    assert fired == ScheduleState(
        name="nightly", next_fire=following, last_fire=due, last_task_id=job.id, updated_at=at(61.5)
    )
    (read,) = await backend.schedule_states()
    assert read == fired
    for moment in (read.next_fire, read.last_fire, read.updated_at):
        assert moment is not None and moment.tzinfo is UTC
    assert (read.next_fire.microsecond, read.updated_at.microsecond) == (999999, 500000)
    assert await raw.hget(key, "last_task_id") == str(job.id).encode()
    # times far from the server's clock, at both ends of the range: only the caller's count
    past, future = datetime(1700, 1, 1, tzinfo=UTC) + US, datetime(2250, 12, 31, tzinfo=UTC) - US
    created = await create(backend, "old", past, future)
    assert await backend.schedule_states() == [fired, created]
    assert (created.next_fire, created.updated_at) == (past, future)


async def test_the_compare_and_set_takes_the_stored_due_time_only(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    due = at(60)
    created = await create(backend, "nightly", due, at(0))
    before = await dump(raw, backend.keys)
    for wrong in (due - US, due + US, None, at(0)):
        refused = await backend.advance_schedule(
            "nightly", expected=wrong, next_fire=at(120), record=fire("nightly", due), now=at(61)
        )
        assert refused is None, wrong
    refused = await backend.advance_schedule(  # a schedule without a state
        "weekly", expected=due, next_fire=at(120), record=fire("weekly", due), now=at(61)
    )
    assert refused is None
    assert await dump(raw, backend.keys) == before  # nothing written, no record stored
    assert await backend.schedule_states() == [created]
    # the same instant in another zone is the same due time
    job = fire("nightly", due)
    fired = await backend.advance_schedule(
        "nightly",
        expected=due.astimezone(timezone(timedelta(hours=5, minutes=30))),
        next_fire=at(120).astimezone(timezone(timedelta(hours=-7))),
        record=job,
        now=at(61),
    )
    assert fired is not None and fired.last_fire == due and fired.next_fire == at(120)
    assert fired.next_fire.utcoffset() == timedelta(0)
    assert await stored_ids(backend) == [job.id]
    # the due time it left is refused from now on
    assert (
        await backend.advance_schedule("nightly", expected=due, next_fire=at(180), record=None, now=at(62))
        is None
    )
    skipped = await backend.advance_schedule(
        "nightly", expected=at(120), next_fire=at(180), record=None, now=at(62)
    )
    assert skipped == ScheduleState(
        name="nightly", next_fire=at(180), last_fire=due, last_task_id=job.id, updated_at=at(62)
    )


async def test_twenty_advances_over_two_clients_one_winner_one_record(redis_url: str) -> None:
    """Per due time, 20 schedulers (10 per client) advance at once: one wins, one record is stored.

    The racing records carry no dedup key, so only the compare-and-set keeps a second one out.
    """
    clients = [RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)]
    for client in clients:
        await client.open()
    try:
        due = at(10)
        await create(clients[0], "race", due, at(0))
        winners: list[uuid.UUID] = []
        for round_ in range(10):
            following = due + timedelta(seconds=10)
            records = [fire("race", due, key=None, queue=f"q{n % 3}") for n in range(20)]
            results: list[ScheduleState | None] = [None] * 20

            async def advance(
                n: int,
                due: datetime = due,
                following: datetime = following,
                records: list[TaskRecord] = records,
                results: list[ScheduleState | None] = results,
            ) -> None:
                results[n] = await clients[n % 2].advance_schedule(
                    "race", expected=due, next_fire=following, record=records[n], now=due
                )

            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(advance, n)
            won = [n for n, state in enumerate(results) if state is not None]
            assert len(won) == 1, (round_, won)
            state = results[won[0]]
            assert state is not None
            assert (state.last_fire, state.next_fire) == (due, following)
            assert state.last_task_id == records[won[0]].id
            winners.append(records[won[0]].id)
            assert sorted(await stored_ids(clients[1])) == sorted(winners)
            assert await clients[1].schedule_states() == [state]
            due = following
        assert sum(sum(c.values()) for c in (await clients[0].counts()).values()) == 10
    finally:
        for client in clients:
            await client.close()


async def test_a_fire_whose_key_an_active_record_holds_notes_the_holder(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    due = at(60)
    await create(backend, "nightly", due, at(0))
    job = fire("nightly", due)
    holder = record(key=job.key, queue="elsewhere")
    await backend.enqueue([holder])
    before = await dump(raw, backend.keys)
    state = await backend.advance_schedule("nightly", expected=due, next_fire=at(120), record=job, now=at(61))
    assert state is not None and (state.last_fire, state.last_task_id) == (due, holder.id)
    after = await dump(raw, backend.keys)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {":schedule:nightly"}  # the record was not stored, nobody was woken
    assert await backend.get(holder.id) == holder
    # a key a finished record held is free: the next fire is stored
    await backend.cancel(holder.id, now=at(62))
    again = fire("nightly", at(120), key=job.key)
    state = await backend.advance_schedule(
        "nightly", expected=at(120), next_fire=at(180), record=again, now=at(121)
    )
    assert state is not None and state.last_task_id == again.id
    # both were created at the same instant: their listing order is the ids' order
    assert sorted(await stored_ids(backend)) == sorted([holder.id, again.id])


@pytest.mark.parametrize("how", ["unknown status", "not a hash", "garbage JSON", "record of another id"])
async def test_a_fire_whose_key_a_malformed_record_holds_is_stored(
    backend: RedisQueueBackend, raw: aioredis.Redis, how: str
) -> None:
    """Found by the script or (its JSON) only by the client: the holder goes, the fire is stored."""
    due = at(60)
    await create(backend, "nightly", due, at(0))
    job = fire("nightly", due)
    holder, good = record(key=job.key), record()
    await backend.enqueue([holder, good])
    await damage(raw, backend.keys, holder, good, how)
    state = await backend.advance_schedule("nightly", expected=due, next_fire=at(120), record=job, now=at(61))
    assert state == ScheduleState(
        name="nightly", next_fire=at(120), last_fire=due, last_task_id=job.id, updated_at=at(61)
    )
    assert await backend.schedule_states() == [state]
    assert str(holder.id) in await backend.dead_letters()
    assert await backend.get(job.id) == job
    assert await raw.hget(backend.keys.tag + ":keys", job.key or "") == str(job.id).encode()


async def test_a_fire_is_stored_exactly_as_enqueue_stores_it_and_delete_leaves_only_it(
    backend: RedisQueueBackend, other: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """Every key a fire writes beside the state is the key ``enqueue`` of the same record writes.

    Records due now (pending: ready set, wake-up tokens) and later (scheduled: delayed set), in
    two queues, with and without a key; on ``other`` the same records are enqueued directly.
    Deleting the schedules then leaves exactly what the plain enqueues left.
    """
    jobs = [
        fire("a", at(0)),
        fire("a", at(10), run_at=10, queue="later"),
        fire("b", at(0), key=None, priority=3),
        fire("b", at(5), queue="later"),
    ]
    for name, first in (("a", at(0)), ("b", at(0))):
        await create(backend, name, first, at(0))
    expected = {"a": at(0), "b": at(0)}
    for n, job in enumerate(jobs):
        name = "a" if n in (0, 1) else "b"
        following = expected[name] + timedelta(seconds=5 if name == "b" else 10)
        state = await backend.advance_schedule(
            name, expected=expected[name], next_fire=following, record=job, now=at(n)
        )
        assert state is not None and state.last_task_id == job.id
        expected[name] = following
        (result,) = await other.enqueue([job])
        assert result.created
    fired, enqueued = await dump(raw, backend.keys), await dump(raw, other.keys)
    assert {k for k in fired if k not in enqueued} == {":schedule:a", ":schedule:b", ":schedules"}
    assert {k: v for k, v in fired.items() if not k.startswith(":schedule")} == enqueued
    assert {k for k in enqueued if k.endswith(":wake")} == {":wake", ":q:default:wake", ":q:later:wake"}
    assert await backend.counts() == await other.counts()
    assert await backend.delete_schedule("a")
    assert await backend.delete_schedule("b")
    assert not await backend.delete_schedule("b")
    assert await dump(raw, backend.keys) == enqueued
    assert await backend.schedule_states() == []
    # a deleted schedule is refused from its former due time; it starts afresh from None
    assert (
        await backend.advance_schedule("a", expected=at(20), next_fire=at(30), record=None, now=at(9)) is None
    )
    assert await create(backend, "a", at(30), at(9)) == ScheduleState(
        name="a", next_fire=at(30), updated_at=at(9)
    )


async def test_a_fire_wakes_a_waiting_worker(backend: RedisQueueBackend) -> None:
    due = at(0)
    await create(backend, "nightly", due, at(0))
    woke = anyio.Event()

    async def wait() -> None:
        await backend.wait_for_work(["jobs"], timeout=30)
        woke.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.2)  # the worker blocks on its wake-up list
            assert not woke.is_set()
            job = fire("nightly", due, queue="jobs")
            await backend.advance_schedule("nightly", expected=due, next_fire=at(60), record=job, now=at(1))
            await woke.wait()
    claimed = await backend.claim(queues=["jobs"], worker_id="w", limit=5, now=at(1), lease_until=at(30))
    assert [r.id for r in claimed] == [job.id]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"record": {"priority": 2**60}}, "priority"),
        ({"record": {"status": "running"}}, "status"),
        ({"record": {"run_at": datetime(3000, 1, 1, tzinfo=UTC)}}, "run_at"),
        ({"record": {"args": "not a list"}}, "args"),
        ({"next_fire": datetime(3000, 1, 1, tzinfo=UTC)}, "next_fire"),
        ({"expected": datetime(1600, 1, 1, tzinfo=UTC)}, "expected"),
        ({"now": datetime(1600, 1, 1, tzinfo=UTC)}, "now"),
        ({"name": 7}, "name"),
    ],
)
async def test_arguments_are_checked_before_anything_is_written(
    backend: RedisQueueBackend, raw: aioredis.Redis, change: dict[str, Any], error: str
) -> None:
    due = at(60)
    await create(backend, "nightly", due, at(0))
    before = await dump(raw, backend.keys)
    job = msgspec.structs.replace(fire("nightly", due), **change.get("record", {}))
    args: dict[str, Any] = {
        "name": "nightly",
        "expected": due,
        "next_fire": at(120),
        "record": job,
        "now": at(61),
    }
    args.update({k: v for k, v in change.items() if k != "record"})
    name = args.pop("name")
    with pytest.raises((QueueConfigurationError, SerializationError), match=error):
        await backend.advance_schedule(name, **args)
    assert await dump(raw, backend.keys) == before


async def test_pausing_is_stored_kept_by_advances_and_creates_nothing(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    assert await backend.set_schedule_paused("ghost", paused=True, now=at(0)) is None
    assert await dump(raw, backend.keys) == {}
    due = at(60)
    created = await create(backend, "nightly", due, at(0))
    paused = await backend.set_schedule_paused("nightly", paused=True, now=at(1.5))
    assert paused == ScheduleState(name="nightly", next_fire=due, paused=True, updated_at=at(1.5))
    assert await raw.hmget(backend.keys.schedule("nightly"), "paused", "updated_at") == [
        b"1",
        to_us(at(1.5)).encode(),
    ]
    job = fire("nightly", due)
    advanced = await backend.advance_schedule(
        "nightly", expected=due, next_fire=at(120), record=job, now=at(2)
    )
    assert advanced is not None and advanced.paused
    resumed = await backend.set_schedule_paused("nightly", paused=False, now=at(3))
    assert resumed == ScheduleState(
        name="nightly", next_fire=at(120), last_fire=due, last_task_id=job.id, updated_at=at(3)
    )
    assert await backend.schedule_states() == [resumed]
    assert created.paused is False


@pytest.mark.parametrize(
    "how",
    ["next_fire soon", "paused yes", "no last_fire", "last_task_id nope", "updated_at 1.5", "not a hash"],
)
async def test_a_damaged_state_is_moved_aside_and_created_afresh(
    backend: RedisQueueBackend, raw: aioredis.Redis, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    due = at(60)
    await create(backend, "nightly", due, at(0))
    hourly = await create(backend, "hourly", at(5), at(0))
    key = backend.keys.schedule("nightly")
    if how == "not a hash":
        await raw.delete(key)
        await raw.set(key, b"garbage")
    elif how == "no last_fire":
        await raw.hdel(key, "last_fire")
    else:
        field, value = how.split(" ", 1)
        await raw.hset(key, field, value)
    with caplog.at_level(logging.ERROR, logger="litestar_queues.redis"):
        assert await backend.schedule_states() == [hourly]
    assert "schedule nightly is malformed" in caplog.text
    assert await raw.exists(key) == 0
    assert await raw.exists(backend.keys.dead_schedule("nightly")) == 1
    assert await raw.smembers(backend.keys.schedules) == {b"hourly"}
    # its schedulers find no state and create it again
    assert (
        await backend.advance_schedule("nightly", expected=due, next_fire=at(120), record=None, now=at(1))
        is None
    )
    fresh = await create(backend, "nightly", at(120), at(1))
    assert await backend.schedule_states() == [hourly, fresh]


async def test_a_damaged_state_met_by_an_advance_or_a_pause_counts_as_none(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    due = at(60)
    for name in ("a", "b"):
        await create(backend, name, due, at(0))
        await raw.hset(backend.keys.schedule(name), "next_fire", "later")
    assert await backend.set_schedule_paused("a", paused=True, now=at(1)) is None
    assert (
        await backend.advance_schedule("b", expected=due, next_fire=at(120), record=fire("b", due), now=at(1))
        is None
    )
    assert await stored_ids(backend) == []
    assert await create(backend, "b", at(120), at(1)) == ScheduleState(
        name="b", next_fire=at(120), updated_at=at(1)
    )
    assert await backend.schedule_states() == [ScheduleState(name="b", next_fire=at(120), updated_at=at(1))]
    # a name whose hash was deleted behind the backend's back is dropped from the names
    await raw.delete(backend.keys.schedule("b"))
    assert await backend.schedule_states() == []
    assert await raw.exists(backend.keys.schedules) == 0


async def test_names_are_sorted_as_python_sorts_them(backend: RedisQueueBackend) -> None:
    names = ["b", "B", "a:b", "a", "ä", "z-1", "Z", "日本", "a b", "{x}", "*"]
    for name in names:
        await create(backend, name, at(60), at(0))
    assert [s.name for s in await backend.schedule_states()] == sorted(names)
    assert await backend.delete_schedule("*")
    assert [s.name for s in await backend.schedule_states()] == sorted(n for n in names if n != "*")
