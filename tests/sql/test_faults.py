"""Fault injection with real worker processes: SIGKILL, many workers, a PostgreSQL restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from sqlalchemy import distinct, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_queues import BackendUnavailableError, QueueConfig, QueueService, TaskCall
from litestar_queues_sql import SQLQueueBackend
from tests._presence import check_kill_and_stop
from tests.sql import worker_app
from tests.sql.conftest import record as make_record

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.servers import PostgresServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def workers(
    count: int, env: dict[str, str], *, concurrency: int = 10
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start worker processes through the real CLI; stop (SIGTERM, then SIGKILL) on exit."""
    command = [sys.executable, "-m", "litestar_queues.cli", "worker", "tests.sql.worker_app:config"]
    command += ["--concurrency", str(concurrency), "--log-level", "WARNING"]
    log = os.environ.get("LQ_WORKER_LOG")  # set to a file path to keep the workers' logs
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    procs = [
        subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stderr=stderr) for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            stderr.close()  # type: ignore[union-attr]


async def make_exec_table(url: str) -> str:
    table = f"exec_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (n INTEGER NOT NULL, pid INTEGER NOT NULL)"))
    await engine.dispose()
    return table


async def executions(url: str, table: str) -> dict[int, int]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT n, count(*) FROM {table} GROUP BY n"))).all()
    await engine.dispose()
    return {int(n): int(c) for n, c in rows}


async def wait_completed(service: QueueService, total: int, limit: float) -> None:
    with anyio.fail_after(limit):
        while True:
            try:
                stats = await service.stats()
            except BackendUnavailableError:
                stats = None
            if stats is not None and stats.count("completed") == total:
                return
            await anyio.sleep(0.2)


async def busy_workers(service: QueueService) -> int:
    tasks = service.backend.tables.tasks  # type: ignore[attr-defined]
    async with service.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        return int((await conn.execute(select(func.count(distinct(tasks.c.worker_id))))).scalar_one())


def config(url: str) -> QueueConfig:
    return QueueConfig(queue_backend=url, registry=worker_app.registry)


def env_for(url: str, exec_url: str, table: str, **extra: str) -> dict[str, str]:
    return {"LQ_TEST_URL": url, "LQ_EXEC_URL": exec_url, "LQ_EXEC_TABLE": table, **extra}


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
async def test_sigkilled_worker_tasks_are_reclaimed_none_lost(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{db}_url"))
    exec_url = url.split("?")[0]
    table = await make_exec_table(exec_url)
    async with QueueService(config(url)) as service:
        handles = await service.enqueue_many([TaskCall(worker_app.run, (n,)) for n in range(6)])
        env = env_for(url, exec_url, table, LQ_LEASE="2")
        with workers(1, {**env, "LQ_SLOW": "1"}) as (doomed,):
            with anyio.fail_after(60):
                while (await service.stats()).count("running") < 6:
                    await anyio.sleep(0.1)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
        with workers(1, env):
            await wait_completed(service, 6, 90)
        for handle in handles:
            record = (await handle.refresh()).record
            # runs counts claims: a reclaimed record may be claimed and given back uncounted once
            # more before it runs alone (reclaim isolation, docs/workers.md)
            assert record.status == "completed" and record.reclaims == 1 and record.runs >= 2
            assert record.attempts == 1
    assert await executions(exec_url, table) == {n: 1 for n in range(6)}


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
async def test_a_killed_worker_leaves_the_list_at_its_expiry_a_stopped_one_at_once(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{db}_url"))
    exec_url = url.split("?")[0]
    table = await make_exec_table(exec_url)
    async with QueueService(config(url)) as service:
        with workers(2, env_for(url, exec_url, table, LQ_LEASE="4")) as (killed, stopped):
            await check_kill_and_stop(service, killed, stopped, lease=4)


@pytest.mark.timeout(300)
async def test_ten_thousand_tasks_over_four_workers_run_exactly_once(postgres_url: str) -> None:
    exec_url = postgres_url.split("?")[0]
    table = await make_exec_table(exec_url)
    total = 10_000
    async with QueueService(config(postgres_url)) as service:
        for start in range(0, total, 1000):
            await service.enqueue_many([TaskCall(worker_app.run, (n,)) for n in range(start, start + 1000)])
        with workers(4, env_for(postgres_url, exec_url, table)):
            await wait_completed(service, total, 240)
        stats = await service.stats()
        assert stats.total == total and stats.count("completed") == total
    counted = await executions(exec_url, table)
    assert len(counted) == total and set(counted.values()) == {1}


async def test_postgres_restart_mid_run_loses_no_committed_task(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    exec_url = postgres_url.split("?")[0]
    table = await make_exec_table(exec_url)
    committed: list[int] = []

    async def enqueue(service: QueueService, numbers: range) -> None:
        for _ in range(100):
            try:
                await service.enqueue_many([TaskCall(worker_app.run, (n,)) for n in numbers])
            except BackendUnavailableError:
                await anyio.sleep(0.2)
                continue
            committed.extend(numbers)
            return
        raise AssertionError("could not enqueue after the restart")

    async with QueueService(config(postgres_url)) as service:
        await enqueue(service, range(0, 1500))
        with workers(2, env_for(postgres_url, exec_url, table)):
            with anyio.fail_after(60):  # both workers run tasks, then the server restarts
                while await busy_workers(service) < 2:
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(postgres_server.restart)
            await enqueue(service, range(1500, 2000))
            await wait_completed(service, len(committed), 100)
        assert sorted((await service.stats()).queues["default"]) == ["completed"]
    counted = await executions(exec_url, table)
    assert set(counted) == set(committed) == set(range(2000))


async def test_wake_ups_resume_after_a_postgres_restart(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    waiter, writer = SQLQueueBackend(postgres_url), SQLQueueBackend(postgres_url)
    await waiter.open()
    await writer.open()
    try:
        await anyio.to_thread.run_sync(postgres_server.restart)
        with anyio.fail_after(30):  # the listener notices the drop and reconnects on the next wait
            while waiter._listener is None or not waiter._listener.listening:
                await waiter.wait_for_work(None, timeout=0.1)
            await waiter.wait_for_work(None, timeout=0.01)  # consume the wake-up of reconnecting
        for _ in range(50):  # the writer's pool drops its dead connections on the first failure
            try:
                await writer.enqueue([make_record()])
                break
            except BackendUnavailableError:
                await anyio.sleep(0.1)
        with anyio.fail_after(10):
            await waiter.wait_for_work(None, timeout=60)
    finally:
        await writer.close()
        await waiter.close()
