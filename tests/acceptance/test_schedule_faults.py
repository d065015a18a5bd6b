"""A scheduler process SIGKILLed around fire times while another runs: each due time fires once (issue 17).

Worker processes (``litestar-queues worker``) run the scheduler of a one-second interval schedule
on Redis or PostgreSQL. One of them is killed a few milliseconds before, at and after several
fire times, and replaced; the other keeps running. Every due time of the run then has exactly one
record, counted by its due-time key: none fired twice, none skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService
from litestar_queues.schedules import due_key
from tests._processes import terminate_all
from tests.acceptance import schedule_app

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "litestar-queues"
# where each kill lands, in seconds relative to a fire time (the schedule fires on every second)
KILL_OFFSETS = (-0.02, 0.0, 0.005, 0.02, 0.05)


def start_worker(url: str) -> subprocess.Popen[bytes]:
    command = [str(CLI), "worker", "tests.acceptance.schedule_app:config", "--log-level", "WARNING"]
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "LQ_SCHEDULE_URL": url}, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    terminate_all([process], timeout=20)


async def until_fired(service: QueueService, limit: float = 60) -> datetime:
    """Wait for the schedule's first fire; return its due time."""
    with anyio.fail_after(limit):
        while True:
            infos = await service.schedules()
            if infos and infos[0].last_fire is not None:
                return infos[0].last_fire
            await anyio.sleep(0.1)


async def keys(service: QueueService) -> list[str]:
    found: list[str] = []
    cursor = None
    while True:
        page = await service.list_tasks(task_names=["faults.beat"], limit=500, cursor=cursor)
        found += [t.record.key for t in page.tasks if t.record.key is not None]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def sleep_until(instant: float) -> None:
    await anyio.sleep(max(0.0, instant - time.time()))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fixture", ["redis_url", "postgres_url"])
async def test_killed_schedulers_leave_each_due_time_fired_once(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(fixture))
    survivor = start_worker(url)
    victims = [start_worker(url)]
    try:
        async with QueueService(QueueConfig(queue_backend=url, registry=schedule_app.registry)) as service:
            first = await until_fired(service)
            await anyio.sleep(1.5)  # the second worker is up and ticking too
            for offset in KILL_OFFSETS:
                victim = victims[-1]
                assert victim.poll() is None, "the worker to kill has exited on its own"
                await sleep_until(int(time.time()) + 1 + offset)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                victims.append(start_worker(url))
                await anyio.sleep(1.2)  # its replacement starts while the survivor fires on
            assert survivor.poll() is None
            last = datetime.fromtimestamp(int(time.time()) - 1, UTC)
            await anyio.sleep(1.0)  # the survivor fires the last due times before we count
            found = await keys(service)
    finally:
        for process in [survivor, *victims]:
            stop(process)
    counts = Counter(found)
    assert [key for key, n in counts.items() if n > 1] == []
    expected = []
    due = first
    while due <= last:
        expected.append(due_key("faults.beat", due))
        due += timedelta(seconds=1)
    assert len(expected) >= 2 * len(KILL_OFFSETS)
    assert [key for key in expected if key not in counts] == []  # no due time skipped
