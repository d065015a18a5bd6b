"""How fast the Redis backend counts finished records: ``finished_counts`` over a large store (not a test).

Fills a throwaway redis-server (no persistence) exactly as ``list_query.py`` does, through the
backend's own scripts (``--records`` records, default 1,000,000, in 4 queues; about 89 %
completed, 5 % failed, 2 % cancelled, the rest waiting or running), then times
``backend.finished_counts`` ``--runs`` times for each ``since``: before every finish (all
944,000 finished records counted), an hour before the last finish, and after it (none counted).
It prints p50 and p99 of the wall clock in this process (the script call and the dict) and the
server time per call read from ``INFO commandstats``, then the memory the finish-time sets take.

Each count is one ``ZCOUNT`` per queue and finished status: O(log N) in the size of the set,
whatever the number of records in the window, so the three rows cost about the same.

Run from the repository root::

    uv run python packages/redis-backend/tools/finished_counts.py [--records 1000000] [--runs 50]
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from _tool import load_average, quantile, run_on_throwaway_redis  # next to this tool
from list_query import QUEUES, SPAN, T0, fill, timed  # the tool next to this one

from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    import argparse


async def measure(url: str, args: argparse.Namespace) -> None:
    """Fill the store, then time the counts."""
    backend = RedisQueueBackend(url=url, key_prefix="bench", result_ttl=None)
    admin = aioredis.Redis.from_url(url)
    await backend.open()
    try:
        started = time.perf_counter()
        await fill(backend, args.records)
        print(f"filled {args.records:,} records in {time.perf_counter() - started:.0f} s")
        finished = T0 + SPAN  # list_query's fill finishes every record at this instant
        sets = [backend.keys.finished(q, s) for q in QUEUES for s in ("completed", "failed", "cancelled")]
        memory = sum([await admin.memory_usage(key, samples=0) or 0 for key in sets]) / 2**20
        print(f"the 12 finish-time sets take {memory:.0f} MiB\n")
        cases = {
            "since before every finish": T0,
            "since an hour before the last": finished - timedelta(hours=1),
            "since after the last": finished + timedelta(seconds=1),
        }
        print(f"{'finished_counts':<32} {'p50 ms':>8} {'p99 ms':>8} {'server us':>10} {'counted':>9}")
        for name, since in cases.items():
            counted = sum(sum(per.values()) for per in (await backend.finished_counts(since=since)).values())

            async def call(since: object = since) -> list[object]:
                return list(await backend.finished_counts(since=since))  # type: ignore[arg-type]

            timings, server_us, _ = await timed(admin, args.runs, call)
            print(
                f"{name:<32} {statistics.median(timings):>8.3f} {quantile(timings, 0.99):>8.3f} "
                f"{server_us:>10.1f} {counted:>9,}"
            )
        print(f"\nload average: {load_average()}")
    finally:
        await backend.close()
        await admin.aclose()


if __name__ == "__main__":
    run_on_throwaway_redis(__doc__, measure, records=1_000_000, runs=50)
