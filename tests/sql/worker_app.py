"""The app the fault tests run in worker subprocesses: ``litestar-queues worker tests.sql.worker_app:config``.

Environment: ``LQ_TEST_URL`` (queue backend URL), ``LQ_EXEC_URL`` and ``LQ_EXEC_TABLE`` (where each
execution is recorded), ``LQ_LEASE`` (lease seconds), ``LQ_SLOW=1`` (tasks hang, to be killed).
"""

from __future__ import annotations

import os
from typing import Any

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_queues import Backoff, QueueConfig, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()
_engine: Any = None


# retried: its own write fails while the PostgreSQL restart test restarts the server
@task("faults.run", registry=registry, retries=20, backoff=Backoff(initial=0.2, maximum=1.0))
async def run(n: int) -> int:
    global _engine
    if os.environ.get("LQ_SLOW") == "1":
        await anyio.sleep(600)
    if _engine is None:
        _engine = create_async_engine(os.environ["LQ_EXEC_URL"], pool_pre_ping=True)
    async with _engine.begin() as conn:
        await conn.execute(
            text(f"INSERT INTO {os.environ['LQ_EXEC_TABLE']} (n, pid) VALUES (:n, :pid)"),
            {"n": n, "pid": os.getpid()},
        )
    return n


config = QueueConfig(
    queue_backend=os.environ.get("LQ_TEST_URL", "memory://"),
    registry=registry,
    worker=WorkerConfig(
        concurrency=10,
        lease_seconds=float(os.environ.get("LQ_LEASE", "30")),
        poll_interval=0.5,
        shutdown_grace=5,
    ),
)
