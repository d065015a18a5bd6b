"""Helpers of the SQL listing and maintenance tests: tables filled in one statement, concurrent opens."""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy import text

from litestar_queues_sql import SQLQueueBackend


async def fill_tasks(
    backend: SQLQueueBackend,
    fill_postgres: str,
    fill_sqlite: str,
    postgres_params: dict[str, Any] | None = None,
    sqlite_params: dict[str, Any] | None = None,
) -> bool:
    """Run the fill statement of the backend's dialect on its tasks table (``{table}`` in it).

    On PostgreSQL the table is analyzed in the same transaction. True on PostgreSQL.
    """
    tasks = backend.tables.tasks.name
    postgres = backend.dialect == "postgresql"
    async with backend.engine.begin() as conn:
        if postgres:
            await conn.execute(text(fill_postgres.format(table=tasks)), postgres_params or {})
            await conn.execute(text(f"ANALYZE {tasks}"))
        else:
            await conn.execute(text(fill_sqlite.format(table=tasks)), sqlite_params or {})
    return postgres


async def open_at_once(url: str) -> list[SQLQueueBackend]:
    """Two backends on ``url`` opened concurrently, as two processes of a new release would."""
    backends = [SQLQueueBackend(url), SQLQueueBackend(url)]
    async with anyio.create_task_group() as tg:
        for backend in backends:
            tg.start_soon(backend.open)
    return backends
