"""Example-based contract tests: get, counts, wait_for_work and wait_for_finish."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, TypeVar

import anyio
import pytest

from litestar_queues.models import Outcome
from litestar_queues.ports import BackendReach
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import (
    ContractViolation,
    check_finished,
    expect,
    expect_equal,
    make_record,
)
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from uuid import UUID

    from litestar_queues.models import TaskRecord

__all__ = ("ReadSuite",)

T = TypeVar("T")

_LONG = 3600.0  # a wait timeout no test ever reaches: the wait must end by a wake-up


class ReadSuite(ContractHooks):
    """get, counts, and the two waits."""

    def _needs_notifications(self) -> None:
        if not self.supports_wait_notifications:
            pytest.skip("the backend declares supports_wait_notifications = False")

    @pytest.mark.anyio
    async def test_declares_its_reach(self) -> None:
        """The backend declares which processes see its records (``reach``, a ``BackendReach``)."""
        async with self.opened_backend() as backend:
            reach = getattr(backend, "reach", None)
            expect(
                isinstance(reach, BackendReach),
                "reach",
                f"reach must be a litestar_queues.ports.BackendReach, got {reach!r}",
            )

    @pytest.mark.anyio
    async def test_get_unknown_is_none(self) -> None:
        """Get of an id never stored returns None."""
        async with self.opened_backend() as backend:
            expect(await backend.get(uuid.uuid4()) is None, "get", "an unknown id returned a record")

    @pytest.mark.anyio
    async def test_counts_per_queue_and_status(self) -> None:
        """Counts groups records by queue and status (zero counts may be left out)."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            expect_equal(
                {q: s for q, s in (await backend.counts()).items() if any(s.values())},
                {},
                "counts",
                "empty counts",
            )
            await backend.enqueue(
                [
                    make_record(clock.now(), queue="a"),
                    make_record(clock.now(), queue="a"),
                    make_record(clock.now(), queue="b", run_at=clock.later(5)),
                    make_record(clock.now(), queue="b"),
                ]
            )
            running = await backend.claim(
                queues=["a"], worker_id="w", limit=1, now=clock.now(), lease_until=clock.later(9)
            )
            b = await backend.claim(
                queues=["b"], worker_id="w", limit=1, now=clock.now(), lease_until=clock.later(9)
            )
            lease = b[0].lease_id
            assert lease is not None
            await backend.finish([Outcome(task_id=b[0].id, lease_id=lease, kind="complete")], now=clock.now())
            await backend.cancel(running[0].id, now=clock.now())
            counts = {q: {s: n for s, n in per.items() if n} for q, per in (await backend.counts()).items()}
            expected = {"a": {"pending": 1, "cancelled": 1}, "b": {"scheduled": 1, "completed": 1}}
            expect_equal(counts, expected, "counts", "counts()")

    @pytest.mark.anyio
    async def test_wait_for_work_times_out(self) -> None:
        """With nothing happening, wait_for_work returns by its timeout."""
        async with self.opened_backend() as backend:
            with anyio.fail_after(self.wait_limit):
                await backend.wait_for_work(None, 0.05)
                await backend.wait_for_work(["default"], 0.05)

    @pytest.mark.anyio
    async def test_wait_for_work_wakes_on_enqueue(self) -> None:
        """A waiter wakes when a record is enqueued."""
        self._needs_notifications()
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await backend.wait_for_work(None, 0.01)  # consume a wake-up left over from open
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._wait, backend.wait_for_work(None, _LONG), "wait_for_work")
                await anyio.sleep(0.05)
                await enqueue_one(backend, make_record(clock.now()))

    @pytest.mark.anyio
    async def test_wait_for_work_latches(self) -> None:
        """A wake-up that arrives while nobody waits is not lost: the next wait returns at once."""
        self._needs_notifications()
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            await self._wait(backend.wait_for_work(None, _LONG), "wait_for_work after an enqueue")
            record = await claim_one(backend, clock)
            assert record.lease_id is not None
            await backend.finish(
                [Outcome(task_id=record.id, lease_id=record.lease_id, kind="release")], now=clock.now()
            )
            await self._wait(backend.wait_for_work(["default"], _LONG), "wait_for_work after a release")

    @pytest.mark.anyio
    async def test_wait_for_finish_returns_when_finished(self) -> None:
        """Waiters wake when a running record completes and when a scheduled one is cancelled.

        What each wait returns is ``None`` or the stored terminal record it waited for.
        """
        self._needs_notifications()
        clock = ManualClock()
        async with self.opened_backend() as backend:
            record = await enqueue_one(backend, make_record(clock.now()))
            other = await enqueue_one(backend, make_record(clock.now(), run_at=clock.later(60)))
            claimed = await claim_one(backend, clock)
            assert claimed.lease_id is not None
            returned: dict[UUID, TaskRecord | None] = {}

            async def wait(task_id: UUID, what: str) -> None:
                returned[task_id] = await self._wait(backend.wait_for_finish(task_id, _LONG), what)

            async with anyio.create_task_group() as tg:
                tg.start_soon(wait, record.id, "wait_for_finish (complete)")
                tg.start_soon(wait, other.id, "wait_for_finish (cancel)")
                await anyio.sleep(0.05)
                await backend.finish(
                    [Outcome(task_id=record.id, lease_id=claimed.lease_id, kind="complete", result=[1, "a"])],
                    now=clock.now(),
                )
                await backend.cancel(other.id, now=clock.now())
            for task_id, got in returned.items():
                check_finished(got, task_id, await backend.get(task_id))

    @pytest.mark.anyio
    async def test_wait_for_finish_when_already_terminal(self) -> None:
        """wait_for_finish on a terminal or unknown record returns at once; on an active one, by its timeout.

        It returns ``None`` for the active and the unknown record, and for the terminal one
        ``None`` or the record as stored.
        """
        clock = ManualClock()
        async with self.opened_backend() as backend:
            record = await enqueue_one(backend, make_record(clock.now()))
            with anyio.fail_after(self.wait_limit):
                active = await backend.wait_for_finish(record.id, 0.05)
            check_finished(active, record.id, await backend.get(record.id))
            await backend.cancel(record.id, now=clock.now())
            done = await self._wait(
                backend.wait_for_finish(record.id, _LONG), "wait_for_finish on a terminal record"
            )
            check_finished(done, record.id, await backend.get(record.id))
            unknown = uuid.uuid4()
            gone = await self._wait(
                backend.wait_for_finish(unknown, _LONG), "wait_for_finish on an unknown id"
            )
            check_finished(gone, unknown, None)

    async def _wait(self, waiting: Awaitable[T], what: str) -> T:
        try:
            with anyio.fail_after(self.wait_limit):
                return await waiting
        except TimeoutError:
            raise ContractViolation(f"wait: {what} did not return within {self.wait_limit} s") from None
