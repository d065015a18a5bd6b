"""Time claims under queue limits against claims of an unlimited queue, on every backend.

Usage::

    uv run python benchmarks/limits_claim.py [--claims 200] [--held 1000]

Starts a throwaway redis-server and PostgreSQL server (``tests/servers/``), a SQLite file in a
temporary directory, and the memory backend. On each, three queues hold 5,000 pending records:

* ``free``: no limit;
* ``capped``: ``QueueLimit(concurrency=1_000_000, rate=1_000_000)``: a cap and a bucket that
  never hold anything back, so the claim pays the limits' bookkeeping only;
* ``keyed``: ``QueueLimit(key_concurrency=1)``: one record of limit key ``big`` runs, and
  ``--held`` more of it wait ahead of the records of other keys, so every claim passes over them
  (the Redis claim passes over at most 1,000 per queue: keep ``--held`` below).

Times ``--claims`` claims of 10 records from each queue (each claim's records are completed
before the next one, through ``finish``, which is not timed) and prints p50 / p99 in ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import PostgresServer, RedisServer  # noqa: E402

from litestar_queues import QueueLimit  # noqa: E402
from litestar_queues._loading import backend_from_url  # noqa: E402
from litestar_queues.models import Outcome  # noqa: E402
from litestar_queues.testing import make_record  # noqa: E402

if TYPE_CHECKING:
    from litestar_queues import QueueBackend

NOW = datetime(2031, 1, 1, tzinfo=UTC)
LIMITS = {
    "capped": QueueLimit(concurrency=1_000_000, rate=1_000_000),
    "keyed": QueueLimit(key_concurrency=1),
}


async def _fill(backend: QueueBackend, held: int) -> None:
    for queue, limit in LIMITS.items():
        await backend.set_limit(queue, limit)
    for queue in ("free", "capped"):
        for _ in range(5):
            await backend.enqueue([make_record(NOW, queue=queue) for _ in range(1000)])
    big = [make_record(NOW, queue="keyed", limit_key="big") for _ in range(held + 1)]
    await backend.enqueue(big)
    (running,) = await backend.claim(
        queues=["keyed"], worker_id="w", limit=1, now=NOW, lease_until=NOW + timedelta(days=1)
    )
    assert running.limit_key == "big"
    for start in range(0, 5000, 1000):
        others = [make_record(NOW, queue="keyed", limit_key=f"k{n}") for n in range(start, start + 1000)]
        await backend.enqueue(others)


async def _time(backend: QueueBackend, queue: str, claims: int) -> tuple[float, float]:
    times = []
    for _ in range(claims):
        started = time.perf_counter()
        claimed = await backend.claim(
            queues=[queue], worker_id="w", limit=10, now=NOW, lease_until=NOW + timedelta(days=1)
        )
        times.append((time.perf_counter() - started) * 1000)
        assert len(claimed) == 10, (queue, len(claimed))
        outcomes = [Outcome(task_id=r.id, lease_id=r.lease_id or "", kind="complete") for r in claimed]
        await backend.finish(outcomes, now=NOW)
    ordered = sorted(times)
    return statistics.median(times), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def measure(label: str, url: str, claims: int, held: int) -> None:
    backend = backend_from_url(url)
    await backend.open()
    try:
        await _fill(backend, held)
        row = [label]
        for queue in ("free", "capped", "keyed"):
            p50, p99 = await _time(backend, queue, claims)
            row.append(f"{p50:.2f} / {p99:.2f}")
        print("| " + " | ".join(row) + " |", flush=True)
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--held", type=int, default=500)
    args = parser.parse_args()
    print(
        f"| claim of 10, ms p50 / p99 | no limit | cap and rate (never reached) | key cap, "
        f"{args.held:,} held back ahead |"
    )
    print("| --- | --- | --- | --- |")
    anyio.run(measure, "memory", "memory://", args.claims, args.held)
    with tempfile.TemporaryDirectory() as folder:
        anyio.run(measure, "SQLite", f"sqlite:///{folder}/queue.db", args.claims, args.held)
    with RedisServer() as redis:
        anyio.run(measure, "Redis", f"{redis.url}?key_prefix=b{uuid.uuid4().hex[:8]}", args.claims, args.held)
    with PostgresServer() as postgres:
        url = f"{postgres.url}?table_prefix=b{uuid.uuid4().hex[:8]}_"
        anyio.run(measure, "PostgreSQL", url, args.claims, args.held)


if __name__ == "__main__":
    main()
