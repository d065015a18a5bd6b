"""Time ``finished_counts`` (the operators' "finished in the last hour") on a table of ROWS records.

Usage::

    uv run python packages/sql-backend/tools/finished_counts.py --local-postgres [--rows 1000000]
    uv run python packages/sql-backend/tools/finished_counts.py sqlite:///$(mktemp -d)/queue.db

Fills fresh tables as ``list_query.py`` does (four queues; 5 % failed, 1 % cancelled, 3 %
waiting, 0.5 % running, the rest completed; three records created per second, each finished
one second after its creation: 1,000,000 records span 3.9 days), then counts the records
finished over windows that end with the newest one (the last 5 minutes, hour and day, and the
whole table), each ``--runs`` times through ``SQLQueueBackend.finished_counts`` (statement,
fetch and the dict), and prints p50 and p99 with the plans of the hour and the day
(``EXPLAIN ANALYZE`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite).

``--drop-index`` drops the ``tasks_finished_at`` index after the fill: the same counts then
show what the index buys.

``--finish-cost`` measures what the ``tasks_finished_at`` index costs a finish instead: two
fresh tables, one without the index, take the same work in alternating rounds (enqueue
``--batch`` records, claim them, complete them in one ``finish`` call), and the tool prints the
p50 and p99 of the ``finish`` calls and of whole rounds on each.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tool import database_parser, nearest_rank, run_on_database, time_calls  # next to this tool
from list_query import BASE, fill  # the tool next to this one
from sqlalchemy import text

from litestar_queues.models import Outcome, TaskRecord
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_finished_counts


async def count_windows(url: str, rows: int, runs: int, drop_index: bool) -> None:
    """Fill the table, time the counts over each window, print the plans."""
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        seconds = await fill(backend, rows)
        print(f"-- {backend.dialect}: {rows:,} rows loaded in {seconds:.1f} s\n")
        if drop_index:
            async with backend.engine.begin() as conn:
                await conn.execute(text(f"DROP INDEX {backend.tables.tasks.name}_finished_at"))
            print("-- without the tasks_finished_at index\n")
        end = BASE + timedelta(seconds=rows // 3 + 1)  # the newest finish
        windows = {
            "last 5 minutes": end - timedelta(minutes=5),
            "last hour": end - timedelta(hours=1),
            "last day": end - timedelta(days=1),
            "whole table": BASE,
        }
        print(f"{'window':<16} {'p50 ms':>8} {'p99 ms':>8} {'counted':>9}")
        for name, since in windows.items():
            counted = sum(sum(per.values()) for per in (await backend.finished_counts(since=since)).values())

            async def call(n: int, since: object = since) -> None:
                await backend.finished_counts(since=since)  # type: ignore[arg-type]

            times = await time_calls(runs, call)
            p50, p99 = statistics.median(times), nearest_rank(times, 0.99)
            print(f"{name:<16} {p50:>8.2f} {p99:>8.2f} {counted:>9,}")
        for name in ("last hour", "last day"):
            async with backend.engine.connect() as conn:
                lines = await explain_finished_counts(conn, backend.tables, windows[name])
            print(f"\n-- {name}")
            print("\n".join(lines))
    finally:
        await backend.close()


async def _round(backend: SQLQueueBackend, batch: int, n: int) -> tuple[float, float]:
    """Enqueue, claim and complete ``batch`` records; milliseconds of the finish and of the round."""
    now = BASE + timedelta(seconds=n)
    records = [
        TaskRecord(id=uuid.uuid4(), task_name="bench.noop", queue=f"q{i % 4}", created_at=now, run_at=now)
        for i in range(batch)
    ]
    started = time.perf_counter()
    await backend.enqueue(records)
    claimed = await backend.claim(
        queues=None, worker_id="bench", limit=batch, now=now, lease_until=now + timedelta(seconds=30)
    )
    outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete") for r in claimed]
    finishing = time.perf_counter()
    await backend.finish(outcomes, now=now)
    done = time.perf_counter()
    return (done - finishing) * 1000, (done - started) * 1000


def _with_prefix(url: str, prefix: str) -> str:
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("table_prefix=")]
    return f"{base}?{'&'.join([*kept, f'table_prefix={prefix}'])}"


async def finish_cost(url: str, rounds: int, batch: int) -> None:
    """Alternate the same rounds on a table with the index and on one without it."""
    with_index = SQLQueueBackend(_with_prefix(url, f"fa{uuid.uuid4().hex[:8]}_"))
    without = SQLQueueBackend(_with_prefix(url, f"fb{uuid.uuid4().hex[:8]}_"))
    for backend in (with_index, without):
        await backend.open()
    try:
        async with without.engine.begin() as conn:
            await conn.execute(text(f"DROP INDEX {without.tables.tasks.name}_finished_at"))
        times: dict[str, list[tuple[float, float]]] = {"with the index": [], "without": []}
        for n in range(rounds):
            times["with the index"].append(await _round(with_index, batch, n))
            times["without"].append(await _round(without, batch, n))
        print(f"-- {with_index.dialect}: {rounds} rounds of {batch} records (enqueue, claim, finish)\n")
        print(f"{'table':<16} {'finish p50':>11} {'p99':>8} {'round p50':>10} {'p99':>8}  (ms)")
        for name, pairs in times.items():
            finishes, whole = [p[0] for p in pairs[1:]], [p[1] for p in pairs[1:]]  # the first warms up
            print(
                f"{name:<16} {statistics.median(finishes):>11.2f} {nearest_rank(finishes, 0.99):>8.2f} "
                f"{statistics.median(whole):>10.2f} {nearest_rank(whole, 0.99):>8.2f}"
            )
    finally:
        for backend in (with_index, without):
            await backend.close()


def main() -> None:
    """Parse the command line and run."""
    parser = database_parser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--drop-index", action="store_true", help="count without the finished_at index")
    parser.add_argument("--finish-cost", action="store_true", help="measure the index's cost at finish")
    parser.add_argument("--rounds", type=int, default=200, help="with --finish-cost")
    parser.add_argument("--batch", type=int, default=100, help="records per round, with --finish-cost")
    args = parser.parse_args()
    if args.finish_cost:
        run_on_database(parser, args, finish_cost, args.rounds, args.batch)
    else:
        run_on_database(parser, args, count_windows, args.rows, args.runs, args.drop_index)


if __name__ == "__main__":
    main()
