"""Example-based contract tests: extend_leases, finish, reclaim_expired and cancel."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from litestar_queues.models import Outcome
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one

if TYPE_CHECKING:
    from litestar_queues.models import OutcomeKind, TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("LifecycleSuite",)


def _lease(record: TaskRecord) -> str:
    expect(record.lease_id is not None, "claim", f"{record.id} has no lease_id")
    assert record.lease_id is not None
    return record.lease_id


async def _running(backend: QueueBackend, clock: ManualClock, **fields: object) -> TaskRecord:
    record = await enqueue_one(backend, make_record(clock.now(), **fields))  # type: ignore[arg-type]
    claimed = await backend.claim_task(
        record.id, worker_id="w1", now=clock.now(), lease_until=clock.later(30)
    )
    expect(claimed is not None, "claim_task", f"could not claim {record.id}")
    assert claimed is not None
    return claimed


async def _finish_one(backend: QueueBackend, clock: ManualClock, outcome: Outcome) -> TaskRecord | None:
    (result,) = await backend.finish([outcome], now=clock.now())
    return result


class LifecycleSuite(ContractHooks):
    """extend_leases, finish, reclaim_expired and cancel."""

    @pytest.mark.anyio
    async def test_extend_leases(self) -> None:
        """Held leases move to ``until``; lost ones (finished, wrong, cancelled, unknown) are reported."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            held, done, wrong, cancelled = [await _running(backend, clock) for _ in range(4)]
            await backend.finish(
                [Outcome(task_id=done.id, lease_id=_lease(done), kind="complete")], now=clock.now()
            )
            await backend.cancel(cancelled.id, now=clock.now())
            unknown = uuid.uuid4()
            clock.advance(40)  # expired but not reclaimed: still held
            leases = [(r.id, _lease(r)) for r in (held, done, cancelled)] + [
                (wrong.id, "not-the-lease"),
                (unknown, "x"),
            ]
            lost = await backend.extend_leases(leases, until=clock.later(30))
            expect_equal(lost, {done.id, cancelled.id, wrong.id, unknown}, "extend_leases", "lost ids")
            after = await backend.get(held.id)
            assert after is not None
            expect_equal(after.lease_expires_at, clock.later(30), "extend_leases", "lease_expires_at")
            expect_equal(after.lease_id, held.lease_id, "extend_leases", "lease_id")
            expect_equal(
                [r.id for r in await backend.reclaim_expired(now=clock.later(1))],
                [wrong.id],
                "reclaim_expired",
                "records changed (only the one whose lease was never extended)",
            )

    @pytest.mark.anyio
    async def test_finish_each_outcome_kind(self) -> None:
        """complete, fail, retry (later / now) and release move the record as the port says."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            records = [await _running(backend, clock, max_retries=2) for _ in range(5)]
            kinds: list[OutcomeKind] = ["complete", "fail", "retry", "retry", "release"]
            run_ats = [None, None, clock.later(7), clock.now() - timedelta(seconds=1), None]
            outcomes = [
                Outcome(
                    task_id=r.id,
                    lease_id=_lease(r),
                    kind=k,
                    result={"ok": [1]} if k == "complete" else None,
                    error=None if k in ("complete", "release") else f"{k} error",
                    run_at=at,
                )
                for r, k, at in zip(records, kinds, run_ats, strict=True)
            ]
            clock.advance(1)
            done, failed, later, now, released = await backend.finish(outcomes, now=clock.now())
            for got in (done, failed, later, now, released):
                expect(got is not None, "finish", "an outcome under a live lease was rejected")
                assert got is not None
                expect(
                    (got.lease_id, got.lease_expires_at) == (None, None),
                    "lease fields cleared when not running",
                    repr(got),
                )
                expect_equal(await backend.get(got.id), got, "finish", "get() after finish")
            assert done and failed and later and now and released
            expect_equal(
                (done.status, done.result, done.finished_at),
                ("completed", {"ok": [1]}, clock.now()),
                "complete",
                "record",
            )
            expect_equal(
                (failed.status, failed.error, failed.finished_at),
                ("failed", "fail error", clock.now()),
                "fail",
                "record",
            )
            expect_equal(
                (later.status, later.run_at, later.error, later.attempts),
                ("scheduled", run_ats[2], "retry error", 1),
                "retry",
                "record",
            )
            expect_equal((now.status, now.attempts, now.finished_at), ("pending", 1, None), "retry", "record")
            expect_equal(
                (released.status, released.attempts, released.runs), ("pending", 0, 1), "release", "record"
            )

    @pytest.mark.anyio
    async def test_finish_rejects_lost_leases(self) -> None:
        """An outcome under a wrong, finished or reclaimed lease is rejected and changes nothing."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            record = await _running(backend, clock, max_retries=5)
            wrong = Outcome(task_id=record.id, lease_id="nope", kind="complete")
            expect(
                await _finish_one(backend, clock, wrong) is None,
                "finish applies only under the live lease",
                "wrong lease",
            )
            clock.advance(31)
            expect_equal(
                len(await backend.reclaim_expired(now=clock.now())), 1, "reclaim_expired", "records changed"
            )
            late = Outcome(task_id=record.id, lease_id=_lease(record), kind="complete")
            expect(
                await _finish_one(backend, clock, late) is None,
                "finish applies only under the live lease",
                "late completion",
            )
            again = await claim_one(backend, clock, worker="w2")
            expect(again.lease_id != record.lease_id, "claim", "a reclaimed record got its old lease id back")
            expect(
                await _finish_one(backend, clock, late) is None,
                "finish applies only under the live lease",
                "old lease",
            )
            fresh = Outcome(task_id=record.id, lease_id=_lease(again), kind="complete")
            results = await backend.finish([fresh, fresh], now=clock.now())
            expect(
                results[0] is not None and results[1] is None, "finish", f"twice in one batch: {results!r}"
            )
            missing = Outcome(task_id=uuid.uuid4(), lease_id="x", kind="fail", error="e")
            expect(await _finish_one(backend, clock, missing) is None, "finish", "an unknown id was finished")

    @pytest.mark.anyio
    async def test_reclaim_expired(self) -> None:
        """Expired leases go back to pending (attempt not counted); live ones and the boundary stay."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            short = await _running(backend, clock)
            await backend.extend_leases([(short.id, _lease(short))], until=clock.later(5))
            long = await _running(backend, clock)
            clock.advance(5)
            expect_equal(
                list(await backend.reclaim_expired(now=clock.now())), [], "reclaim_expired", "at the boundary"
            )
            clock.advance(0.001)
            (back,) = await backend.reclaim_expired(now=clock.now())
            expect_equal(
                (back.id, back.status, back.attempts, back.runs, back.reclaims),
                (short.id, "pending", 0, 1, 1),
                "reclaim_expired",
                "record",
            )
            expect(
                (back.lease_id, back.lease_expires_at) == (None, None),
                "lease fields cleared when not running",
                repr(back),
            )
            expect(bool(back.error), "reclaim_expired", "no error text explains the reclaim")
            still = await backend.get(long.id)
            expect(
                still is not None and still.status == "running",
                "reclaim_expired",
                "a live lease was reclaimed",
            )
            again = await claim_one(backend, clock, worker="w2")
            expect_equal(
                (again.id, again.attempts, again.runs),
                (short.id, 1, 2),
                "claim",
                "reclaimed record claimed again",
            )

    @pytest.mark.anyio
    async def test_reclaim_fails_past_max_reclaims(self) -> None:
        """Past ``max_reclaims`` expired leases the record fails instead of returning."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            record = await enqueue_one(backend, make_record(clock.now(), max_reclaims=1, key="k"))
            await claim_one(backend, clock)
            clock.advance(31)
            (first,) = await backend.reclaim_expired(now=clock.now())
            expect_equal((first.status, first.reclaims), ("pending", 1), "reclaim_expired", "first reclaim")
            await claim_one(backend, clock)
            clock.advance(31)
            (second,) = await backend.reclaim_expired(now=clock.now())
            expect_equal(
                (second.id, second.status, second.reclaims, second.finished_at),
                (record.id, "failed", 2, clock.now()),
                "max_reclaims",
                "record",
            )
            expect(bool(second.error), "max_reclaims", "no error text")
            expect(
                await enqueue_one(backend, make_record(clock.now(), key="k")) is not None,
                "dedup",
                "key freed",
            )

    @pytest.mark.anyio
    async def test_cancel_each_status(self) -> None:
        """pending, scheduled and running records are cancelled; a running one loses its lease."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            pending = await enqueue_one(backend, make_record(clock.now(), key="p"))
            scheduled = await enqueue_one(backend, make_record(clock.now(), run_at=clock.later(9)))
            running = await _running(backend, clock)
            clock.advance(1)
            for record in (pending, scheduled, running):
                got = await backend.cancel(record.id, now=clock.now())
                expect(got is not None, "cancel", f"cancel of {record.status} returned None")
                assert got is not None
                expect_equal(
                    (got.status, got.finished_at, got.lease_id),
                    ("cancelled", clock.now(), None),
                    "cancel",
                    f"cancelled {record.status} record",
                )
                expect_equal(await backend.get(record.id), got, "cancel", "get() after cancel")
            lost = await backend.extend_leases([(running.id, _lease(running))], until=clock.later(30))
            expect_equal(lost, {running.id}, "cancel", "a cancelled record's lease is still held")
            late = Outcome(task_id=running.id, lease_id=_lease(running), kind="complete")
            expect(
                await _finish_one(backend, clock, late) is None,
                "a terminal record never changes",
                "completion after cancel",
            )
            expect_equal(
                await backend.claim(
                    queues=None, worker_id="w", limit=5, now=clock.later(60), lease_until=clock.later(90)
                ),
                [],
                "cancel",
                "a cancelled record was claimed",
            )
            expect(
                await enqueue_one(backend, make_record(clock.now(), key="p")) is not None,
                "dedup",
                "key freed",
            )

    @pytest.mark.anyio
    async def test_cancel_terminal_and_unknown(self) -> None:
        """A terminal record is returned unchanged; an unknown id gives None."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            done, failed = await _running(backend, clock), await _running(backend, clock)
            cancelled = await enqueue_one(backend, make_record(clock.now()))
            await backend.finish(
                [
                    Outcome(task_id=done.id, lease_id=_lease(done), kind="complete", result=1),
                    Outcome(task_id=failed.id, lease_id=_lease(failed), kind="fail", error="e"),
                ],
                now=clock.now(),
            )
            await backend.cancel(cancelled.id, now=clock.now())
            clock.advance(5)
            for record in (done, failed, cancelled):
                before = await backend.get(record.id)
                after = await backend.cancel(record.id, now=clock.now())
                expect_equal(after, before, "a terminal record never changes", "cancel of a terminal record")
                expect_equal(
                    await backend.get(record.id),
                    before,
                    "a terminal record never changes",
                    "get() after cancel",
                )
            expect(await backend.cancel(uuid.uuid4(), now=clock.now()) is None, "cancel", "unknown id")
