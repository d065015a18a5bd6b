"""Time the PostgreSQL hot path: each port call on asyncpg's own connection, through SQLAlchemy, on psycopg.

Usage::

    uv run python packages/sql-backend/tools/hot_path_cost.py --local-postgres [--calls 1000]

Three backends on the same tables, called in turn (so the machine's load falls on each alike),
one round of calls after the other (enqueue one record, claim it, extend its lease, finish it,
read it), then batches of 1,000 records:
``asyncpg`` (the hot path: statements on the driver's connection, checked out of the engine's
pool), ``asyncpg, through SQLAlchemy`` (the same backend with the hot path switched off, as
before issue 20) and ``psycopg`` (which always runs through SQLAlchemy). For each call: p50 and
p95 in ms, and the CPU time of this process per call in µs (``time.process_time``, which the
other processes on the machine do not inflate the way they inflate wall time). ``enqueue 1,000``
is per record.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from _tool import database_parser, run_on_database  # next to this tool

from litestar_queues.models import Outcome, TaskRecord
from litestar_queues_sql import SQLQueueBackend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
BATCH = 1000


def new_record() -> TaskRecord:
    """A pending record of a no-op task."""
    return TaskRecord(id=uuid.uuid4(), task_name="bench.noop", created_at=T0, run_at=T0, args=[1])


class Timings:
    """Wall milliseconds and CPU microseconds per call, by call and backend."""

    def __init__(self) -> None:
        self.wall: dict[tuple[str, str], list[float]] = {}
        self.cpu: dict[tuple[str, str], float] = {}

    async def time(self, call: str, label: str, run: Callable[[], Awaitable[Any]], per: int = 1) -> Any:
        """Await ``run()``; note its wall and CPU time (divided by ``per``) under ``call`` and ``label``."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = await run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.wall.setdefault((call, label), []).append(wall * 1000 / per)
        self.cpu[(call, label)] = self.cpu.get((call, label), 0.0) + cpu * 1e6 / per
        return result

    def table(self, labels: list[str]) -> str:
        """A Markdown table: one row per call, one column per backend."""
        lines = ["| call | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for call in dict.fromkeys(name for name, _ in self.wall):
            cells = []
            for label in labels:
                times = sorted(self.wall[(call, label)])
                p95 = times[int(len(times) * 0.95) - 1]
                cpu = self.cpu[(call, label)] / len(times)
                cells.append(f"{statistics.median(times):.3f} / {p95:.3f} ms, {cpu:.0f} µs CPU")
            lines.append(f"| {call} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


async def round_of_calls(timings: Timings, label: str, backend: SQLQueueBackend) -> None:
    """Enqueue one record, claim it, extend its lease, finish it, read it."""
    record = new_record()
    await timings.time("enqueue of 1 record", label, lambda: backend.enqueue([record]))
    claim = {"queues": None, "worker_id": "w", "limit": 1, "now": T0, "lease_until": T0 + LEASE}
    claimed = await timings.time("claim of 1", label, lambda: backend.claim(**claim))
    leases = [(r.id, str(r.lease_id)) for r in claimed]
    await timings.time("extend 1 lease", label, lambda: backend.extend_leases(leases, until=T0))
    outcomes = [Outcome(task_id=r.id, lease_id=str(r.lease_id), kind="complete") for r in claimed]
    await timings.time("finish of 1", label, lambda: backend.finish(outcomes, now=T0))
    await timings.time("get", label, lambda: backend.get(record.id))


async def main(url: str, calls: int) -> None:
    """Open the three backends on the same tables and time ``calls`` rounds of calls on each in turn."""
    psycopg = url.replace("postgresql+asyncpg://", "postgresql+psycopg://")
    backends = {
        "asyncpg": SQLQueueBackend(url),
        "asyncpg, through SQLAlchemy": SQLQueueBackend(url),
        "psycopg": SQLQueueBackend(psycopg),
    }
    for backend in backends.values():
        await backend.open()
    backends["asyncpg, through SQLAlchemy"]._driver = None  # the path of every call before issue 20
    timings, warm_up = Timings(), Timings()
    try:
        for _ in range(5):  # connections, prepared statements, compiled caches
            for label, backend in backends.items():
                await round_of_calls(warm_up, label, backend)
        for _ in range(calls):  # the queue holds at most the record of the round
            for label, backend in backends.items():
                await round_of_calls(timings, label, backend)
        call, batches = f"enqueue of {BATCH:,} (per record)", max(3, calls // 50)
        for _ in range(batches):  # then batches, after the single calls
            for label, backend in backends.items():
                records = [new_record() for _ in range(BATCH)]
                await timings.time(call, label, lambda b=backend, r=records: b.enqueue(r), per=BATCH)
        print(f"{calls} rounds of calls, then {batches} batches; p50 / p95 per call, CPU per call\n")
        print(timings.table(list(backends)))
    finally:
        for backend in backends.values():
            await backend.close()


if __name__ == "__main__":
    parser = database_parser()
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    run_on_database(parser, args, main, args.calls, prefix="h")
