"""The published litestar-queues 0.12.0 on PostgreSQL through its advanced-alchemy backend
(SQLAlchemy 2 + asyncpg), with its documented ``worker_wakeups=True`` (LISTEN/NOTIFY hints; off by
default, when idle workers back off polling up to 30 s). Tables made with ``metadata.create_all``.
One-by-one enqueue only (no batch API in 0.12).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import lq012_bench
from lq012_bench import Client, noop  # noqa: F401  (registers the task)

from litestar_queues import QueueConfig, WorkerConfig

BATCH = False


def _async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


def versions() -> dict[str, str]:
    return {
        "litestar-queues": version("litestar-queues"),
        "advanced-alchemy": version("advanced-alchemy"),
        "sqlalchemy": version("sqlalchemy"),
        "asyncpg": version("asyncpg"),
    }


def make_config(url: str, concurrency: int = 10) -> QueueConfig:
    from advanced_alchemy.config.asyncio import SQLAlchemyAsyncConfig
    from litestar_queues.backends.advanced_alchemy import SQLAlchemyBackendConfig

    return QueueConfig(
        queue_backend=SQLAlchemyBackendConfig(
            sqlalchemy_config=SQLAlchemyAsyncConfig(connection_string=_async_url(url)),
            worker_wakeups=True,
        ),
        worker=WorkerConfig(placement="external", max_concurrency=concurrency),
        initialize_schedules=False,
    )


async def setup(url: str) -> None:
    import litestar_queues.backends.advanced_alchemy.models  # noqa: F401  (defines the tables)
    from advanced_alchemy.base import UUIDAuditBase
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(_async_url(url))
    async with engine.begin() as conn:
        await conn.run_sync(UUIDAuditBase.metadata.create_all)
    await engine.dispose()


async def open_client(url: str) -> Client:
    return await lq012_bench.open_client_for(make_config(url))


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    lq012_bench.run_worker_for(make_config(url, concurrency), ready)
