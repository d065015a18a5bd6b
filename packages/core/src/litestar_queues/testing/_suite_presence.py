"""Example-based contract tests of operators' reads: worker presence and finished counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from litestar_queues.models import RecordQuery, WorkerInfo
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one
from litestar_queues.testing._suite_query import finish_one

if TYPE_CHECKING:
    from litestar_queues.ports import QueueBackend

__all__ = ("PresenceSuite", "worker_info")

# microseconds in every time: a backend must keep them
_START = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def worker_info(
    worker_id: str,
    now: datetime,
    *,
    ttl: float = 30.0,
    started_at: datetime | None = None,
    queues: tuple[str, ...] | None = None,
    running: int = 0,
    stopping: bool = False,
    hostname: str = "web-1",
) -> WorkerInfo:
    """A presence as a worker records it at ``now``, live for ``ttl`` seconds."""
    return WorkerInfo(
        worker_id=worker_id,
        hostname=hostname,
        pid=4242,
        queues=queues,
        concurrency=10,
        started_at=now if started_at is None else started_at,
        seen_at=now,
        expires_at=now + timedelta(seconds=ttl),
        running=running,
        stopping=stopping,
    )


async def _live(backend: QueueBackend, clock: ManualClock) -> list[WorkerInfo]:
    return list(await backend.live_workers(now=clock.now()))


def _ids(workers: list[WorkerInfo]) -> list[str]:
    return [w.worker_id for w in workers]


class PresenceSuite(ContractHooks):
    """record_worker / live_workers / forget_worker, finished_counts."""

    @pytest.mark.anyio
    async def test_record_worker_keeps_the_latest_presence_of_each_worker(self) -> None:
        """A second record of the same worker replaces the first; every field comes back as given."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            first = worker_info("w-a", clock.now(), queues=("default", "mail,eu", "ü"), hostname="hôte")
            await backend.record_worker(first)
            other = worker_info("w-b", clock.now() - timedelta(seconds=5), ttl=60)
            await backend.record_worker(other)
            expect_equal(await _live(backend, clock), [other, first], "live_workers", "the two presences")
            clock.advance(10.000001)
            beat = worker_info(
                "w-a", clock.now(), started_at=first.started_at, queues=first.queues, running=3, stopping=True
            )
            await backend.record_worker(beat)
            expect_equal(
                await _live(backend, clock),
                [other, beat],
                "record_worker",
                "the presences after a second beat",
            )

    @pytest.mark.anyio
    async def test_live_workers_are_ordered_by_start_then_id(self) -> None:
        """``(started_at, worker_id)`` order, whatever the order of the records."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            early = clock.now() - timedelta(minutes=5)
            for worker_id, started in (("w-c", clock.now()), ("w-b", early), ("w-a", clock.now())):
                await backend.record_worker(worker_info(worker_id, clock.now(), started_at=started))
            expect_equal(_ids(await _live(backend, clock)), ["w-b", "w-a", "w-c"], "live_workers", "order")

    @pytest.mark.anyio
    async def test_a_presence_is_live_until_it_expires(self) -> None:
        """Listed while ``expires_at > now``; not at ``expires_at`` itself, nor after."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            await backend.record_worker(worker_info("short", clock.now(), ttl=5))
            await backend.record_worker(worker_info("long", clock.now(), ttl=60))
            await backend.record_worker(worker_info("born-expired", clock.now(), ttl=0))
            expect_equal(_ids(await _live(backend, clock)), ["long", "short"], "live_workers", "at first")
            clock.advance(4.999999)
            expect_equal(_ids(await _live(backend, clock)), ["long", "short"], "live_workers", "just before")
            clock.advance(0.000001)
            expect_equal(_ids(await _live(backend, clock)), ["long"], "live_workers", "at the expiry instant")
            # another worker's beat (which may drop expired entries) brings none of them back
            await backend.record_worker(worker_info("late", clock.now(), ttl=60))
            expect_equal(_ids(await _live(backend, clock)), ["long", "late"], "live_workers", "after a beat")

    @pytest.mark.anyio
    async def test_forget_worker_removes_it_at_once(self) -> None:
        """A clean stop: gone at once; forgetting an unknown worker is a no-op; it may come back."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            await backend.record_worker(worker_info("w-a", clock.now()))
            await backend.record_worker(worker_info("w-b", clock.now()))
            await backend.forget_worker("w-a")
            await backend.forget_worker("never-seen")
            expect_equal(_ids(await _live(backend, clock)), ["w-b"], "forget_worker", "the workers left")
            again = worker_info("w-a", clock.later(1))
            await backend.record_worker(again)
            expect(
                again in await _live(backend, clock),
                "record_worker",
                "a forgotten worker could not come back",
            )

    @pytest.mark.anyio
    async def test_finished_counts_count_each_finished_status_since_a_time(self) -> None:
        """Per queue and status, ``finished_at >= since`` (inclusive), no zeros, nothing unfinished."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            await finish_one(backend, clock, "complete", result=1)  # 50 minutes before `since`
            clock.advance(3000)
            since = clock.now()
            await enqueue_one(backend, make_record(clock.now()))
            await finish_one(backend, clock, "complete", result=2)  # at since exactly: counted
            await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            await finish_one(backend, clock, "fail", error="boom")
            cancelled = await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            clock.advance(1)
            await backend.cancel(cancelled.id, now=clock.now())
            await enqueue_one(backend, make_record(clock.now(), queue="mail"))  # pending: not counted
            await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            await claim_one(backend, clock)  # running: not counted
            expect_equal(
                await backend.finished_counts(since=since),
                {"default": {"completed": 1}, "mail": {"failed": 1, "cancelled": 1}},
                "finished_counts",
                "the counts since the second finish",
            )
            expect_equal(
                await backend.finished_counts(since=since - timedelta(hours=1)),
                {"default": {"completed": 2}, "mail": {"failed": 1, "cancelled": 1}},
                "finished_counts",
                "the counts over the last hour and more",
            )
            expect_equal(
                await backend.finished_counts(since=clock.later(0.000001)),
                {},
                "finished_counts",
                "the counts since a time after every finish",
            )

    @pytest.mark.anyio
    async def test_finished_counts_follow_requeue_reclaim_and_delete(self) -> None:
        """A requeued or deleted record no longer counts; a record failed by reclaim counts then."""
        clock = ManualClock(_START)
        async with self.opened_backend() as backend:
            since = clock.now()
            await enqueue_one(backend, make_record(clock.now()))
            failed = await finish_one(backend, clock, "fail", error="boom")
            await enqueue_one(backend, make_record(clock.now()))
            done = await finish_one(backend, clock, "complete", result=None)
            await enqueue_one(backend, make_record(clock.now(), max_reclaims=0))
            await claim_one(backend, clock, lease=5)
            clock.advance(10)
            await backend.reclaim_expired(now=clock.now())  # fails it: max_reclaims 0
            expect_equal(
                await backend.finished_counts(since=since),
                {"default": {"completed": 1, "failed": 2}},
                "finished_counts",
                "the counts with a record failed by reclaim",
            )
            expect_equal(
                await backend.finished_counts(since=clock.now()),
                {"default": {"failed": 1}},
                "finished_counts",
                "the counts since the reclaim (it finished then)",
            )
            await backend.requeue(failed.id, now=clock.now())
            await backend.delete(RecordQuery(statuses=("completed",), limit=10))
            expect(await backend.get(done.id) is None, "delete", "the completed record is still there")
            expect_equal(
                await backend.finished_counts(since=since),
                {"default": {"failed": 1}},
                "finished_counts",
                "the counts after a requeue and a delete",
            )
