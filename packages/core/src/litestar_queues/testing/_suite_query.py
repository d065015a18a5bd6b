"""Example-based contract tests: query with keyset pages, requeue, and the attempt history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec
import pytest

from litestar_queues.models import AttemptRecord, Outcome, QueryPosition, RecordQuery
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one

if TYPE_CHECKING:
    from litestar_queues.models import TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("QuerySuite", "finish_one")


async def _page_through(backend: QueueBackend, query: RecordQuery) -> list[TaskRecord]:
    """Every record of ``query``, page by page (the query's limit is the page size)."""
    found: list[TaskRecord] = []
    while True:
        page = list(await backend.query(query))
        expect(len(page) <= query.limit, "query", f"a page of limit {query.limit} held {len(page)} records")
        again = {r.id for r in page} & {r.id for r in found}  # else a stuck position reads forever
        expect(not again, "query", f"records {again} listed again on a later page")
        found.extend(page)
        if len(page) < query.limit:
            return found
        query = msgspec.structs.replace(query, after=QueryPosition.of(page[-1]))


async def finish_one(backend: QueueBackend, clock: ManualClock, kind: str, **fields: object) -> TaskRecord:
    claimed = await claim_one(backend, clock)
    assert claimed.lease_id is not None
    outcome = Outcome(task_id=claimed.id, lease_id=claimed.lease_id, kind=kind, **fields)  # type: ignore[arg-type]
    (applied,) = await backend.finish([outcome], now=clock.now())
    expect(applied is not None, "finish", f"{kind} under a live lease was rejected")
    assert applied is not None
    return applied


class QuerySuite(ContractHooks):
    """query, requeue, history."""

    @pytest.mark.anyio
    async def test_query_orders_by_creation_then_id_in_both_directions(self) -> None:
        """Records come newest first (or oldest first) by ``(created_at, id)``, ties broken by id."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            stored = []
            for step in range(6):
                stored.append(await enqueue_one(backend, make_record(clock.now())))
                if step % 2:
                    clock.advance(1)  # pairs share a created_at: the id breaks the tie
            oldest = sorted(stored, key=lambda r: (r.created_at, r.id.bytes))
            newest = [r.id for r in await backend.query(RecordQuery(limit=10))]
            expect_equal(newest, [r.id for r in reversed(oldest)], "query", "newest-first order")
            ascending = [r.id for r in await backend.query(RecordQuery(newest_first=False, limit=10))]
            expect_equal(ascending, [r.id for r in oldest], "query", "oldest-first order")

    @pytest.mark.anyio
    async def test_query_filters_combine(self) -> None:
        """Queue, status, task name, key and time bounds all apply together."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            first = make_record(clock.now(), queue="a", task_name="t.one", key="k1")
            early = await enqueue_one(backend, first)
            clock.advance(10)
            await enqueue_one(backend, make_record(clock.now(), queue="b", task_name="t.two"))
            clock.advance(5)
            middle = clock.now()
            clock.advance(5)
            late = await enqueue_one(backend, make_record(clock.now(), queue="a", task_name="t.two"))
            done = await finish_one(backend, clock, "complete", result=1)  # the earliest due: `early`
            expect_equal(done.id, early.id, "claim", "the first record claimed")

            async def ids(**filters: object) -> set[uuid.UUID]:
                return {r.id for r in await backend.query(RecordQuery(limit=50, **filters))}  # type: ignore[arg-type]

            expect_equal(await ids(queues=("a",)), {early.id, late.id}, "query", "queues filter")
            expect_equal(await ids(statuses=("completed",)), {early.id}, "query", "statuses filter")
            both = await ids(task_names=("t.two",), queues=("a",))
            expect_equal(both, {late.id}, "query", "combined filters")
            expect_equal(await ids(key="k1"), {early.id}, "query", "key filter")
            expect_equal(await ids(created_after=middle), {late.id}, "query", "created_after (inclusive)")
            before = await ids(created_before=middle, queues=("a",))
            expect_equal(before, {early.id}, "query", "created_before")
            expect_equal(await ids(finished_after=early.created_at), {early.id}, "query", "finished_after")
            expect_equal(
                await ids(finished_before=clock.now() + timedelta(seconds=1), statuses=("pending",)),
                set(),
                "query",
                "finished bounds never match unfinished records",
            )

    @pytest.mark.anyio
    async def test_pages_miss_nothing_and_repeat_nothing_while_records_change(self) -> None:
        """Keyset pages return every record matching throughout exactly once, despite changes."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            stored = []
            for _ in range(23):
                stored.append(await enqueue_one(backend, make_record(clock.now())))
                clock.advance(0.5)
            query = RecordQuery(limit=5, newest_first=False)
            seen: list[uuid.UUID] = []
            page = list(await backend.query(query))
            while page:
                twice = {r.id for r in page} & set(seen)  # checked here: a stuck position loops
                expect(not twice, "query", f"a record was returned on two pages: {twice}")
                seen.extend(r.id for r in page)
                # checked per page: a backend that repeats a record would otherwise page forever
                expect(len(seen) == len(set(seen)), "query", "a record was returned on two pages")
                # between pages: new records arrive and earlier ones finish
                await enqueue_one(backend, make_record(clock.now()))
                await finish_one(backend, clock, "complete")
                query = RecordQuery(limit=5, newest_first=False, after=QueryPosition.of(page[-1]))
                page = list(await backend.query(query))
            expect(len(seen) == len(set(seen)), "query", "a record was returned twice on one page")
            missing = {r.id for r in stored} - set(seen)
            expect(not missing, "query", f"records present throughout were never returned: {missing}")

    @pytest.mark.anyio
    async def test_requeue_puts_a_failed_record_back_once(self) -> None:
        """requeue: failed or cancelled becomes pending with counters reset; a second call changes nothing."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            stored = await enqueue_one(backend, make_record(clock.now(), key="k"))
            failed = await finish_one(backend, clock, "fail", error="boom")
            clock.advance(5)
            again = await backend.requeue(stored.id, now=clock.now())
            assert again is not None
            expect_equal(again.status, "pending", "requeue", "status after requeue of a failed record")
            expect_equal(
                (again.attempts, again.reclaims, again.runs, again.finished_at, again.run_at),
                (0, 0, failed.runs, None, clock.now()),
                "requeue",
                "(attempts, reclaims, runs, finished_at, run_at)",
            )
            expect_equal(again.error, "boom", "requeue", "error kept")
            twice = await backend.requeue(stored.id, now=clock.later(5))
            expect_equal(twice, again, "requeue", "a second requeue of a pending record")
            (dup,) = await backend.enqueue([make_record(clock.now(), key="k")])
            holds = not dup.created and dup.record.id == stored.id
            expect(holds, "requeue", "the requeued record holds its key")
            expect(await backend.requeue(uuid.uuid4(), now=clock.now()) is None, "requeue", "unknown id")

    @pytest.mark.anyio
    async def test_requeue_leaves_other_statuses_and_held_keys_alone(self) -> None:
        """Requeue changes nothing for completed, active, or key-blocked records."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            first = await enqueue_one(backend, make_record(clock.now(), key="k"))
            done = await finish_one(backend, clock, "fail", error="boom")
            holder = await enqueue_one(backend, make_record(clock.now(), key="k"))
            blocked = await backend.requeue(first.id, now=clock.now())
            expect_equal(blocked, done, "requeue", "a record whose key another active record holds")
            unchanged = await backend.requeue(holder.id, now=clock.now())
            expect_equal(unchanged, holder, "requeue", "a pending record")
            await enqueue_one(backend, make_record(clock.now()))
            clock.advance(1)
            for _ in range(2):  # the holder, then the new one: both complete
                completed = await finish_one(backend, clock, "complete", result=1)
            again = await backend.requeue(completed.id, now=clock.now())
            expect_equal(again, completed, "requeue", "a completed record")

    @pytest.mark.anyio
    async def test_history_is_stored_with_each_outcome(self) -> None:
        """An outcome's history is stored as given and read back by get and query."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            stored = await enqueue_one(backend, make_record(clock.now(), max_retries=1))
            entry = AttemptRecord(
                run=1,
                worker_id="w1",
                started_at=clock.now(),
                finished_at=clock.now(),
                verdict="retried",
                error="ValueError: boom",
                traceback="Traceback (most recent call last):\n  ...\nValueError: boom\n",
            )
            await finish_one(backend, clock, "retry", error="ValueError: boom", history=[entry])
            got = await backend.get(stored.id)
            assert got is not None
            expect_equal(got.history, [entry], "finish", "history stored with a retry")
            (listed,) = await backend.query(RecordQuery(limit=5))
            expect_equal(listed.history, [entry], "query", "history returned by query")
            second = AttemptRecord(run=2, worker_id="w1", finished_at=clock.now(), verdict="completed")
            await finish_one(backend, clock, "complete", history=[entry, second])
            got = await backend.get(stored.id)
            assert got is not None
            expect_equal(got.history, [entry, second], "finish", "history replaced by the next outcome")
            third = await _finish_without_history(backend, clock)
            expect_equal(third.history, [], "finish", "an outcome without history leaves it as it is")


async def _finish_without_history(backend: QueueBackend, clock: ManualClock) -> TaskRecord:
    await enqueue_one(backend, make_record(clock.now()))
    return await finish_one(backend, clock, "complete")
