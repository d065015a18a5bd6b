"""Example-based contract tests: enqueue, claim and claim_task."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from litestar_queues.models import Outcome
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock

if TYPE_CHECKING:
    from litestar_queues.models import TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("ClaimSuite", "claim_one", "enqueue_one")


async def enqueue_one(backend: QueueBackend, record: TaskRecord) -> TaskRecord:
    """Enqueue one record and return the stored one (checking it was created)."""
    (result,) = await backend.enqueue([record])
    expect(result.created, "enqueue", f"a record without a held key was not created: {result!r}")
    return result.record


async def claim_one(
    backend: QueueBackend, clock: ManualClock, worker: str = "w1", lease: float = 30
) -> TaskRecord:
    """Claim exactly one record from every queue."""
    claimed = await backend.claim(
        queues=None, worker_id=worker, limit=1, now=clock.now(), lease_until=clock.later(lease)
    )
    expect_equal(len(claimed), 1, "claim", "number of records claimed")
    return claimed[0]


async def _ids(
    backend: QueueBackend, clock: ManualClock, limit: int = 100, queues: list[str] | None = None
) -> list:  # type: ignore[type-arg]
    claimed = await backend.claim(
        queues=queues, worker_id="w", limit=limit, now=clock.now(), lease_until=clock.later(30)
    )
    return [r.id for r in claimed]


class ClaimSuite(ContractHooks):
    """enqueue, claim and claim_task."""

    @pytest.mark.anyio
    async def test_enqueue_stores_record_as_given(self) -> None:
        """Enqueue stores the record; get returns it field for field."""
        clock = ManualClock()
        record = make_record(
            clock.now(),
            queue="mail",
            priority=3,
            key="k",
            limit_key="customer:42",
            max_retries=2,
            max_reclaims=1,
            args=[1, "two", {"three": [3.5, None, True]}],
            kwargs={"x": "ü"},
            metadata={"m": 1},
        )
        async with self.opened_backend() as backend:
            stored = await enqueue_one(backend, record)
            expect_equal(stored, record, "stored as given", "the returned record")
            expect_equal(await backend.get(record.id), record, "stored as given", "get(id)")

    @pytest.mark.anyio
    async def test_enqueue_batch_keeps_order(self) -> None:
        """A batch is stored in order: results and claim order follow it."""
        clock = ManualClock()
        batch = [make_record(clock.now(), args=[i]) for i in range(5)]
        async with self.opened_backend() as backend:
            results = await backend.enqueue(batch)
            expect_equal([r.record.id for r in results], [r.id for r in batch], "enqueue", "result order")
            expect(all(r.created for r in results), "enqueue", "every record is created")
            expect_equal(await _ids(backend, clock), [r.id for r in batch], "claim order", "claimed ids")

    @pytest.mark.anyio
    async def test_enqueue_dedup_returns_active_holder(self) -> None:
        """A key held by a pending, then running record is not stored again."""
        clock = ManualClock()
        first = make_record(clock.now(), key="report:1")
        async with self.opened_backend() as backend:
            await enqueue_one(backend, first)
            (dup,) = await backend.enqueue([make_record(clock.now(), key="report:1")])
            expect(not dup.created, "at most one active record per dedup key", "a duplicate was created")
            expect_equal(dup.record.id, first.id, "dedup", "the returned holder")
            await claim_one(backend, clock)
            (dup,) = await backend.enqueue([make_record(clock.now(), key="report:1")])
            expect(not dup.created, "at most one active record per dedup key", "a running holder was ignored")
            expect_equal(dup.record.status, "running", "dedup", "status of the returned holder")
            expect_equal(await backend.counts(), {"default": {"running": 1}}, "counts", "counts()")

    @pytest.mark.anyio
    async def test_enqueue_dedup_within_one_batch(self) -> None:
        """The second record of a batch with the same key gets the first one back."""
        clock = ManualClock()
        a, b, c = (make_record(clock.now(), key=k) for k in ("same", "same", "other"))
        async with self.opened_backend() as backend:
            results = await backend.enqueue([a, b, c])
            expect_equal([r.created for r in results], [True, False, True], "dedup", "created flags")
            expect_equal(results[1].record.id, a.id, "dedup", "the holder returned for the duplicate")

    @pytest.mark.anyio
    async def test_enqueue_dedup_key_freed_when_terminal(self) -> None:
        """A key is free again once its record completed or was cancelled."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            first = await enqueue_one(backend, make_record(clock.now(), key="k"))
            claimed = await claim_one(backend, clock)
            assert claimed.lease_id is not None
            await backend.finish(
                [Outcome(task_id=first.id, lease_id=claimed.lease_id, kind="complete")], now=clock.now()
            )
            second = await enqueue_one(backend, make_record(clock.now(), key="k"))
            await backend.cancel(second.id, now=clock.now())
            third = await enqueue_one(backend, make_record(clock.now(), key="k"))
            expect(third.id not in (first.id, second.id), "dedup", "a fresh record holds the key")

    @pytest.mark.anyio
    async def test_claim_marks_running(self) -> None:
        """A claimed record is running under a fresh lease, with counters moved."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            record = await enqueue_one(backend, make_record(clock.now(), max_retries=1))
            clock.advance(2)
            claimed = await claim_one(backend, clock, worker="worker-a", lease=15)
            expect_equal(claimed.id, record.id, "claim", "claimed id")
            expect_equal(claimed.status, "running", "claim", "status")
            expect_equal((claimed.attempts, claimed.runs), (1, 1), "claim", "(attempts, runs)")
            expect_equal(claimed.worker_id, "worker-a", "claim", "worker_id")
            expect_equal(claimed.started_at, clock.now(), "claim", "started_at")
            expect_equal(claimed.lease_expires_at, clock.later(15), "claim", "lease_expires_at")
            expect(bool(claimed.lease_id), "claim", "no lease_id")
            expect_equal(await backend.get(record.id), claimed, "claim", "get() after claim")
            again = await backend.claim(
                queues=None, worker_id="b", limit=5, now=clock.now(), lease_until=clock.later(5)
            )
            expect_equal(list(again), [], "no task held by two workers", "a second claim")

    @pytest.mark.anyio
    async def test_claim_priority_then_enqueue_order(self) -> None:
        """Higher priority first, then enqueue order, across queues."""
        clock = ManualClock()
        priorities = [0, 5, -1, 5, 0, 10, -1]
        records = [
            make_record(clock.now(), priority=p, queue=("a", "b")[i % 2]) for i, p in enumerate(priorities)
        ]
        expected = [r.id for r in sorted(records, key=lambda r: -r.priority)]  # sort is stable
        async with self.opened_backend() as backend:
            for record in records:
                await enqueue_one(backend, record)
            got = (await _ids(backend, clock, limit=3)) + (await _ids(backend, clock, limit=10))
            expect_equal(got, expected, "claim order (priority, then enqueue order)", "claimed ids")

    @pytest.mark.anyio
    async def test_claim_respects_limit_and_queues(self) -> None:
        """Limit caps the claim; queues filters it (None means every queue)."""
        clock = ManualClock()
        records = [make_record(clock.now(), queue=q) for q in ("a", "b", "a", "c", "a")]
        async with self.opened_backend() as backend:
            await backend.enqueue(records)
            expect_equal(
                await _ids(backend, clock, limit=2, queues=["a"]),
                [records[0].id, records[2].id],
                "claim",
                "limit 2 on a",
            )
            expect_equal(
                await _ids(backend, clock, queues=["b", "zzz"]),
                [records[1].id],
                "claim queue filter",
                "ids on b",
            )
            expect_equal(await _ids(backend, clock, limit=0), [], "claim", "limit 0")
            expect_equal(
                await _ids(backend, clock), [records[3].id, records[4].id], "claim", "ids on every queue"
            )
            expect_equal(await _ids(backend, clock), [], "claim", "ids of an empty queue")

    @pytest.mark.anyio
    async def test_claim_waits_for_due_time(self) -> None:
        """A scheduled record is claimed only once run_at <= now (the boundary included)."""
        clock = ManualClock()
        later = make_record(clock.now(), run_at=clock.later(10), priority=5)
        now = make_record(clock.now())
        async with self.opened_backend() as backend:
            await backend.enqueue([later, now])
            expect_equal((await backend.get(later.id)).status, "scheduled", "enqueue", "status")  # type: ignore[union-attr]
            expect_equal(
                await _ids(backend, clock),
                [now.id],
                "a delayed task is never claimed before it is due",
                "ids",
            )
            clock.advance(9.999)
            expect_equal(
                await _ids(backend, clock), [], "a delayed task is never claimed before it is due", "ids"
            )
            clock.advance(0.001)
            expect_equal(await _ids(backend, clock), [later.id], "claim", "ids once due")

    @pytest.mark.anyio
    async def test_requeued_record_keeps_its_position(self) -> None:
        """A retried or released record keeps its original enqueue position."""
        clock = ManualClock()
        first, second = make_record(clock.now(), max_retries=3), make_record(clock.now())
        async with self.opened_backend() as backend:
            await enqueue_one(backend, first)
            claimed = await claim_one(backend, clock)
            await enqueue_one(backend, second)
            assert claimed.lease_id is not None
            outcome = Outcome(
                task_id=first.id, lease_id=claimed.lease_id, kind="retry", error="x", run_at=clock.now()
            )
            await backend.finish([outcome], now=clock.now())
            expect_equal(
                await _ids(backend, clock),
                [first.id, second.id],
                "claim order (priority, then enqueue order)",
                "ids",
            )

    @pytest.mark.anyio
    async def test_claim_task_by_id(self) -> None:
        """claim_task takes a pending or scheduled record (due or not), nothing else."""
        clock = ManualClock()
        scheduled = make_record(clock.now(), run_at=clock.later(60))
        pending = make_record(clock.now())
        done = make_record(clock.now())
        async with self.opened_backend() as backend:
            await backend.enqueue([scheduled, pending, done])
            got = await backend.claim_task(
                scheduled.id, worker_id="w", now=clock.now(), lease_until=clock.later(5)
            )
            expect(got is not None and got.status == "running", "claim_task", f"scheduled record: {got!r}")
            assert got is not None
            expect_equal(
                (got.attempts, got.runs, got.worker_id), (1, 1, "w"), "claim_task", "(attempts, runs, worker)"
            )
            again = await backend.claim_task(
                scheduled.id, worker_id="x", now=clock.now(), lease_until=clock.later(5)
            )
            expect(again is None, "no task held by two workers", "claim_task took a running record")
            lease = await backend.claim_task(
                done.id, worker_id="w", now=clock.now(), lease_until=clock.later(5)
            )
            assert lease is not None and lease.lease_id is not None
            await backend.finish(
                [Outcome(task_id=done.id, lease_id=lease.lease_id, kind="complete")], now=clock.now()
            )
            terminal = await backend.claim_task(
                done.id, worker_id="w", now=clock.now(), lease_until=clock.later(5)
            )
            expect(terminal is None, "a terminal record never changes", "claim_task took a completed record")
            unknown = await backend.claim_task(
                make_record(clock.now()).id, worker_id="w", now=clock.now(), lease_until=clock.later(5)
            )
            expect(unknown is None, "claim_task", "an unknown id was claimed")
            expect_equal(await _ids(backend, clock), [pending.id], "claim", "what is left to claim")
