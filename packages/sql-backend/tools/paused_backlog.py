"""Time claims while a paused queue holds a backlog ahead of the other queues' records.

Usage::

    uv run python packages/sql-backend/tools/paused_backlog.py --local-postgres [--backlog 100000]
    uv run python packages/sql-backend/tools/paused_backlog.py sqlite:///$(mktemp -d)/queue.db

Fills fresh tables with ``--backlog`` pending records of queue ``p`` followed (in enqueue
order, same priority) by 20,000 pending records of queue ``q``, then times 20 claims of 10 with
``p`` running and then paused, for a worker of every queue (``queues=None``), of ``q`` alone,
and of ``q`` and ``r``. A claim from every queue reads the ready index in claim order, so it
passes over the paused records ahead of the first claimable one; a claim of one named queue
reads that queue's own range.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from _tool import database_parser, run_on_database, time_calls  # next to this tool
from sqlalchemy import text

from litestar_queues_sql import SQLQueueBackend

FILL_POSTGRES = """
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata, attempts,
    max_retries, runs, reclaims, max_reclaims, created_at, run_at)
SELECT gen_random_uuid(), 't', CASE WHEN n <= :backlog THEN 'p' ELSE 'q' END, 0, 'pending',
    '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3, now(), now()
FROM generate_series(1, :total) AS n
"""

FILL_SQLITE = """
WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :total)
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata, attempts,
    max_retries, runs, reclaims, max_reclaims, created_at, run_at)
SELECT lower(hex(randomblob(16))), 't', CASE WHEN n <= :backlog THEN 'p' ELSE 'q' END, 0, 'pending',
    '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3, '2030-01-01 00:00:00.000000', '2030-01-01 00:00:00.000000'
FROM numbers
"""

NOW = datetime(2031, 1, 1, tzinfo=UTC)


async def fill(backend: SQLQueueBackend, backlog: int) -> None:
    """The paused queue's backlog first, then 20,000 records of the other queue."""
    table = backend.tables.tasks.name
    postgres = backend.dialect == "postgresql"
    async with backend.engine.begin() as conn:
        fill_sql = FILL_POSTGRES if postgres else FILL_SQLITE
        await conn.execute(
            text(fill_sql.format(table=table)), {"backlog": backlog, "total": backlog + 20_000}
        )
        if postgres:
            await conn.execute(text(f"ANALYZE {table}"))


async def timed_claims(backend: SQLQueueBackend, queues: list[str] | None) -> tuple[float, float]:
    """p50 and slowest of 20 claims of 10, in milliseconds."""

    async def claim(n: int) -> None:
        claimed = await backend.claim(
            queues=queues, worker_id="w", limit=10, now=NOW, lease_until=NOW + timedelta(hours=1)
        )
        assert len(claimed) == 10

    times = await time_calls(20, claim)
    return statistics.median(times), max(times)


async def run(url: str, backlog: int) -> None:
    """Fill the table and time the claims with ``p`` running, then paused."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        await fill(backend, backlog)
        print(f"-- {backend.dialect}: {backlog:,} records of p ahead of 20,000 of q")
        print(f"{'claim of 10 from':<16} {'p':<8} {'p50 ms':>8} {'max ms':>8}")
        for queues in (None, ["q"], ["q", "r"]):
            for paused in (False, True):
                await backend.set_paused("p", paused=paused)
                p50, slowest = await timed_claims(backend, queues)
                name = "every queue" if queues is None else ", ".join(queues)
                state = "paused" if paused else "running"
                print(f"{name:<16} {state:<8} {p50:>8.2f} {slowest:>8.2f}")
    finally:
        await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args()
    run_on_database(parser, args, run, args.backlog)


if __name__ == "__main__":
    main()
