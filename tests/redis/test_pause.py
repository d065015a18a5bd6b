"""Pausing a queue on the Redis backend: claims skip it atomically, a resume wakes its workers.

Beyond the contract kit: every claim path (one queue, several, every queue), ``claim_task``, the
scheduled records of a paused queue, a claim racing ``set_paused``, idle workers woken by a
resume (and not by a pause), and the state shared by two backends, a reconnect and a restart of
the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues_redis import RedisQueueBackend
from tests.redis._listing import claim, make
from tests.redis._support import at

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.models import TaskRecord
    from tests.servers import RedisServer

pytestmark = pytest.mark.anyio


async def claim_from(
    backend: RedisQueueBackend, queues: Sequence[str] | None, limit: int = 50
) -> list[TaskRecord]:
    return await backend.claim(queues=queues, worker_id="w", limit=limit, now=at(100), lease_until=at(130))


async def test_a_paused_queue_is_not_claimed_and_the_others_are(backend: RedisQueueBackend) -> None:
    a1, a2, b1, b2 = make(0, queue="a"), make(1, queue="a"), make(2, queue="b"), make(3, queue="b")
    due = make(4, queue="a", status="scheduled", run_at=at(10))
    await backend.enqueue([a1, a2, b1, b2, due])
    await backend.set_paused("a", paused=True)
    assert await backend.paused_queues() == {"a"}
    assert await claim_from(backend, ["a"]) == []  # one queue
    assert [r.id for r in await claim_from(backend, ["a", "b"], limit=1)] == [b1.id]  # several
    assert [r.id for r in await claim_from(backend, None)] == [b2.id]  # every queue
    # a paused queue keeps its records as they were: its due scheduled record is not promoted
    assert (await backend.counts())["a"] == {"pending": 2, "scheduled": 1}
    (taken,) = await backend.enqueue([make(5, queue="a")])  # and takes enqueues
    assert taken.created
    await backend.set_paused("a", paused=False)
    assert await backend.paused_queues() == set()
    assert [r.id for r in await claim_from(backend, ["a"])] == [a1.id, a2.id, due.id, taken.record.id]


async def test_claim_task_ignores_the_pause(backend: RedisQueueBackend) -> None:
    rec = make(0, queue="a")
    await backend.enqueue([rec])
    await backend.set_paused("a", paused=True)
    held = await backend.claim_task(rec.id, worker_id="w", now=at(1), lease_until=at(30))
    assert held is not None and held.status == "running"


async def test_pausing_twice_resuming_an_open_queue_and_pausing_an_unknown_queue(
    backend: RedisQueueBackend,
) -> None:
    await backend.set_paused("later", paused=True)  # no record yet
    await backend.set_paused("later", paused=True)
    await backend.set_paused("open", paused=False)
    assert await backend.paused_queues() == {"later"}
    await backend.enqueue([make(0, queue="later")])
    assert await claim_from(backend, None) == []
    await backend.set_paused("later", paused=False)
    await backend.set_paused("later", paused=False)
    assert await backend.paused_queues() == set()
    assert len(await claim_from(backend, None)) == 1


async def test_a_claim_that_starts_after_set_paused_returned_takes_nothing_of_the_queue(
    redis_url: str,
) -> None:
    """The pause is read inside the claim script: from the moment set_paused returns, no claim
    (here on another connection, claiming in a loop) hands out a record of the queue."""
    pauser, claimer = RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)
    await pauser.open()
    await claimer.open()
    try:
        await pauser.enqueue([make(i / 1000, queue="ab"[i % 2]) for i in range(3000)])
        paused_at: list[float] = []
        claims: list[tuple[float, list[TaskRecord]]] = []

        async def claim_loop() -> None:
            while True:
                started = anyio.current_time()
                batch = await claim(claimer, 1, limit=5)
                if not batch:
                    return
                claims.append((started, batch))

        async def pause() -> None:
            while len(claims) < 10:
                await anyio.sleep(0.001)
            await pauser.set_paused("a", paused=True)
            paused_at.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            tg.start_soon(claim_loop)
            tg.start_soon(pause)
        (moment,) = paused_at
        before = [r for started, batch in claims if started < moment for r in batch]
        after = [r for started, batch in claims if started > moment for r in batch]
        assert {r.queue for r in before} == {"a", "b"}
        assert after and {r.queue for r in after} == {"b"}
        assert (await pauser.counts())["b"] == {"running": 1500}
    finally:
        await pauser.close()
        await claimer.close()


async def waits_for_work(
    backend: RedisQueueBackend, queues: Sequence[str] | None, woken: anyio.Event
) -> None:
    await backend.wait_for_work(queues, timeout=10)
    woken.set()


@pytest.mark.parametrize("served", [["a"], None], ids=["its queue", "every queue"])
async def test_a_resume_wakes_the_workers_waiting_for_work(redis_url: str, served: list[str] | None) -> None:
    worker, admin = RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)
    await worker.open()
    await admin.open()
    try:
        await admin.set_paused("a", paused=True)
        await admin.enqueue([make(0, queue="a")])  # leaves a wake-up token: taken below
        with anyio.fail_after(1):
            await worker.wait_for_work(served, timeout=5)
        assert await claim_from(worker, served) == []  # woken, but paused: nothing to claim
        woken = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(waits_for_work, worker, served, woken)
            await anyio.sleep(0.3)
            await admin.set_paused("a", paused=True)  # pausing again wakes nobody
            await anyio.sleep(0.3)
            assert not woken.is_set()
            started = anyio.current_time()
            await admin.set_paused("a", paused=False)
            with anyio.fail_after(2):
                await woken.wait()
            assert anyio.current_time() - started < 2
        assert len(await claim_from(worker, served)) == 1
    finally:
        await worker.close()
        await admin.close()


async def test_the_pause_is_shared_and_survives_a_reconnect_and_a_restart(
    redis_url: str, redis_server: RedisServer
) -> None:
    first, second = RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)
    await first.open()
    await second.open()
    try:
        await first.enqueue([make(0, queue="a"), make(1, queue="b")])
        await first.set_paused("a", paused=True)
        assert await second.paused_queues() == {"a"}
        assert [r.queue for r in await claim_from(second, None)] == ["b"]
    finally:
        await first.close()
        await second.close()
    again = RedisQueueBackend(url=redis_url)
    await again.open()
    try:
        assert await again.paused_queues() == {"a"}
        redis_server.restart()  # SIGKILL, then start from the AOF
        assert await eventually(again.paused_queues) == {"a"}
        assert await claim_from(again, None) == []
        await again.set_paused("a", paused=False)
        assert [r.queue for r in await claim_from(again, None)] == ["a"]
    finally:
        await again.close()


async def eventually(call: Any, limit: float = 10) -> Any:
    """``await call()`` once the server answers again (the client reconnects on its own)."""
    with anyio.fail_after(limit):
        while True:
            try:
                return await call()
            except Exception:  # BackendUnavailableError while the server starts
                await anyio.sleep(0.1)
