"""Example-based contract tests: delete (purge and retention), pause / resume, duty turns."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues.models import RecordQuery
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one
from litestar_queues.testing._suite_query import finish_one

if TYPE_CHECKING:
    from litestar_queues.models import TaskStatus
    from litestar_queues.ports import QueueBackend

__all__ = ("UpkeepSuite",)

_FINISHED: tuple[TaskStatus, ...] = ("completed", "failed", "cancelled")


async def _claim_all(backend: QueueBackend, clock: ManualClock, queues: list[str] | None = None) -> list[str]:
    claimed = await backend.claim(
        queues=queues, worker_id="w", limit=100, now=clock.now(), lease_until=clock.later(30)
    )
    return [record.queue for record in claimed]


class UpkeepSuite(ContractHooks):
    """delete, set_paused / paused_queues, take_turn."""

    @pytest.mark.anyio
    async def test_delete_removes_what_query_lists_and_nothing_else(self) -> None:
        """``delete`` takes the query's filters, order and limit; the rest stays."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            done = []
            for _ in range(4):
                await enqueue_one(backend, make_record(clock.now()))
                done.append(await finish_one(backend, clock, "complete", result=1))
                clock.advance(1)
            failed = await enqueue_one(backend, make_record(clock.now(), queue="other"))
            failed = await finish_one(backend, clock, "fail", error="boom")
            waiting = await enqueue_one(backend, make_record(clock.now()))
            query = RecordQuery(statuses=("completed",), newest_first=False, limit=3)
            expected = [r.id for r in await backend.query(query)]
            deleted = list(await backend.delete(query))
            expect_equal(deleted, expected, "delete", "ids deleted (the query's first page, in order)")
            expect_equal(deleted, [r.id for r in done[:3]], "delete", "the three oldest completed records")
            for task_id in deleted:
                expect(await backend.get(task_id) is None, "delete", f"deleted {task_id} can still be loaded")
            for kept in (done[3], failed, waiting):
                expect(await backend.get(kept.id) is not None, "delete", f"{kept.status} {kept.id} was lost")
            counts = await backend.counts()
            expect_equal(counts.get("default", {}).get("completed", 0), 1, "delete", "completed count")
            expect_equal(await backend.delete(query), [done[3].id], "delete", "the next call takes the rest")
            expect_equal(await backend.delete(query), [], "delete", "nothing left to delete")

    @pytest.mark.anyio
    async def test_delete_by_finish_time_keeps_newer_records(self) -> None:
        """A retention sweep (``finished_before``) removes only records finished earlier."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            old = await finish_one(backend, clock, "complete", result=None)
            clock.advance(3600)
            await enqueue_one(backend, make_record(clock.now() - timedelta(hours=2)))
            recent = await finish_one(backend, clock, "complete", result=None)
            cutoff = clock.now() - timedelta(minutes=30)
            query = RecordQuery(
                statuses=_FINISHED,
                finished_before=cutoff,
                created_before=cutoff,
                newest_first=False,
                limit=10,
            )
            expect_equal(
                list(await backend.delete(query)), [old.id], "delete", "records finished before the cutoff"
            )
            expect(
                await backend.get(recent.id) is not None,
                "delete",
                "a record finished after the cutoff was lost",
            )

    @pytest.mark.anyio
    async def test_delete_never_removes_running_records(self) -> None:
        """A running record belongs to its worker: delete leaves it even when the filter names it."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            running = await claim_one(backend, clock)
            # a backend may get a filter naming running records from a custom caller
            deleted = list(await backend.delete(RecordQuery(statuses=("running", "pending"), limit=10)))
            expect_equal(deleted, [], "delete", "ids deleted when only a running record matches")
            expect(await backend.get(running.id) is not None, "delete", "a running record was deleted")

    @pytest.mark.anyio
    async def test_deleted_waiting_record_is_never_claimed_and_frees_its_key(self) -> None:
        """A purged pending or scheduled record is gone for claims, and its dedup key is free."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            keyed = await enqueue_one(backend, make_record(clock.now(), key="nightly"))
            later = await enqueue_one(backend, make_record(clock.now(), run_at=clock.later(5)))
            deleted = set(await backend.delete(RecordQuery(statuses=("pending", "scheduled"), limit=10)))
            expect_equal(deleted, {keyed.id, later.id}, "delete", "ids of the purged waiting records")
            clock.advance(10)
            expect_equal(await _claim_all(backend, clock), [], "delete", "queues claimed after a purge")
            (again,) = await backend.enqueue([make_record(clock.now(), key="nightly")])
            expect(again.created, "delete", "the key of a deleted pending record is still taken")

    @pytest.mark.anyio
    async def test_paused_queue_is_not_claimed_until_resumed(self) -> None:
        """Claims skip a paused queue (by name or with every queue), and take it again on resume."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_paused("mail", paused=True)
            await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            await enqueue_one(backend, make_record(clock.now(), queue="default"))
            expect_equal(await backend.paused_queues(), {"mail"}, "set_paused", "paused_queues()")
            expect_equal(await _claim_all(backend, clock), ["default"], "set_paused", "queues claimed")
            expect_equal(
                await _claim_all(backend, clock, ["mail"]), [], "set_paused", "claims of a paused queue"
            )
            await backend.set_paused("mail", paused=True)  # twice: still paused
            await backend.set_paused("mail", paused=False)
            await backend.set_paused("mail", paused=False)  # twice: still running
            expect_equal(await backend.paused_queues(), set(), "set_paused", "paused_queues() after resume")
            expect_equal(
                await _claim_all(backend, clock, ["mail"]), ["mail"], "set_paused", "claims after resume"
            )

    @pytest.mark.anyio
    async def test_paused_queue_takes_enqueues_and_claim_by_id(self) -> None:
        """Pausing keeps records and takes enqueues; ``claim_task`` (a run by id) ignores it."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_paused("default", paused=True)
            stored = await enqueue_one(backend, make_record(clock.now()))
            claimed = await backend.claim_task(
                stored.id, worker_id="w", now=clock.now(), lease_until=clock.later(30)
            )
            expect(
                claimed is not None, "set_paused", "claim_task of a record in a paused queue returned None"
            )

    @pytest.mark.anyio
    async def test_resume_wakes_a_waiting_worker(self) -> None:
        """A worker waiting for work in a paused queue wakes when the queue is resumed."""
        if not self.supports_wait_notifications:
            pytest.skip("the backend polls: wake-ups are not part of its contract")
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.set_paused("mail", paused=True)
            await enqueue_one(backend, make_record(clock.now(), queue="mail"))
            await backend.wait_for_work(["mail"], 0.05)  # drain the enqueue's wake-up
            with anyio.fail_after(self.wait_limit):
                async with anyio.create_task_group() as group:
                    group.start_soon(backend.wait_for_work, ["mail"], self.wait_limit * 2)
                    await anyio.sleep(0.05)
                    await backend.set_paused("mail", paused=False)

    @pytest.mark.anyio
    async def test_take_turn_gives_a_duty_to_one_holder_at_a_time(self) -> None:
        """A live turn is refused to others, renewed for its holder, and free once it ends."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            now = clock.now()
            expect(
                await backend.take_turn("sweep", holder="a", now=now, until=clock.later(10)),
                "take_turn",
                "first",
            )
            refused = await backend.take_turn("sweep", holder="b", now=now, until=clock.later(10))
            expect(not refused, "take_turn", "b got the duty during a's live turn")
            other = await backend.take_turn("other", holder="b", now=now, until=clock.later(10))
            expect(other, "take_turn", "duties are independent: b was refused another duty")
            renewed = await backend.take_turn("sweep", holder="a", now=now, until=clock.later(20))
            expect(renewed, "take_turn", "the holder could not renew its own turn")
            clock.advance(15)
            still = await backend.take_turn("sweep", holder="b", now=clock.now(), until=clock.later(10))
            expect(not still, "take_turn", "a renewed turn ended at its first end")
            clock.advance(5)
            expect(
                await backend.take_turn("sweep", holder="b", now=clock.now(), until=clock.later(10)),
                "take_turn",
                "a turn that ended was not given to the next holder",
            )

    @pytest.mark.anyio
    async def test_take_turn_races_grant_one_holder(self) -> None:
        """Many holders asking at once: exactly one gets the turn."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            now, until = clock.now(), clock.later(10)
            granted: list[str] = []

            async def ask(holder: str) -> None:
                if await backend.take_turn("sweep", holder=holder, now=now, until=until):
                    granted.append(holder)

            async with anyio.create_task_group() as group:
                for n in range(10):
                    group.start_soon(ask, f"h{n}")
            expect_equal(len(granted), 1, "take_turn", f"holders granted at once ({granted})")
