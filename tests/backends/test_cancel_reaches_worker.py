"""A cancel of a running task reaches its worker at once, not at the worker's next heartbeat.

The cancel is made through another service (its own backend object, as another process's would
be), the worker's heartbeat is 30 s apart: on Redis and PostgreSQL the task is stopped within a
round trip or two (``wait_for_cancel``), on the memory backend (one object) too. SQLite tells
other processes only at the heartbeat (documented), so it is checked through one service.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task

pytestmark = pytest.mark.anyio

registry = TaskRegistry()
stopped: dict[str, float] = {}


@task("xc.wait_forever", registry=registry)
async def wait_forever(label: str) -> None:
    try:
        await anyio.sleep(3600)
    finally:
        stopped[label] = time.monotonic()


def _config(url: str) -> QueueConfig:
    worker = WorkerConfig(concurrency=2, poll_interval=0.05, lease_seconds=90, heartbeat_interval=30)
    return QueueConfig(queue_backend=url, registry=registry, worker=worker)


async def _cancel_and_time(worker_side: QueueService, canceller: QueueService, label: str) -> float:
    async with worker_side.worker():
        handle = await canceller.enqueue(wait_forever, label)
        with anyio.fail_after(20):
            while (await handle.refresh()).status != "running":
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)  # the worker is past its first wait_for_cancel call
        began = time.monotonic()
        await canceller.cancel(handle.id)
        with anyio.fail_after(10):  # far below the 30 s heartbeat
            while label not in stopped:
                await anyio.sleep(0.005)
        return stopped[label] - began


@pytest.mark.parametrize("url_fixture", ["redis_url", "postgres_url"])
async def test_a_cancel_from_another_process_stops_the_running_task_at_once(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    url: Any = request.getfixturevalue(url_fixture)
    async with QueueService(_config(url)) as worker_side, QueueService(_config(url)) as canceller:
        took = await _cancel_and_time(worker_side, canceller, f"other-{url_fixture}")
    assert took < 2.0, f"the task stopped {took:.3f} s after its cancel"


@pytest.mark.parametrize("url_fixture", ["memory", "sqlite_url"])
async def test_a_cancel_through_the_same_backend_stops_the_running_task_at_once(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    url = "memory://" if url_fixture == "memory" else request.getfixturevalue(url_fixture)
    async with QueueService(_config(url)) as service:
        took = await _cancel_and_time(service, service, f"same-{url_fixture}")
    assert took < 2.0, f"the task stopped {took:.3f} s after its cancel"
