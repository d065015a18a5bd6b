"""EXPLAIN of the claim, query, delete and finished-count statements, for the docs, tools and index tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from litestar_queues_sql._claim import claim_params, claim_statement
from litestar_queues_sql._operator import finished_counts_statement
from litestar_queues_sql._query import delete_statement, query_statement
from litestar_queues_sql._queue_limits import candidates_statement, running_statement

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from litestar_queues.models import RecordQuery
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
    count = None if queues is None else len(queues)
    stmt = claim_statement(tables.tasks, tables.paused_queues, tables.limits, conn.dialect.name, queues=count)
    now = datetime.now(UTC)
    params = claim_params(
        queues, worker_id="explain", limit=limit, now=now, lease_until=now + timedelta(seconds=30)
    )
    async with conn.begin_nested() as savepoint:
        lines = await _explain(conn, stmt, params, analyze=analyze)
        await savepoint.rollback()
    return lines


async def explain_limited_claim(
    conn: AsyncConnection,
    tables: QueueTables,
    *,
    queues: Sequence[str] | None = None,
    closed_keys: Sequence[tuple[str, str]] = (),
    limit: int = 10,
    analyze: bool = True,
) -> dict[str, list[str]]:
    """``EXPLAIN`` of the two reads of a claim under limits, inside a savepoint that is rolled back.

    ``running``: the count of the running records of ``queues`` (by queue and limit key);
    ``candidates``: the first page of due records in claim order, leaving out ``closed_keys``
    (``(queue, limit_key)`` pairs at their key cap).

    Returns:
        The plans by name, one line per item.
    """
    now = datetime.now(UTC)
    named = list(queues) if queues is not None else ["q0"]
    plans: dict[str, list[str]] = {}
    async with conn.begin_nested() as savepoint:
        counted = {"p_queues": named}
        plans["running"] = await _explain(conn, running_statement(tables.tasks), counted, analyze=analyze)
        stmt = candidates_statement(
            tables.tasks,
            tables.paused_queues,
            conn.dialect.name,
            by_queue=queues is not None,
            closed=False,
            closed_keys=bool(closed_keys),
            after=False,
        )
        params: dict[str, Any] = {"p_now": now, "p_limit": limit}
        if queues is not None:
            params["p_queues"] = list(queues)
        if closed_keys:
            params["p_closed_keys"] = list(closed_keys)
        plans["candidates"] = await _explain(conn, stmt, params, analyze=analyze)
        await savepoint.rollback()
    return plans


async def explain_query(
    conn: AsyncConnection, tables: QueueTables, query: RecordQuery, *, analyze: bool = True
) -> list[str]:
    """``EXPLAIN`` of the statement :meth:`SQLQueueBackend.query` runs for ``query``.

    PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)`` without costs and timings (or the plain plan);
    SQLite: ``EXPLAIN QUERY PLAN``, one line per step, indented by depth.

    Returns:
        The plan, one line per item (empty when the query cannot match anything).
    """
    stmt, params = query_statement(tables.tasks, conn.dialect.name, query)
    if stmt is None:
        return []
    return await _explain(conn, stmt, params, analyze=analyze)


async def explain_delete(
    conn: AsyncConnection, tables: QueueTables, query: RecordQuery, *, analyze: bool = True
) -> list[str]:
    """``EXPLAIN`` of the statement :meth:`SQLQueueBackend.delete` runs for ``query``.

    As :func:`explain_query`; on PostgreSQL the analysed delete runs inside a savepoint that is
    rolled back, so nothing is deleted.

    Returns:
        The plan, one line per item (empty when the query cannot match anything).
    """
    stmt, params = delete_statement(tables.tasks, conn.dialect.name, query)
    if stmt is None:
        return []
    if conn.dialect.name != "postgresql":
        return await _explain(conn, stmt, params, analyze=analyze)
    async with conn.begin_nested() as savepoint:
        lines = await _explain(conn, stmt, params, analyze=analyze)
        await savepoint.rollback()
    return lines


async def explain_finished_counts(
    conn: AsyncConnection, tables: QueueTables, since: datetime, *, analyze: bool = True
) -> list[str]:
    """``EXPLAIN`` of the statement :meth:`SQLQueueBackend.finished_counts` runs for ``since``.

    As :func:`explain_query`.

    Returns:
        The plan, one line per item.
    """
    stmt = finished_counts_statement(tables.tasks, conn.dialect.name)
    return await _explain(conn, stmt, {"p_since": since}, analyze=analyze)


async def _explain(conn: AsyncConnection, stmt: Any, params: dict[str, Any], *, analyze: bool) -> list[str]:
    # expanding parameters (IN lists) rendered for the values given
    compiled = stmt.compile(dialect=conn.dialect)
    state = compiled.construct_expanded_state(params)
    sql = state.statement
    # the parameters as the driver takes them (each type's bind processing applied)
    processors = {**compiled._bind_processors, **state.processors}
    values = state.parameters

    def processed(name: str) -> Any:
        process = processors.get(name)
        return process(values[name]) if callable(process) else values[name]

    args = tuple(processed(name) for name in state.positiontup or ())
    if conn.dialect.name != "postgresql":
        result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
        depth: dict[int, int] = {0: -1}
        lines = []
        for row in result:
            node, parent, _, detail = tuple(row)  # id, parent, unused, detail
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + str(detail))
        return lines
    options = "ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
    result = await conn.exec_driver_sql(f"EXPLAIN ({options}) {sql}", args)
    return [str(row[0]) for row in result]
