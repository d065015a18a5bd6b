"""The done channel's message carries the finished record: a waiter needs no read after its look."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues.exceptions import MalformedRecordError
from litestar_queues.models import Outcome
from litestar_queues_redis._waiting import decode_done
from tests.redis._support import ScriptCalls, at, record

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from litestar_queues.models import TaskRecord
    from litestar_queues_redis import RedisQueueBackend

pytestmark = pytest.mark.anyio


async def _wait_while(backend: RedisQueueBackend, task_id: uuid.UUID, change: Any) -> TaskRecord | None:
    """Wait for ``task_id``, run ``change()`` once the wait is under way, return what the wait returned."""
    returned: list[TaskRecord | None] = []

    async def waiter() -> None:
        returned.append(await backend.wait_for_finish(task_id, timeout=30))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.1)
            await change()
    return returned[0]


async def _claimed(backend: RedisQueueBackend, rec: TaskRecord) -> str:
    await backend.enqueue([rec])
    (claimed,) = await backend.claim(queues=None, worker_id="w", limit=1, now=at(1), lease_until=at(30))
    assert claimed.id == rec.id and claimed.lease_id is not None
    return claimed.lease_id


@pytest.mark.parametrize("kind", ["complete", "fail"])
async def test_finish_hands_the_record_to_the_waiter(backend: RedisQueueBackend, kind: str) -> None:
    rec = record(args=[1, "x"], metadata={"m": "é"})
    lease = await _claimed(backend, rec)
    gets = ScriptCalls(backend, "get")

    async def finish() -> None:
        outcome = Outcome(task_id=rec.id, lease_id=lease, kind=kind, result={"a": [1, 2]}, error="boom")
        await backend.finish([outcome], now=at(2))

    returned = await _wait_while(backend, rec.id, finish)
    assert gets.calls == 1  # the look before the message: nothing read after it
    assert returned is not None
    assert returned == await backend.get(rec.id)
    assert returned.status == ("completed" if kind == "complete" else "failed")


async def test_cancel_and_reclaim_hand_the_record_to_the_waiter(backend: RedisQueueBackend) -> None:
    cancelled = record()
    await backend.enqueue([cancelled])
    returned = await _wait_while(backend, cancelled.id, lambda: backend.cancel(cancelled.id, now=at(2)))
    assert returned is not None and returned.status == "cancelled"
    assert returned == await backend.get(cancelled.id)

    lost = record(max_reclaims=0)
    await _claimed(backend, lost)
    returned = await _wait_while(backend, lost.id, lambda: backend.reclaim_expired(now=at(60)))
    assert returned is not None and returned.status == "failed"
    assert returned == await backend.get(lost.id)


async def test_a_record_over_the_bound_is_read_again(backend: RedisQueueBackend) -> None:
    big = record(args=["x" * 70_000])
    lease = await _claimed(backend, big)
    gets = ScriptCalls(backend, "get")

    async def finish() -> None:
        await backend.finish([Outcome(task_id=big.id, lease_id=lease, kind="complete")], now=at(2))

    assert await _wait_while(backend, big.id, finish) is None  # the message has the status only
    assert gets.calls == 1


async def test_without_a_subscriber_the_message_is_the_status(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    """A pattern subscriber is not counted by PUBSUB NUMSUB: it sees what an unwatched finish sends."""
    rec = record()
    await backend.enqueue([rec])
    pubsub = raw.pubsub()
    try:
        await pubsub.psubscribe(backend._keys.done_channel("*"))
        await backend.cancel(rec.id, now=at(2))
        with anyio.fail_after(10):
            while True:
                message = await pubsub.get_message(timeout=5)
                if message is not None and message["type"] == "pmessage":
                    break
        assert message["data"] == b"cancelled"
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_a_buried_record_wakes_its_waiter(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    rec = record()
    await backend.enqueue([rec])

    async def damage_then_read() -> None:
        await raw.hset(backend._keys.record(rec.id), "status", "bogus")
        with pytest.raises(MalformedRecordError):
            await backend.get(rec.id)  # buries it

    with anyio.fail_after(3):  # not the 30 s timeout of the wait
        assert await _wait_while(backend, rec.id, damage_then_read) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"completed",
        b"deleted",
        b"buried",
        b"12:abc",
        b"3:abc",
        b"x:y",
        "completed",
        b"3:abc2:{}",
        b"-1:a0:",
    ],
)
def test_decode_done_reads_anything_else_as_none(data: bytes | str) -> None:
    assert decode_done(uuid.uuid4(), data) is None
