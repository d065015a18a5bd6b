"""How fast the Redis backend lists records: ``query`` over a large store (not a test).

Starts a throwaway redis-server without persistence (``tests.servers.RedisServer``), fills it
through the backend's own scripts, so every index is the one production builds: ``enqueue``
(500 records per script call, pipelined), ``claim`` per queue and ``finish`` of whole batches,
``cancel`` one by one. The store gets ``--records`` records (default 1,000,000) in 4 queues and 3
task names, created over 30 days, about 89% completed, 5% failed (each with a one-attempt history
and a short traceback), 2% cancelled, 3% pending, 0.5% scheduled and 0.5% running; finished
records are kept forever (``result_ttl=None``).

Then it times ``backend.query`` (wall clock in this process: the script call and decoding the
page), each query ``--runs`` times, and prints p50 and p99 with the server time per call read
from ``INFO commandstats``:

* the newest 50 failed records (the first page), and a page 45,000 failed records deep;
* the same oldest first, in one queue, and before a ``created_before`` bound (indexed);
* the newest 50 of every status (the status indexes merged), and of one task name among the
  failed records (a filter the indexes do not serve: read on the records);
* one dedup key over the whole store (nothing indexed narrows it: every entry is read).

Run from the repository root::

    uv run python packages/redis-backend/tools/list_query.py [--records 1000000] [--runs 50]
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from _tool import load_average, quantile, run_on_throwaway_redis  # next to this tool

from litestar_queues.models import (
    ALL_STATUSES,
    AttemptRecord,
    Outcome,
    QueryPosition,
    RecordQuery,
    TaskRecord,
)
from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable

QUEUES = ("default", "emails", "reports", "webhooks")
TASKS = ("bench.send", "bench.render", "bench.sync")
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
BATCH = 4000
TRACEBACK = (
    "Traceback (most recent call last):\n" + '  File "app.py", line 1, in task\n' * 12 + "ValueError: boom\n"
)


def fate(rng: random.Random) -> str:
    """What becomes of one record: the mix of statuses."""
    x = rng.random()
    for name, share in (
        ("failed", 0.05),
        ("cancelled", 0.02),
        ("pending", 0.03),
        ("scheduled", 0.005),
        ("running", 0.005),
    ):
        if x < share:
            return name
        x -= share
    return "completed"


async def fill(backend: RedisQueueBackend, total: int) -> list[TaskRecord]:
    """Store ``total`` records through the backend's scripts; return the failed ones."""
    rng = random.Random(16)
    step = SPAN / total
    now = T0 + SPAN
    lease_until = now + timedelta(days=365)
    failed: list[TaskRecord] = []
    for start in range(0, total, BATCH):
        batch: list[tuple[TaskRecord, str]] = []
        for i in range(start, min(total, start + BATCH)):
            created = T0 + step * i
            end = fate(rng)
            run_at = created + timedelta(days=60) if end == "scheduled" else created
            record = TaskRecord(
                id=uuid.uuid4(),
                task_name=TASKS[i % 3],
                queue=QUEUES[rng.randrange(4)],
                key=f"order-{i}" if i % 10 == 0 else None,
                status="scheduled" if end == "scheduled" else "pending",
                # records that stay pending rank below the ones the claims below take
                priority=-1 if end in ("pending", "cancelled", "scheduled") else 0,
                args=[i, "x" * 20],
                created_at=created,
                run_at=run_at,
            )
            batch.append((record, end))
        await backend.enqueue([record for record, _ in batch])
        fates = {record.id: end for record, end in batch}
        for queue in QUEUES:
            wanted = sum(1 for r, end in batch if r.queue == queue and r.priority == 0)
            if not wanted:
                continue
            held = await backend.claim(
                queues=[queue], worker_id="bench", limit=wanted, now=now, lease_until=lease_until
            )
            outcomes = []
            for record in held:
                end = fates[record.id]
                if end == "running":
                    continue
                attempt = AttemptRecord(
                    run=1,
                    worker_id="bench",
                    started_at=now,
                    finished_at=now,
                    verdict="failed" if end == "failed" else "completed",
                    error="ValueError: boom" if end == "failed" else None,
                    traceback=TRACEBACK if end == "failed" else None,
                )
                kind = "fail" if end == "failed" else "complete"
                outcomes.append(
                    Outcome(
                        task_id=record.id,
                        lease_id=record.lease_id or "",
                        kind=kind,
                        result=None if end == "failed" else {"ok": True},
                        error="ValueError: boom" if end == "failed" else None,
                        history=[attempt],
                    )
                )
            for done in await backend.finish(outcomes, now=now):
                assert done is not None
                if done.status == "failed":
                    failed.append(done)
        for record, end in batch:
            if end == "cancelled":
                await backend.cancel(record.id, now=now)
        if (start // BATCH) % 25 == 0:
            print(f"  {start + len(batch):>9,} records stored", flush=True)
    return failed


async def timed(
    admin: aioredis.Redis, runs: int, call: Callable[[], Awaitable[list[TaskRecord]]]
) -> tuple[list[float], float, int]:
    """Milliseconds per call (wall clock), server microseconds per call, records per page."""
    await call()  # warm: the script is loaded, the connection open
    await admin.config_resetstat()
    timings = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(await call())
        timings.append((time.perf_counter() - start) * 1000)
    info = await admin.info("commandstats")
    evalsha = info.get("cmdstat_evalsha", {})
    return timings, float(evalsha.get("usec", 0)) / runs, size


async def measure(url: str, args: argparse.Namespace) -> None:
    """Fill the store, then time each query."""
    backend = RedisQueueBackend(url=url, key_prefix="bench", result_ttl=None)
    admin = aioredis.Redis.from_url(url)
    await backend.open()
    try:
        started = time.perf_counter()
        failed = await fill(backend, args.records)
        elapsed = time.perf_counter() - started
        counts = await backend.counts()
        per_status: dict[str, int] = {}
        for row in counts.values():
            for status, n in row.items():
                per_status[status] = per_status.get(status, 0) + n
        memory = (await admin.info("memory"))["used_memory"] / 2**20
        indexes = [backend.keys.index(q, status) for q in QUEUES for status in ALL_STATUSES]
        index_memory = sum([await admin.memory_usage(key, samples=0) or 0 for key in indexes]) / 2**20
        print(f"filled {args.records:,} records in {elapsed:.0f} s: {per_status}")
        print(f"memory used: {memory:.0f} MiB, of which the listing indexes {index_memory:.0f} MiB")

        failed.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=True)
        deep = QueryPosition.of(failed[min(45_000, len(failed) - 1)])
        week_ago = T0 + SPAN - timedelta(days=7)
        key = f"order-{(args.records // 2) // 10 * 10}"
        cases: list[tuple[str, RecordQuery, int]] = [
            ("failed, newest 50 (first page)", RecordQuery(statuses=("failed",), limit=50), args.runs),
            (
                "failed, newest 50 after 45,000 (deep page)",
                RecordQuery(statuses=("failed",), limit=50, after=deep),
                args.runs,
            ),
            ("failed, oldest 50", RecordQuery(statuses=("failed",), limit=50, newest_first=False), args.runs),
            (
                "failed in one queue, newest 50",
                RecordQuery(statuses=("failed",), queues=("emails",), limit=50),
                args.runs,
            ),
            (
                "failed before a week ago, newest 50",
                RecordQuery(statuses=("failed",), created_before=week_ago, limit=50),
                args.runs,
            ),
            ("every status, newest 50", RecordQuery(limit=50), args.runs),
            (
                "failed of one task name, newest 50",
                RecordQuery(statuses=("failed",), task_names=("bench.render",), limit=50),
                args.runs,
            ),
            ("one dedup key, whole store", RecordQuery(key=key, limit=50), max(1, args.runs // 10)),
        ]
        print(f"\n{'query':<46} {'p50 ms':>8} {'p99 ms':>8} {'server us/call':>15} {'rows':>5} {'runs':>5}")
        for name, query, runs in cases:

            async def call(query: RecordQuery = query) -> list[TaskRecord]:
                return list(await backend.query(query))

            timings, server, rows = await timed(admin, runs, call)
            p50, p99 = statistics.median(timings), quantile(timings, 0.99)
            print(f"{name:<46} {p50:8.2f} {p99:8.2f} {server:15.0f} {rows:5d} {runs:5d}", flush=True)
        print(f"load average: {load_average()}")
    finally:
        await backend.close()
        await admin.aclose()


def main() -> None:
    """Parse the command line, start a redis-server without persistence, fill it and measure."""
    run_on_throwaway_redis(__doc__, measure, records=1_000_000, runs=50)


if __name__ == "__main__":
    main()
