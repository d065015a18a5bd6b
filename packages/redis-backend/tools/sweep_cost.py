"""What one call of the core's retention sweep costs on the Redis backend (not a test).

Starts a throwaway redis-server without persistence (``tests.servers.RedisServer``) and fills it
through the backend's own scripts with ``--records`` completed records (default 1,000,000) in 4
queues, created over 30 days, each finished a minute after it was created: ``enqueue`` of 4,000
records per call, one ``claim`` and one ``finish`` of the whole batch. Then it times ``--calls``
calls of the sweep's query, each deleting up to ``--limit`` records::

    delete(RecordQuery(statuses=("completed",), finished_before=cutoff, created_before=cutoff,
                       newest_first=False, limit=1000))

with the cutoff at the middle of the span (half of the store is due), and prints p50 and p99 of
the wall clock in this process and the server time per call (``INFO commandstats``, reset before
each call). The calls take the oldest records, so the store stays at about ``--records``: a cost
that grew with the store would show between runs at different ``--records``.

Run from the repository root::

    uv run python packages/redis-backend/tools/sweep_cost.py [--records 1000000] [--calls 30]
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from _tool import load_average, quantile, run_on_throwaway_redis  # next to this tool

from litestar_queues.models import Outcome, RecordQuery, TaskRecord
from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    import argparse

QUEUES = ("default", "emails", "reports", "webhooks")
T0 = datetime(2030, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
BATCH = 4000


async def fill(backend: RedisQueueBackend, total: int) -> None:
    """Store ``total`` completed records through the backend's scripts."""
    step = SPAN / total
    for start in range(0, total, BATCH):
        size = min(BATCH, total - start)
        batch = [
            TaskRecord(
                id=uuid.uuid4(),
                task_name="bench.send",
                queue=QUEUES[i % len(QUEUES)],
                args=[i, "x" * 20],
                created_at=T0 + step * i,
                run_at=T0 + step * i,
            )
            for i in range(start, start + size)
        ]
        await backend.enqueue(batch)
        now = batch[-1].created_at + timedelta(minutes=1)
        held = await backend.claim(
            queues=None, worker_id="bench", limit=size, now=now, lease_until=now + timedelta(hours=1)
        )
        outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete", result=1) for r in held]
        assert all(done is not None for done in await backend.finish(outcomes, now=now))
        if (start // BATCH) % 25 == 0:
            print(f"  {start + size:>9,} records stored", flush=True)


async def measure(url: str, args: argparse.Namespace) -> None:
    """Fill the store, then time the sweep's delete calls."""
    backend = RedisQueueBackend(url=url, key_prefix="sweep")
    admin = aioredis.Redis.from_url(url)
    await backend.open()
    try:
        started = time.perf_counter()
        await fill(backend, args.records)
        memory = (await admin.info("memory"))["used_memory"] / 2**20
        elapsed = time.perf_counter() - started
        print(f"filled {args.records:,} completed records in {elapsed:.0f} s, {memory:.0f} MiB")
        cutoff = T0 + SPAN / 2
        sweep = RecordQuery(
            statuses=("completed",),
            finished_before=cutoff,
            created_before=cutoff,
            newest_first=False,
            limit=args.limit,
        )
        await backend.delete(RecordQuery(statuses=("completed",), newest_first=False, limit=1))  # warm
        walls, servers, sizes = [], [], []
        for _ in range(args.calls):
            await admin.config_resetstat()
            begin = time.perf_counter()
            deleted = await backend.delete(sweep)
            walls.append((time.perf_counter() - begin) * 1000)
            evalsha = (await admin.info("commandstats")).get("cmdstat_evalsha", {})
            servers.append((float(evalsha.get("usec", 0)), int(evalsha.get("calls", 0))))
            sizes.append(len(deleted))
        left = sum(n for row in (await backend.counts()).values() for n in row.values())
        usec = [u for u, _ in servers]
        print(f"{args.calls} calls of delete(limit={args.limit}), {min(sizes)}..{max(sizes)} deleted each:")
        print(f"  wall clock: p50 {statistics.median(walls):.1f} ms, p99 {quantile(walls, 0.99):.1f} ms")
        print(
            f"  server time per call: p50 {statistics.median(usec) / 1000:.1f} ms, "
            f"min {min(usec) / 1000:.1f} ms, p99 {quantile(usec, 0.99) / 1000:.1f} ms, "
            f"in {max(c for _, c in servers)} script calls of "
            f"{statistics.median(u / max(1, c) for u, c in servers) / 1000:.1f} ms (p50); "
            f"{statistics.median(usec) / max(1, statistics.median(sizes)):.1f} us per record deleted"
        )
        print(f"records left: {left:,}; load average: {load_average()}")
    finally:
        await backend.close()
        await admin.aclose()


def main() -> None:
    """Parse the command line, start a redis-server without persistence, fill it and measure."""
    run_on_throwaway_redis(__doc__, measure, records=1_000_000, calls=30, limit=1000)


if __name__ == "__main__":
    main()
