"""Server time per call of the schedule scripts, next to the enqueue of one record, from INFO commandstats.

On one throwaway redis-server (no persistence), each round on an emptied database, per phase:

* ``enqueue``: ``--calls`` enqueues of one record each (a dedup key, due now), the reference;
* ``fire``: ``advance_schedule`` with such a record, each from the due time the previous one
  stored (the compare-and-set applies, and the record is stored by the enqueue code);
* ``fire, key held``: the same, each fire's key held by an active record (not stored);
* ``skip``: ``advance_schedule`` without a record;
* ``refused``: ``advance_schedule`` from a due time the schedule left (changes nothing);
* ``pause``: ``set_schedule_paused``;
* ``states``: ``schedule_states()`` of ``--schedules`` stored states (time per call).

Before each phase it resets the server's statistics (``CONFIG RESETSTAT``); after it, the
``usec`` of ``EVALSHA`` divided by the number of calls is the server time per call. The lowest of
the rounds is reported: other load on the machine only ever adds time.

Run from the repository root::

    uv run python packages/redis-backend/tools/schedule_cost.py [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import redis.asyncio as aioredis

from litestar_queues.models import TaskRecord
from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    from collections.abc import Awaitable

ROOT = Path(__file__).resolve().parents[3]
PHASES = ("enqueue", "fire", "fire, key held", "skip", "refused", "pause", "states")
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def job(name: str, due: datetime) -> TaskRecord:
    """The record of the schedule ``name``'s fire at ``due``, keyed by both."""
    return TaskRecord(
        id=uuid.uuid4(),
        task_name="cost.beat",
        key=f"schedule:{name}:{due.isoformat()}",
        created_at=due,
        run_at=due,
    )


async def _evalsha_usec(admin: aioredis.Redis) -> int:
    info = await admin.info("commandstats")
    return int(info.get("cmdstat_evalsha", {}).get("usec", 0))


async def measure(url: str, calls: int, schedules: int) -> dict[str, float]:
    """One round: server microseconds per call of each phase."""
    admin = aioredis.Redis.from_url(url)
    backend = RedisQueueBackend(url=url, key_prefix=f"cost{uuid.uuid4().hex[:8]}")
    step = timedelta(seconds=1)
    result: dict[str, float] = {}

    async def phase(name: str, n: int, run: Awaitable[None]) -> None:
        await admin.config_resetstat()
        await run
        result[name] = await _evalsha_usec(admin) / n

    async def enqueues() -> None:
        for i in range(calls):
            await backend.enqueue([job("enqueue", T0 + step * i)])

    async def fires(name: str) -> None:
        for i in range(calls):
            due = T0 + step * i
            state = await backend.advance_schedule(
                name, expected=due, next_fire=due + step, record=job(name, due), now=due
            )
            assert state is not None

    async def skips() -> None:
        for i in range(calls):
            due = T0 + step * i
            assert await backend.advance_schedule(
                "skip", expected=due, next_fire=due + step, record=None, now=due
            )

    async def refusals() -> None:
        for _ in range(calls):
            assert (
                await backend.advance_schedule(
                    "skip", expected=T0, next_fire=T0, record=job("skip", T0), now=T0
                )
                is None
            )

    async def pauses() -> None:
        for i in range(calls):
            assert await backend.set_schedule_paused("skip", paused=i % 2 == 0, now=T0)

    async def reads(n: int) -> None:
        for _ in range(n):
            assert len(await backend.schedule_states()) == schedules

    try:
        await admin.flushdb()
        await backend.open()
        for name in ("fire", "held", "skip"):
            await backend.advance_schedule(name, expected=None, next_fire=T0, record=None, now=T0)
        await backend.enqueue([job("warm", T0)])  # loads the enqueue script
        await phase("enqueue", calls, enqueues())
        await phase("fire", calls, fires("fire"))
        for start in range(0, calls, 500):  # the holders of the next phase's keys, beforehand
            await backend.enqueue([job("held", T0 + step * i) for i in range(start, min(calls, start + 500))])
        await phase("fire, key held", calls, fires("held"))
        await phase("skip", calls, skips())
        await phase("refused", calls, refusals())
        await phase("pause", calls, pauses())
        for i in range(schedules - 3):
            await backend.advance_schedule(f"s{i:05d}", expected=None, next_fire=T0, record=None, now=T0)
        await phase("states", 100, reads(100))
    finally:
        await backend.close()
        await admin.aclose()
    return result


def main() -> None:
    """Start the server and run the rounds."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--schedules", type=int, default=100, help="states read by schedule_states()")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.servers import RedisServer

    best: dict[str, float] = {}
    with RedisServer(aof=False, unix_socket=False) as server:
        for round_ in range(args.rounds):
            got = anyio.run(measure, server.url, args.calls, args.schedules)
            for name, value in got.items():
                best[name] = min(value, best.get(name, value))
            print(f"round {round_ + 1}: " + ", ".join(f"{p} {got[p]:.1f}" for p in PHASES), flush=True)
    print(f"\nserver time per call (us, lowest of {args.rounds} rounds, {args.calls} calls per phase):")
    for name in PHASES:
        print(f"{name:>16} {best[name]:8.1f}")


if __name__ == "__main__":
    main()
