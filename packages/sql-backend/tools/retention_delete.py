"""Time ``delete`` as the retention sweep and ``purge`` call it, on a table of ROWS records.

Usage::

    uv run python packages/sql-backend/tools/retention_delete.py --local-postgres [--rows 1000000]
    uv run python packages/sql-backend/tools/retention_delete.py sqlite:///$(mktemp -d)/queue.db

Fills fresh tables as ``list_query.py`` does (four queues; 5 % failed, 1 % cancelled, 3 %
waiting, 0.5 % running, the rest completed, each finished one second after its creation), then:

* prints the plan of the sweep's delete (``RecordQuery(statuses=("completed",),
  finished_before=cutoff, created_before=cutoff, newest_first=False, limit=1000)``, the cutoff
  in the middle of the table): ``EXPLAIN (ANALYZE, BUFFERS)`` in a rolled-back savepoint on
  PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite;
* runs that delete ``--batches`` times in a row, as a sweep does, each through
  ``SQLQueueBackend.delete`` (statement, commit and the returned ids), and prints p50, p99 and
  the slowest batch, then the plan again (the index range now starts with the entries of the
  rows deleted so far);
* times a purge of failed records of one queue, newest first, in batches of 1000.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tool import database_parser, nearest_rank, run_on_database  # next to this tool
from list_query import BASE, fill  # the tool next to this one

from litestar_queues.models import RecordQuery
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_delete


async def timed_batches(
    backend: SQLQueueBackend, query: RecordQuery, batches: int
) -> tuple[list[float], int]:
    """Run the delete ``batches`` times (or until a batch comes back short); milliseconds each."""
    times: list[float] = []
    deleted = 0
    for _ in range(batches):
        started = time.perf_counter()
        ids = await backend.delete(query)
        times.append((time.perf_counter() - started) * 1000)
        deleted += len(ids)
        if len(ids) < query.limit:
            break
    return times, deleted


def summary(name: str, times: list[float], deleted: int) -> str:
    """One line: p50, p99 and the slowest batch, and how many records went."""
    return (
        f"{name:<44} {statistics.median(times):>8.2f} {nearest_rank(times, 0.99):>8.2f} {max(times):>8.2f}"
        f" {len(times):>8} {deleted:>9,}"
    )


async def print_plan(backend: SQLQueueBackend, title: str, query: RecordQuery) -> None:
    """Print the plan of the delete ``query`` runs."""
    async with backend.engine.connect() as conn:
        lines = await explain_delete(conn, backend.tables, query)
    print(f"\n-- {title}")
    print("\n".join(lines))


async def run(url: str, rows: int, batches: int) -> None:
    """Fill the table, print the sweep's plan, time the batches."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        seconds = await fill(backend, rows)
        print(f"-- {backend.dialect}: {rows:,} rows loaded in {seconds:.1f} s")
        cutoff = BASE + timedelta(seconds=rows // 3 // 2)
        sweep = RecordQuery(
            statuses=("completed",),
            finished_before=cutoff,
            created_before=cutoff,
            newest_first=False,
            limit=1000,
        )
        purge = RecordQuery(statuses=("failed",), queues=("q1",), limit=1000)
        await print_plan(backend, "sweep delete, first batch", sweep)
        columns = ("p50 ms", "p99 ms", "max ms", "batches")
        print(
            f"\n{'delete (batches of 1000)':<44} " + " ".join(f"{c:>8}" for c in columns) + f" {'deleted':>9}"
        )
        swept, deleted = await timed_batches(backend, sweep, batches)
        print(summary("retention sweep: completed, oldest first", swept, deleted))
        purged, deleted = await timed_batches(backend, purge, batches)
        print(summary("purge: failed in q1, newest first", purged, deleted))
        await print_plan(backend, f"sweep delete after {len(swept)} batches", sweep)
    finally:
        await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    run_on_database(parser, args, run, args.rows, args.batches)


if __name__ == "__main__":
    main()
