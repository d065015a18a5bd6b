"""SQLite wakes across processes within milliseconds: the ``PRAGMA data_version`` watch."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues.exceptions import BackendUnavailableError
from litestar_queues.models import Outcome
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._sqlite_watch import watched_file

from .conftest import LEASE, T0, record

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

SLOW_POLL = 30  # seconds: a wake-up sooner than this came from the watch, not from polling

_OTHER_PROCESS = """
import sys, time, uuid
import anyio
from datetime import datetime, timezone
from litestar_queues.models import Outcome, TaskRecord
from litestar_queues_sql import SQLQueueBackend

async def main(url, action, task_id):
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        now, task_id = datetime.now(timezone.utc), uuid.UUID(task_id)
        if action == "enqueue":
            await backend.enqueue([TaskRecord(id=task_id, task_name="t", created_at=now, run_at=now)])
        else:
            later = now.replace(year=now.year + 1)
            claimed = await backend.claim_task(task_id, worker_id="other", now=now, lease_until=later)
            outcome = Outcome(task_id=claimed.id, lease_id=claimed.lease_id, kind="complete")
            await backend.finish([outcome], now=now)
        print(time.monotonic(), flush=True)
    finally:
        await backend.close()

anyio.run(main, *sys.argv[1:])
"""


def _other_process(url: str, action: str, task_id: str) -> float:
    """Run ``action`` in another process; the monotonic time just after it committed."""
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, url, action, task_id],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[-1])


async def test_a_commit_in_another_process_wakes_the_waits_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}?poll_interval={SLOW_POLL}"
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        await backend.wait_for_work(None, timeout=0.01)  # consume the wake-up from connecting
        task = record()
        woke: list[float] = []

        async def wait_for_work() -> None:
            await backend.wait_for_work(None, timeout=SLOW_POLL)
            woke.append(time.monotonic())

        with anyio.fail_after(SLOW_POLL / 2):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait_for_work)
                committed = await anyio.to_thread.run_sync(_other_process, url, "enqueue", str(task.id))
        assert woke[0] - committed < 1.0

        woke.clear()

        async def wait_for_finish() -> None:
            await backend.wait_for_finish(task.id, timeout=SLOW_POLL)
            woke.append(time.monotonic())

        with anyio.fail_after(SLOW_POLL / 2):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait_for_finish)
                await anyio.wait_all_tasks_blocked()
                committed = await anyio.to_thread.run_sync(_other_process, url, "finish", str(task.id))
        assert woke[0] - committed < 1.0
        stored = await backend.get(task.id)
        assert stored is not None and stored.status == "completed"
    finally:
        await backend.close()


async def test_a_wait_for_another_task_is_not_woken_by_a_finish(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}?poll_interval={SLOW_POLL}"
    waiter, writer = SQLQueueBackend(url), SQLQueueBackend(url)
    await waiter.open()
    await writer.open()
    try:
        finished, waited = record(), record()
        await writer.enqueue([finished, waited])
        returned = anyio.Event()

        async def wait_finish() -> None:
            await waiter.wait_for_finish(waited.id, timeout=SLOW_POLL)
            returned.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_finish)
            claimed = await writer.claim_task(finished.id, worker_id="w", now=T0, lease_until=T0 + LEASE)
            assert claimed is not None
            await writer.finish(
                [Outcome(task_id=finished.id, lease_id=claimed.lease_id or "", kind="complete")], now=T0
            )
            await anyio.sleep(0.3)  # a hundred reads of the watch
            assert not returned.is_set()
            tg.cancel_scope.cancel()
    finally:
        await writer.close()
        await waiter.close()


async def test_close_stops_the_watch_thread(tmp_path: Path) -> None:
    backend = SQLQueueBackend(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
    await backend.open()
    assert any(t.name == "litestar-queues-sqlite-watch" for t in threading.enumerate())
    await backend.close()
    assert not any(t.name == "litestar-queues-sqlite-watch" for t in threading.enumerate())


@pytest.mark.parametrize(
    ("database", "query", "watched"),
    [
        ("queue.db", {}, "queue.db"),
        ("/var/lib/q/queue.db", {}, "/var/lib/q/queue.db"),
        (None, {}, None),
        (":memory:", {}, None),
        ("shared", {"mode": "memory"}, None),
        ("file:queue.db", {}, None),
    ],
)
def test_which_databases_are_watched(
    database: str | None, query: dict[str, object], watched: str | None
) -> None:
    assert watched_file(database, query) == watched


async def test_processes_opening_a_new_file_at_once_do_not_deadlock(tmp_path: Path) -> None:
    """A new file is converted to WAL before the engines connect (ensure_wal): no "locked" error."""
    for round_ in range(10):
        url = f"sqlite+aiosqlite:///{tmp_path / f'new-{round_}.db'}"
        backends = [SQLQueueBackend(url) for _ in range(4)]
        try:
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for backend in backends:
                        tg.start_soon(backend.open)
        finally:
            for backend in backends:
                await backend.close()


async def test_an_unopenable_file_is_a_backend_error(tmp_path: Path) -> None:
    backend = SQLQueueBackend(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'queue.db'}")
    with pytest.raises(BackendUnavailableError, match="unavailable"):
        await backend.open()
