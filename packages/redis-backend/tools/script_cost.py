"""Server time per record of the hot scripts (enqueue, claim, finish), read from INFO commandstats.

Compares the backend in this working tree with the backend of a baseline git revision on one
throwaway redis-server (no persistence): each round runs both, in alternating order, each in a
fresh process importing its own copy of ``litestar_queues_redis`` (the core is this tree's), on
an emptied database. A round enqueues ``--tasks`` records (500 per ``enqueue`` call, or
``--enqueue-batch``; each call's records share one ``created_at``, a millisecond after the
previous call's), claims them all with ``claim(limit=10)`` (``--claim-limit``), then finishes
them with ``finish`` of 10 ``complete`` outcomes (each with a one-attempt history, as the attempt
driver sends). Before each phase it resets the
server's statistics (``CONFIG RESETSTAT``); after it, the ``usec`` of ``EVALSHA`` divided by the
number of records is the server time per record. The lowest of the rounds is reported: other
load on the machine only ever adds time. With ``--paused``, another queue is paused (a member of
``{prefix}:paused``, which a backend without pausing ignores) during the claims, so the claim
script's pause check reads the set instead of finding it empty. With ``--keyed``, every record
has a dedup key of its own (a keyed enqueue: the dedup check and the key's index).

Run from the repository root::

    uv run python packages/redis-backend/tools/script_cost.py --baseline dac03d8 [--rounds 10] [--paused]
        [--claim-limit 10] [--enqueue-batch 500] [--keyed]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[3]
SRC = "packages/redis-backend/src"
PHASES = ("enqueue", "claim", "finish")


async def _evalsha_usec(admin: object) -> int:
    info = await admin.info("commandstats")  # type: ignore[attr-defined]
    return int(info.get("cmdstat_evalsha", {}).get("usec", 0))


async def measure(
    src: str,
    url: str,
    prefix: str,
    tasks: int,
    paused: bool,
    claim_limit: int,
    enqueue_batch: int = 500,
    keyed: bool = False,
) -> dict[str, float]:
    """One variant, one round: server microseconds per record of each phase."""
    sys.path.insert(0, src)
    import redis.asyncio as aioredis

    from litestar_queues.models import AttemptRecord, Outcome, TaskRecord
    from litestar_queues_redis import RedisQueueBackend

    admin = aioredis.Redis.from_url(url)
    backend = RedisQueueBackend(url=url, key_prefix=prefix, result_ttl=3600)
    warm = RedisQueueBackend(url=url, key_prefix=prefix + "w", result_ttl=3600)
    now = datetime.now(UTC)
    until = now + timedelta(hours=1)

    def records(n: int, batch: int = 0) -> list[TaskRecord]:
        # one enqueue_many shares one created_at (as QueueService stamps it); later batches later
        created = now + timedelta(milliseconds=batch)
        return [
            TaskRecord(
                id=uuid.uuid4(),
                task_name="cost.noop",
                created_at=created,
                run_at=now,
                key=f"k-{uuid.uuid4().hex}" if keyed else None,
            )
            for _ in range(n)
        ]

    def outcomes(claimed: list[TaskRecord]) -> list[Outcome]:
        return [
            Outcome(
                task_id=r.id,
                lease_id=r.lease_id or "",
                kind="complete",
                history=[
                    AttemptRecord(
                        run=r.runs, worker_id="w", started_at=now, finished_at=now, verdict="completed"
                    )
                ],
            )
            for r in claimed
        ]

    result: dict[str, float] = {}
    try:
        await admin.flushdb()  # each round starts from an empty database
        await backend.open()
        await warm.open()
        # load every script this round uses (a first EVALSHA answers NOSCRIPT)
        await warm.enqueue(records(2))
        warm_claimed = await warm.claim(queues=None, worker_id="w", limit=2, now=now, lease_until=until)
        await warm.finish(outcomes(warm_claimed), now=now)

        await admin.config_resetstat()
        for start in range(0, tasks, enqueue_batch):
            await backend.enqueue(records(min(enqueue_batch, tasks - start), start // enqueue_batch))
        result["enqueue"] = await _evalsha_usec(admin) / tasks

        if paused:
            await admin.sadd(f"{{{prefix}}}:paused", "elsewhere")
        await admin.config_resetstat()
        claimed: list[TaskRecord] = []
        while batch := await backend.claim(
            queues=None, worker_id="w", limit=claim_limit, now=now, lease_until=until
        ):
            claimed.extend(batch)
        result["claim"] = await _evalsha_usec(admin) / tasks
        assert len(claimed) == tasks, len(claimed)

        await admin.config_resetstat()
        for start in range(0, tasks, 10):
            done = await backend.finish(outcomes(claimed[start : start + 10]), now=now)
            assert all(r is not None for r in done)
        result["finish"] = await _evalsha_usec(admin) / tasks
    finally:
        await backend.close()
        await warm.close()
        await admin.aclose()
    return result


def export(ref: str, into: Path) -> str:
    """Extract the backend's sources at ``ref`` into ``into``; return the import path."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, SRC], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return str(into / SRC)


def run_child(src: str, url: str, prefix: str, args: argparse.Namespace) -> dict[str, float]:
    """Measure one variant in a fresh interpreter (so each imports its own backend)."""
    options = [
        str(args.tasks),
        "1" if args.paused else "0",
        str(args.claim_limit),
        str(args.enqueue_batch),
        "1" if args.keyed else "0",
    ]
    out = subprocess.run(
        [sys.executable, __file__, "--child", src, url, prefix, *options],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    """Parse the command line; as the parent, start the server and alternate the variants."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default=None, help="git revision to compare with (default: none)")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--paused", action="store_true", help="pause another queue during the claims")
    parser.add_argument("--claim-limit", type=int, default=10, help="records per claim call")
    parser.add_argument("--enqueue-batch", type=int, default=500, help="records per enqueue call")
    parser.add_argument("--keyed", action="store_true", help="every record has a dedup key of its own")
    parser.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        src, url, prefix, tasks, paused, limit, batch, keyed = args.child
        result = anyio.run(
            measure, src, url, prefix, int(tasks), paused == "1", int(limit), int(batch), keyed == "1"
        )
        print(json.dumps(result))
        return
    sys.path.insert(0, str(ROOT))
    from tests.servers import RedisServer

    with tempfile.TemporaryDirectory() as tmp, RedisServer(aof=False, unix_socket=False) as server:
        variants = {"current": str(ROOT / SRC)}
        if args.baseline:
            variants = {args.baseline: export(args.baseline, Path(tmp)), **variants}
        best: dict[str, dict[str, float]] = {name: {} for name in variants}
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                got = run_child(variants[name], server.url, f"cost{uuid.uuid4().hex[:8]}", args)
                for phase, value in got.items():
                    best[name][phase] = min(value, best[name].get(phase, value))
                print(
                    f"round {round_ + 1} {name}: " + ", ".join(f"{p} {got[p]:.1f}" for p in PHASES),
                    flush=True,
                )
        print(f"\nserver time per record (us, lowest of {args.rounds} rounds, {args.tasks} tasks):")
        print(f"{'variant':>12} " + " ".join(f"{p:>9}" for p in PHASES))
        for name, values in best.items():
            print(f"{name:>12} " + " ".join(f"{values[p]:9.1f}" for p in PHASES))


if __name__ == "__main__":
    main()
