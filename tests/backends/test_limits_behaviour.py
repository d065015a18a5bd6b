"""Queue limits on every backend: racing claimers, wake-ups when a slot or a token comes (issue 21).

* Many claimers at once, each with a backend object of its own (as many processes would have),
  never start more than a cap, a key cap or a bucket allows, however their claims interleave.
* A worker waiting for work wakes when a capped queue's slot is freed elsewhere (Redis, PostgreSQL:
  another process's finish notifies it) and when a token is due (``wait_for_work`` ends then).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from litestar_queues import QueueConfig, QueueLimit, QueueService
from litestar_queues._loading import backend_from_url
from litestar_queues.models import Outcome
from litestar_queues.testing import make_record

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar_queues import QueueBackend, TaskRecord

pytestmark = pytest.mark.anyio

NOW = datetime(2031, 1, 1, tzinfo=UTC)


def _service(url: str) -> QueueService:
    return QueueService(QueueConfig(queue_backend=url))


async def _claim_racing(url: str, limit: QueueLimit, records: list[TaskRecord], claimers: int) -> int:
    """Enqueue ``records`` in ``q`` under ``limit``; ``claimers`` claim at once; return how many started.

    Each claimer has a backend object of its own (the memory backend: one, shared).
    """
    backends = [backend_from_url(url) for _ in range(claimers if url != "memory://" else 1)]
    for backend in backends:
        await backend.open()
    try:
        await backends[0].set_limit("q", limit)
        await backends[0].enqueue(records)
        started: list[int] = []

        async def claim_often(backend: QueueBackend, worker: str) -> None:
            for _ in range(4):
                claimed = await backend.claim(
                    queues=["q"] if worker.endswith("0") else None,
                    worker_id=worker,
                    limit=3,
                    now=NOW,
                    lease_until=NOW + timedelta(seconds=60),
                )
                started.append(len(claimed))
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            for n in range(claimers):
                tg.start_soon(claim_often, backends[n % len(backends)], f"w{n}")
        return sum(started)
    finally:
        for backend in backends:
            await backend.close()


async def test_racing_claimers_never_start_more_than_the_cap(backend_url: str) -> None:
    records = [make_record(NOW, queue="q") for _ in range(30)]
    assert await _claim_racing(backend_url, QueueLimit(concurrency=5), records, claimers=8) == 5


async def test_racing_claimers_never_start_more_than_the_bucket_holds(backend_url: str) -> None:
    records = [make_record(NOW, queue="q") for _ in range(30)]
    assert await _claim_racing(backend_url, QueueLimit(rate=7, per=60.0), records, claimers=8) == 7


async def test_racing_claimers_never_start_two_of_one_limit_key(backend_url: str) -> None:
    records = [make_record(NOW, queue="q", limit_key=f"c{n % 4}") for n in range(30)]
    assert await _claim_racing(backend_url, QueueLimit(key_concurrency=1), records, claimers=8) == 4


async def test_a_wait_ends_when_a_token_is_due(backend_url: str) -> None:
    async with _service(backend_url) as service:
        backend = service.backend
        await backend.set_limit("q", QueueLimit(rate=2, per=1.0))
        await backend.enqueue([make_record(service.config.clock.now(), queue="q") for _ in range(4)])

        async def claim() -> int:
            now = datetime.now(UTC)
            claimed = await backend.claim(
                queues=["q"], worker_id="w", limit=4, now=now, lease_until=now + timedelta(seconds=60)
            )
            return len(claimed)

        assert await claim() == 2  # the bucket's 2 tokens; the third is due in 0.5 s
        began = time.monotonic()
        waits = 0
        while await claim() == 0:  # as a worker does: each held-back claim notes when a token is due
            await backend.wait_for_work(["q"], 10.0)
            waits += 1
        took = time.monotonic() - began
    # the wait ends when the token is due (not after its 10 s), without spinning meanwhile (the
    # enqueue's wake-up, or on SQLite another connection's commit, may end a wait early once)
    assert 0.3 <= took <= 2.0, f"the third record started {took:.2f} s later (its token was due at 0.5 s)"
    assert waits <= 4, f"{waits} waits for one token"


async def _seconds_until_woken(backend: QueueBackend, act: Callable[[], Awaitable[object]]) -> float:
    """Seconds from ``act()`` until a wait for work on queue ``q`` of ``backend`` (begun before) ends."""
    woken = anyio.Event()

    async def wait() -> None:
        await backend.wait_for_work(["q"], 20.0)
        woken.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.sleep(0.2)
        began = time.monotonic()
        await act()
        with anyio.fail_after(5):
            await woken.wait()
        return time.monotonic() - began


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_a_slot_freed_by_another_process_wakes_a_waiting_worker(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    async with _service(url) as finisher, _service(url) as waiter:
        await finisher.backend.set_limit("q", QueueLimit(concurrency=1))
        now = datetime.now(UTC)
        await finisher.backend.enqueue([make_record(now, queue="q") for _ in range(2)])
        (running,) = await finisher.backend.claim(
            queues=["q"], worker_id="a", limit=2, now=now, lease_until=now + timedelta(seconds=60)
        )
        held = await waiter.backend.claim(
            queues=["q"], worker_id="b", limit=2, now=now, lease_until=now + timedelta(seconds=60)
        )
        assert held == []
        await waiter.backend.wait_for_work(["q"], 0.2)  # takes any wake-up left from before
        assert running.lease_id is not None
        outcome = Outcome(task_id=running.id, lease_id=running.lease_id, kind="complete")
        took = await _seconds_until_woken(
            waiter.backend, lambda: finisher.backend.finish([outcome], now=datetime.now(UTC))
        )
    assert took < 2.0, f"woken {took:.2f} s after the slot was freed"


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_a_limit_raised_by_another_process_wakes_a_waiting_worker(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    async with _service(url) as operator, _service(url) as waiter:
        await operator.set_limit("q", QueueLimit(concurrency=1))
        await waiter.backend.wait_for_work(["q"], 0.2)  # takes the wake-up of the first set_limit
        took = await _seconds_until_woken(
            waiter.backend, lambda: operator.set_limit("q", QueueLimit(concurrency=5))
        )
    assert took < 2.0, f"woken {took:.2f} s after the limit was raised"
