"""Example-based contract tests: queue limits (caps, key caps, token buckets) in claim and claim_task."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from litestar_queues.limits import QueueLimit
from litestar_queues.models import Outcome
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import enqueue_one

if TYPE_CHECKING:
    from uuid import UUID

    from litestar_queues.models import OutcomeKind, TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("LimitSuite",)


async def _claim(
    backend: QueueBackend, clock: ManualClock, limit: int = 100, queues: list[str] | None = None
) -> list[TaskRecord]:
    claimed = await backend.claim(
        queues=queues, worker_id="w", limit=limit, now=clock.now(), lease_until=clock.later(30)
    )
    return list(claimed)


async def _ids(backend: QueueBackend, clock: ManualClock, **options: object) -> list[UUID]:
    return [record.id for record in await _claim(backend, clock, **options)]  # type: ignore[arg-type]


async def _end(backend: QueueBackend, clock: ManualClock, record: TaskRecord, kind: OutcomeKind) -> None:
    assert record.lease_id is not None
    # a retry is due later: the record waits as scheduled (a release goes back to its place)
    run_at = clock.later(100) if kind == "retry" else None
    outcome = Outcome(task_id=record.id, lease_id=record.lease_id, kind=kind, error="e", run_at=run_at)
    (applied,) = await backend.finish([outcome], now=clock.now())
    expect(applied is not None, "finish", f"a {kind} under a live lease was rejected")


class LimitSuite(ContractHooks):
    """set_limit / limits, and the limits applied by claim and claim_task."""

    @pytest.mark.anyio
    async def test_set_limit_stores_replaces_and_removes_a_limit(self) -> None:
        """``limits()`` lists what ``set_limit`` stored; ``None`` removes it (twice is a no-op)."""
        async with self.opened_backend() as backend:
            expect_equal(await backend.limits(), {}, "set_limit", "limits() of a new store")
            mail = QueueLimit(concurrency=5, rate=60, per=60.0)
            await backend.set_limit("mail", mail)
            await backend.set_limit("imports", QueueLimit(key_concurrency=1))
            expected = {"mail": mail, "imports": QueueLimit(key_concurrency=1)}
            expect_equal(await backend.limits(), expected, "set_limit", "limits()")
            await backend.set_limit("mail", QueueLimit(rate=2, per=0.5))
            expected["mail"] = QueueLimit(rate=2, per=0.5)
            expect_equal(await backend.limits(), expected, "set_limit", "limits() after a change")
            await backend.set_limit("imports", None)
            await backend.set_limit("imports", None)
            await backend.set_limit("never-limited", None)
            expect_equal(
                await backend.limits(), {"mail": expected["mail"]}, "set_limit", "limits() after removal"
            )

    @pytest.mark.anyio
    async def test_concurrency_cap_holds_back_records_until_slots_are_given_back(self) -> None:
        """At most ``concurrency`` run; complete, fail, retry, release, cancel and reclaim give slots back."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("mail", QueueLimit(concurrency=2))
            records = [await enqueue_one(backend, make_record(clock.now(), queue="mail")) for _ in range(8)]
            other = await enqueue_one(backend, make_record(clock.now(), queue="other"))
            first = await _claim(backend, clock)
            expect_equal(
                [r.id for r in first],
                [records[0].id, records[1].id, other.id],
                "concurrency limit",
                "a claim of every queue with room for 100 (mail capped at 2)",
            )
            expect_equal(await _ids(backend, clock), [], "concurrency limit", "a claim while mail runs 2")
            running = first[:2]
            handed: list[UUID] = []
            kinds: tuple[OutcomeKind, ...] = ("complete", "fail", "retry", "release")
            for kind in kinds:
                ended = running.pop(0)
                await _end(backend, clock, ended, kind)
                again = await _claim(backend, clock, queues=["mail"])
                expect_equal(
                    len(again), 1, "concurrency limit", f"records claimed once a {kind} gave a slot back"
                )
                running.extend(again)
                handed.extend(r.id for r in again)
            # the released record went back to its place, ahead of the others: it comes again
            expect_equal(
                handed,
                [records[i].id for i in (2, 3, 4, 3)],
                "a held-back record keeps its place",
                "records claimed as slots came back",
            )
            cancelled = running.pop(0)
            await backend.cancel(cancelled.id, now=clock.now())
            again = await _claim(backend, clock, queues=["mail"])
            expect_equal(
                [r.id for r in again], [records[5].id], "concurrency limit", "claimed after a cancel"
            )
            clock.advance(31)  # both leases expire: a reclaim gives both slots back
            await backend.reclaim_expired(now=clock.now())
            expect_equal(
                len(await _claim(backend, clock, queues=["mail"])),
                2,
                "concurrency limit",
                "records claimed after two expired leases were reclaimed",
            )

    @pytest.mark.anyio
    async def test_a_held_back_record_keeps_its_place(self) -> None:
        """A key cap passes records over; once the key is free they come first, by priority then order."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("imports", QueueLimit(key_concurrency=1))

            def imported(key: str | None, priority: int = 0) -> TaskRecord:
                return make_record(clock.now(), queue="imports", limit_key=key, priority=priority)

            a, b = [await enqueue_one(backend, imported("customer:1")) for _ in range(2)]
            c, d, e = [await enqueue_one(backend, imported(None)) for _ in range(3)]
            claimed = await _claim(backend, clock, limit=2)
            expect_equal(
                [r.id for r in claimed],
                [a.id, c.id],
                "a held-back record keeps its place",
                "a claim of 2 (customer:1's second record held back)",
            )
            f = await enqueue_one(backend, imported("customer:1", priority=5))
            expect_equal(
                await _ids(backend, clock, limit=1),
                [d.id],
                "a held-back record keeps its place",
                "a claim of 1 while customer:1 runs (its records held back)",
            )
            await _end(backend, clock, claimed[0], "complete")
            expect_equal(
                await _ids(backend, clock, limit=1),
                [f.id],
                "a held-back record keeps its place",
                "the first claim after customer:1's record completed (priority 5 first)",
            )
            await _end(backend, clock, (await backend.get(f.id)) or f, "complete")
            expect_equal(
                await _ids(backend, clock, limit=1),
                [b.id],
                "a held-back record keeps its place",
                "the next claim of 1: customer:1's older record, ahead of later ones",
            )
            expect_equal(await _ids(backend, clock), [e.id], "a held-back record keeps its place", "the last")

    @pytest.mark.anyio
    async def test_key_cap_counts_a_key_per_queue_and_leaves_records_without_one(self) -> None:
        """The key cap counts the limit key within its queue; unkeyed records only meet the queue cap."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("a", QueueLimit(concurrency=3, key_concurrency=1))
            keyed = [
                await enqueue_one(backend, make_record(clock.now(), queue=q, limit_key="k"))
                for q in ("a", "a", "b", "b")
            ]
            plain = [await enqueue_one(backend, make_record(clock.now(), queue="a")) for _ in range(3)]
            expect_equal(
                await _ids(backend, clock),
                [keyed[0].id, keyed[2].id, keyed[3].id, plain[0].id, plain[1].id],
                "key concurrency limit",
                "one 'k' in a (capped), both in b (no limit), unkeyed ones up to a's cap of 3",
            )

    @pytest.mark.anyio
    async def test_rate_limit_is_a_token_bucket(self) -> None:
        """``rate`` tokens at first, refilled continuously at ``rate`` per ``per``, never above ``rate``."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("api", QueueLimit(rate=2, per=1.0))
            for _ in range(12):
                await enqueue_one(backend, make_record(clock.now(), queue="api"))

            async def starts(after: float) -> int:
                clock.advance(after)
                return len(await _claim(backend, clock))

            steps = [(0, 2), (0, 0), (0.5, 1), (0.25, 0), (0.25, 1), (10, 2), (0.75, 1), (0.25, 1)]
            for after, expected in steps:
                expect_equal(
                    await starts(after),
                    expected,
                    "rate limit",
                    f"records started {after} s after the previous claim (2 per second, a bucket of 2)",
                )

    @pytest.mark.anyio
    async def test_claim_task_applies_the_queue_limit(self) -> None:
        """A claim by id is held back like a claim (``None``, the record stays) and takes a token."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("mail", QueueLimit(concurrency=1))
            first = await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            second = await enqueue_one(
                backend, make_record(clock.now(), queue="mail", run_at=clock.later(60))
            )

            async def by_id(record: TaskRecord) -> TaskRecord | None:
                return await backend.claim_task(
                    record.id, worker_id="w", now=clock.now(), lease_until=clock.later(30)
                )

            running = await by_id(first)
            expect(running is not None, "claim_task", "the first record of a capped queue was held back")
            expect(await by_id(second) is None, "concurrency limit", "claim_task went past the cap of 1")
            stored = await backend.get(second.id)
            expect(
                stored is not None and stored.status == "scheduled",
                "a held-back record keeps its place",
                f"a record claim_task held back is {stored.status if stored else 'gone'}",
            )
            assert running is not None
            await _end(backend, clock, running, "complete")
            expect(
                await by_id(second) is not None, "concurrency limit", "claim_task after the slot came back"
            )
            await backend.set_limit("api", QueueLimit(rate=1, per=10.0))
            tasks = [await enqueue_one(backend, make_record(clock.now(), queue="api")) for _ in range(2)]
            expect(await by_id(tasks[0]) is not None, "rate limit", "claim_task with a token held it back")
            expect_equal(
                await _ids(backend, clock), [], "rate limit", "a claim after claim_task took the token"
            )
            clock.advance(10)
            expect_equal(await _ids(backend, clock), [tasks[1].id], "rate limit", "a claim once a token came")

    @pytest.mark.anyio
    async def test_a_changed_limit_keeps_the_bucket_and_a_removed_one_frees_the_queue(self) -> None:
        """Changing a rate keeps the bucket's tokens; removing the limit lets everything start."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_limit("api", QueueLimit(rate=2, per=4.0))
            for _ in range(8):
                await enqueue_one(backend, make_record(clock.now(), queue="api"))
            expect_equal(len(await _claim(backend, clock)), 2, "rate limit", "starts with a full bucket of 2")
            await backend.set_limit("api", QueueLimit(rate=2, per=4.0))  # a worker starting: no refill
            await backend.set_limit("api", QueueLimit(rate=4, per=4.0, concurrency=10))
            expect_equal(len(await _claim(backend, clock)), 0, "rate limit", "starts after a rate change")
            clock.advance(2)
            expect_equal(len(await _claim(backend, clock)), 2, "rate limit", "starts 2 s later at 4 per 4 s")
            await backend.set_limit("api", None)
            expect_equal(
                len(await _claim(backend, clock)), 4, "set_limit", "starts once the limit is removed"
            )
