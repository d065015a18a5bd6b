"""EXPLAIN of the claim statement, for the docs and the index tests (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from litestar_queues_sql._claim import claim_statement

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from litestar_queues_sql.schema import QueueTables


async def explain_claim(
    conn: AsyncConnection,
    tables: QueueTables,
    *,
    queues: Sequence[str] | None = None,
    limit: int = 10,
    analyze: bool = True,
) -> list[str]:
    """Run ``EXPLAIN`` of the claim statement inside a savepoint that is rolled back.

    Returns:
        The plan, one line per item.
    """
    stmt = claim_statement(tables.tasks, conn.dialect.name, by_queue=queues is not None)
    now = datetime.now(UTC)
    params: dict[str, Any] = {"p_now": now, "p_until": now + timedelta(seconds=30), "p_worker": "explain"}
    params["p_limit"] = limit
    if queues is not None:
        params["p_queues"] = list(queues)
    compiled = stmt.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    sql = str(compiled)
    if queues is not None:  # the expanding IN list, rendered as quoted literals for EXPLAIN
        listed = ", ".join("'" + q.replace("'", "''") + "'" for q in queues)
        sql = sql.replace("__[POSTCOMPILE_p_queues]", listed)
    args = tuple(values[name] for name in compiled.positiontup or () if name != "p_queues")
    options = "ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
    async with conn.begin_nested() as savepoint:
        result = await conn.exec_driver_sql(f"EXPLAIN ({options}) {sql}", args)
        lines = [str(row[0]) for row in result]
        await savepoint.rollback()
    return lines
