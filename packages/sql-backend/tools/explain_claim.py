"""Print the EXPLAIN ANALYZE of the claim statement on a table of ROWS records (PostgreSQL).

Usage::

    uv run python packages/sql-backend/tools/explain_claim.py --local-postgres [--rows 1000000]

Fills fresh tables with ``--rows`` records (all but ``--waiting`` of them completed, as in a
long-running queue; a tenth of the waiting ones scheduled in the future), runs ``ANALYZE``,
then explains the claim with and without a queue filter (the claim is rolled back).
"""

from __future__ import annotations

import time

from _tool import database_parser, run_on_database  # next to this tool
from sqlalchemy import text

from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_claim

FILL = """
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata, attempts,
    max_retries, runs, reclaims, max_reclaims, created_at, run_at, finished_at, result)
SELECT gen_random_uuid(), 'bench.noop', 'q' || (n % 4), (n % 3),
    CASE WHEN n <= :done THEN 'completed'
         WHEN n % 10 = 0 THEN 'scheduled' ELSE 'pending' END,
    '[]', '{{}}', '{{}}', 1, 0, 1, 0, 3,
    now() - interval '1 day',
    CASE WHEN n > :done AND n % 10 = 0 THEN now() + interval '1 hour' ELSE now() END,
    CASE WHEN n <= :done THEN now() END, 'null'
FROM generate_series(1, :rows) AS n
"""


async def run(url: str, rows: int, waiting: int) -> None:
    """Fill the tables and print the plans."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        tasks = backend.tables.tasks
        started = time.perf_counter()
        async with backend.engine.begin() as conn:
            await conn.execute(text(FILL.format(table=tasks.name)), {"rows": rows, "done": rows - waiting})
        async with backend.engine.connect() as conn:
            await conn.execute(text(f"ANALYZE {tasks.name}"))
            await conn.commit()
        print(f"-- {rows:,} rows ({waiting:,} waiting) loaded in {time.perf_counter() - started:.1f} s\n")
        for queues in (None, ["q1"]):
            async with backend.engine.connect() as conn:
                plan = await explain_claim(conn, backend.tables, queues=queues)
            print(f"-- claim of 10, queues={queues}")
            print("\n".join(plan))
            print()
    finally:
        await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=10_000)
    args = parser.parse_args()
    run_on_database(parser, args, run, args.rows, args.waiting)


if __name__ == "__main__":
    main()
