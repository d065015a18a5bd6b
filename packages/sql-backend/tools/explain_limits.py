"""Print the plans of a claim under queue limits on a table of ROWS records (PostgreSQL).

Usage::

    uv run python packages/sql-backend/tools/explain_limits.py --local-postgres [--rows 1000000]

Fills fresh tables with ``--rows`` records (all but ``--waiting`` completed; the waiting ones in
queues ``q0`` to ``q3``, each with one of 100 limit keys, and ``--running`` of them running),
runs ``ANALYZE``, then explains the two reads of a claim under limits (the running count and the
first page of due records, with and without limit keys left out) and the plain claim statement
with its limits probe. The claims are rolled back.
"""

from __future__ import annotations

import time

from _tool import database_parser, run_on_database  # next to this tool
from sqlalchemy import text

from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_claim, explain_limited_claim

FILL = """
INSERT INTO {table} (id, task_name, queue, priority, status, limit_key, args, kwargs, metadata,
    attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at, started_at,
    finished_at, lease_id, lease_expires_at, worker_id, result)
SELECT gen_random_uuid(), 'bench.noop', 'q' || (n % 4), 0,
    CASE WHEN n <= :done THEN 'completed'
         WHEN n <= :done + :running THEN 'running' ELSE 'pending' END,
    'k' || (n % 100),
    '[]', '{{}}', '{{}}', 1, 0, 1, 0, 3,
    now() - interval '1 day', now() - interval '1 day',
    CASE WHEN n > :done AND n <= :done + :running THEN now() END,
    CASE WHEN n <= :done THEN now() END,
    CASE WHEN n > :done AND n <= :done + :running THEN md5(n::text) END,
    CASE WHEN n > :done AND n <= :done + :running THEN now() + interval '1 hour' END,
    CASE WHEN n > :done AND n <= :done + :running THEN 'w' END,
    'null'
FROM generate_series(1, :rows) AS n
"""


async def run(url: str, rows: int, waiting: int, running: int) -> None:
    """Fill the tables and print the plans."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        tasks = backend.tables.tasks
        started = time.perf_counter()
        params = {"rows": rows, "done": rows - waiting - running, "running": running}
        async with backend.engine.begin() as conn:
            await conn.execute(text(FILL.format(table=tasks.name)), params)
        async with backend.engine.connect() as conn:
            await conn.execute(text(f"ANALYZE {tasks.name}"))
            await conn.commit()
        print(
            f"-- {rows:,} rows ({waiting:,} waiting, {running:,} running) loaded in "
            f"{time.perf_counter() - started:.1f} s\n"
        )
        for queues, closed in ((["q1"], ()), (["q1"], (("q1", "k1"), ("q1", "k5"))), (None, ())):
            async with backend.engine.connect() as conn:
                plans = await explain_limited_claim(conn, backend.tables, queues=queues, closed_keys=closed)
            for name, plan in plans.items():
                print(f"-- {name}, queues={queues}, limit keys left out: {list(closed)}")
                print("\n".join(plan))
                print()
        async with backend.engine.connect() as conn:
            print("-- the plain claim of 10, queues=['q1'] (with the limits probe)")
            print("\n".join(await explain_claim(conn, backend.tables, queues=["q1"])))
    finally:
        await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--running", type=int, default=40)
    args = parser.parse_args()
    run_on_database(parser, args, run, args.rows, args.waiting, args.running)


if __name__ == "__main__":
    main()
