"""Wake-ups across backend instances (processes): NOTIFY on PostgreSQL, polling on SQLite."""

from __future__ import annotations

import anyio
import pytest

from litestar_queues.models import Outcome
from litestar_queues_sql import SQLQueueBackend

from .conftest import LEASE, T0, record

pytestmark = pytest.mark.anyio


async def test_other_instances_wake_for_work_and_finish(db_url: str) -> None:
    waiter, writer = SQLQueueBackend(db_url), SQLQueueBackend(db_url)
    await waiter.open()
    await writer.open()
    try:
        await waiter.wait_for_work(None, timeout=0.01)  # consume the wake-up from connecting
        task = record()
        await writer.enqueue([task])
        with anyio.fail_after(10):
            await waiter.wait_for_work(None, timeout=60)

        (claimed,) = await writer.claim(queues=None, worker_id="w", limit=1, now=T0, lease_until=T0 + LEASE)
        returned = anyio.Event()

        async def wait_finish() -> None:
            await waiter.wait_for_finish(task.id, timeout=60)
            returned.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait_finish)
                await anyio.wait_all_tasks_blocked()
                assert not returned.is_set()
                await writer.finish(
                    [Outcome(task_id=task.id, lease_id=claimed.lease_id or "", kind="complete")], now=T0
                )
        # already terminal: returns at once
        with anyio.fail_after(5):
            await waiter.wait_for_finish(task.id, timeout=60)
    finally:
        await writer.close()
        await waiter.close()


async def test_close_wakes_waiters(db_url: str) -> None:
    backend = SQLQueueBackend(db_url, poll_interval=60)
    await backend.open()
    await backend.wait_for_work(None, timeout=0.01)  # consume the wake-up from connecting
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(backend.wait_for_work, None, 600)
            await anyio.wait_all_tasks_blocked()
            await backend.close()
