"""Time ``query`` (the read model's listing) on a table of ROWS records, and print its plans.

Usage::

    uv run python packages/sql-backend/tools/list_query.py --local-postgres [--rows 1000000]
    uv run python packages/sql-backend/tools/list_query.py sqlite:///$(mktemp -d)/queue.db

Fills fresh tables with ``--rows`` records in one statement: four queues, mixed statuses
(about 5 % failed, 1 % cancelled, 3 % waiting, 0.5 % running, the rest completed), every
third record sharing its ``created_at`` with its neighbours (ties broken by id), one in ten
with a dedup key. PostgreSQL then runs ``ANALYZE`` (SQLite is measured as it is, without
statistics, as an application would leave it). Each listing below runs ``--runs`` times through
``SQLQueueBackend.query`` (statement, fetch and decoding of the 50 records); the tool prints
p50 and p99 and the plan of each (``EXPLAIN ANALYZE`` on PostgreSQL, ``EXPLAIN QUERY PLAN``
on SQLite).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from _tool import database_parser, nearest_rank, run_on_database, time_calls  # next to this tool
from sqlalchemy import text

from litestar_queues.models import QueryPosition, RecordQuery
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_query

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

# status by n % 200: 10 failed (5 %), 2 cancelled (1 %), 4 pending, 2 scheduled, 1 running
_STATUS = """CASE
    WHEN n % 200 < 10 THEN 'failed'
    WHEN n % 200 < 12 THEN 'cancelled'
    WHEN n % 200 < 16 THEN 'pending'
    WHEN n % 200 < 18 THEN 'scheduled'
    WHEN n % 200 = 18 THEN 'running'
    ELSE 'completed' END"""
_TERMINAL = "n % 200 < 12 OR n % 200 > 18"

FILL_POSTGRES = f"""
INSERT INTO {{table}} (id, task_name, queue, priority, status, key, args, kwargs, metadata, attempts,
    max_retries, runs, reclaims, max_reclaims, created_at, run_at, finished_at, result, error)
SELECT gen_random_uuid(), 'bench.t' || (n % 5), 'q' || (n % 4), 0, {_STATUS},
    CASE WHEN n % 10 = 0 THEN 'key-' || n END,
    '[1, "two"]', '{{{{}}}}', '{{{{}}}}', 1, 0, 1, 0, 3,
    CAST(:base AS timestamptz) + make_interval(secs => n / 3),
    CAST(:base AS timestamptz) + make_interval(secs => n / 3),
    CASE WHEN {_TERMINAL} THEN CAST(:base AS timestamptz) + make_interval(secs => n / 3 + 1) END,
    'null', CASE WHEN n % 200 < 10 THEN 'ValueError: boom' END
FROM generate_series(1, :rows) AS n
"""

FILL_SQLITE = f"""
WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :rows)
INSERT INTO {{table}} (id, task_name, queue, priority, status, key, args, kwargs, metadata, attempts,
    max_retries, runs, reclaims, max_reclaims, created_at, run_at, finished_at, result, error)
SELECT lower(hex(randomblob(16))), 'bench.t' || (n % 5), 'q' || (n % 4), 0, {_STATUS},
    CASE WHEN n % 10 = 0 THEN 'key-' || n END,
    '[1, "two"]', '{{{{}}}}', '{{{{}}}}', 1, 0, 1, 0, 3,
    strftime('%Y-%m-%d %H:%M:%S', :base + n / 3, 'unixepoch') || '.000000',
    strftime('%Y-%m-%d %H:%M:%S', :base + n / 3, 'unixepoch') || '.000000',
    CASE WHEN {_TERMINAL}
        THEN strftime('%Y-%m-%d %H:%M:%S', :base + n / 3 + 1, 'unixepoch') || '.000000' END,
    'null', CASE WHEN n % 200 < 10 THEN 'ValueError: boom' END
FROM numbers
"""

BASE = datetime(2030, 1, 1, tzinfo=UTC)


async def fill(backend: SQLQueueBackend, rows: int) -> float:
    """Insert ``rows`` records; return the seconds it took (with ANALYZE on PostgreSQL)."""
    table = backend.tables.tasks.name
    started = time.perf_counter()
    async with backend.engine.begin() as conn:
        if backend.dialect == "postgresql":
            await conn.execute(text(FILL_POSTGRES.format(table=table)), {"rows": rows, "base": BASE})
        else:
            await conn.execute(
                text(FILL_SQLITE.format(table=table)), {"rows": rows, "base": BASE.timestamp()}
            )
    if backend.dialect == "postgresql":
        async with backend.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"VACUUM ANALYZE {table}"))
    return time.perf_counter() - started


async def deep_position(backend: SQLQueueBackend, status: str, skip: int) -> QueryPosition:
    """The position of the ``skip``-th newest record of ``status`` (the cursor of a deep page)."""
    query = RecordQuery(statuses=(status,), limit=1000)  # type: ignore[arg-type]
    seen = 0
    while True:
        page = await backend.query(query)
        if seen + len(page) >= skip or len(page) < query.limit:
            return QueryPosition.of(page[min(skip - seen, len(page)) - 1])
        seen += len(page)
        query = RecordQuery(statuses=(status,), limit=1000, after=QueryPosition.of(page[-1]))  # type: ignore[arg-type]


async def timed(backend: SQLQueueBackend, query: RecordQuery, runs: int) -> tuple[float, float, int]:
    """p50 and p99 in milliseconds of ``runs`` calls of ``query`` (after one warm-up call)."""
    found = len(await backend.query(query))

    async def call(n: int) -> None:
        await backend.query(query)

    times = await time_calls(runs, call)
    return statistics.median(times), nearest_rank(times, 0.99), found


async def plan(conn: AsyncConnection, backend: SQLQueueBackend, query: RecordQuery) -> list[str]:
    """The plan of ``query``'s statement."""
    return await explain_query(conn, backend.tables, query)


async def run(url: str, rows: int, runs: int, show_plans: bool) -> None:
    """Fill the table, time the listings and print their plans."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        seconds = await fill(backend, rows)
        print(f"-- {backend.dialect}: {rows:,} rows loaded in {seconds:.1f} s")
        counts = await backend.counts()
        failed = sum(per_queue.get("failed", 0) for per_queue in counts.values())
        print(f"-- failed records: {failed:,}\n")
        deep = await deep_position(backend, "failed", failed // 2)
        listings = {
            "failed, newest 50, first page": RecordQuery(statuses=("failed",), limit=50),
            f"failed, newest 50, deep page (after {failed // 2:,})": RecordQuery(
                statuses=("failed",), limit=50, after=deep
            ),
            "failed in queue q1, newest 50": RecordQuery(queues=("q1",), statuses=("failed",), limit=50),
            "failed or cancelled, newest 50": RecordQuery(statuses=("failed", "cancelled"), limit=50),
            "pending, newest 50": RecordQuery(statuses=("pending",), limit=50),
            "all records, newest 50": RecordQuery(limit=50),
            "all records, oldest 50": RecordQuery(limit=50, newest_first=False),
            "by key": RecordQuery(key=f"key-{rows // 2 // 10 * 10}", limit=50),
        }
        print(f"{'listing':<48} {'p50 ms':>8} {'p99 ms':>8} {'rows':>5}")
        for name, query in listings.items():
            p50, p99, found = await timed(backend, query, runs)
            print(f"{name:<48} {p50:>8.2f} {p99:>8.2f} {found:>5}")
        if show_plans:
            for name, query in listings.items():
                async with backend.engine.connect() as conn:
                    lines = await plan(conn, backend, query)
                print(f"\n-- {name}")
                print("\n".join(lines))
    finally:
        await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-plans", action="store_true", help="print the timings only")
    args = parser.parse_args()
    run_on_database(parser, args, run, args.rows, args.runs, not args.no_plans)


if __name__ == "__main__":
    main()
