"""Example-based contract tests: ``wait_for_cancel`` reports a running record's cancel to its worker."""

from __future__ import annotations

import anyio
import pytest

from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one

__all__ = ("CancelSignalSuite",)

_PROMPT = 5.0  # seconds a reported cancel may take to arrive (a notification's round trip)


class CancelSignalSuite(ContractHooks):
    """wait_for_cancel."""

    @pytest.mark.anyio
    async def test_a_running_record_s_cancel_reaches_its_worker_at_once(self) -> None:
        """A waiting worker returns with the id as soon as its running record is cancelled."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            await enqueue_one(backend, make_record(clock.now()))
            mine = await claim_one(backend, clock, worker="w1")
            theirs = await claim_one(backend, clock, worker="w2")
            reported: dict[str, set[object]] = {}

            async def wait(worker: str, timeout: float) -> None:
                reported[worker] = set(await backend.wait_for_cancel(worker, timeout))

            with anyio.fail_after(_PROMPT * 3):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(wait, "w1", _PROMPT)
                    tg.start_soon(wait, "w2", 0.5)
                    await anyio.sleep(0.05)  # both wait (a subscription may take a round trip)
                    await backend.cancel(mine.id, now=clock.now())
            expect_equal(reported["w1"], {mine.id}, "wait_for_cancel", "ids reported to the running worker")
            expect(
                theirs.id not in reported["w2"] and mine.id not in reported["w2"],
                "wait_for_cancel",
                f"another worker was told of cancels it did not run: {reported['w2']}",
            )

    @pytest.mark.anyio
    async def test_a_cancel_between_two_waits_is_reported_by_the_next(self) -> None:
        """A cancel made while the worker is not waiting is not lost: the next call returns it."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            await enqueue_one(backend, make_record(clock.now()))
            running = await claim_one(backend, clock, worker="w1")
            expect_equal(await backend.wait_for_cancel("w1", 0.05), set(), "wait_for_cancel", "nothing yet")
            await backend.cancel(running.id, now=clock.now())
            with anyio.fail_after(_PROMPT * 2):
                reported = await backend.wait_for_cancel("w1", _PROMPT)
            expect_equal(reported, {running.id}, "wait_for_cancel", "ids reported after the cancel")

    @pytest.mark.anyio
    async def test_cancels_of_waiting_records_are_not_reported(self) -> None:
        """Only running records have a worker to tell; the call returns empty after its timeout."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            waiting = await enqueue_one(backend, make_record(clock.now()))
            expect_equal(await backend.wait_for_cancel("w1", 0.05), set(), "wait_for_cancel", "nothing yet")
            await backend.cancel(waiting.id, now=clock.now())
            with anyio.fail_after(_PROMPT * 2):
                reported = await backend.wait_for_cancel("w1", 0.3)
            expect_equal(reported, set(), "wait_for_cancel", "ids reported for a waiting record's cancel")
