"""The public surface of litestar_queues.testing: exports, ManualClock, make_record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import litestar_queues.testing as testing
from litestar_queues import Clock, QueueBackend
from litestar_queues.testing import ContractViolation, ManualClock, QueueBackendContract, make_record


def test_all_is_an_explicit_tuple_of_existing_names() -> None:
    assert isinstance(testing.__all__, tuple)
    assert sorted(testing.__all__) == [
        "ContractViolation",
        "ManualClock",
        "QueueBackendContract",
        "make_record",
    ]
    for name in testing.__all__:
        assert getattr(testing, name) is not None


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock()
    assert isinstance(clock, Clock)
    start = clock.now()
    assert start.tzinfo is not None
    assert clock.now() == start
    assert clock.later(2.5) == start + timedelta(seconds=2.5)
    assert clock.now() == start
    assert clock.advance(1.5) == start + timedelta(seconds=1.5)
    assert clock.now() == start + timedelta(seconds=1.5)
    clock.advance(0)
    assert clock.now() == start + timedelta(seconds=1.5)


def test_manual_clock_rejects_going_back_and_naive_times() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2030, 1, 1))  # naive on purpose
    custom = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert ManualClock(custom).now() == custom


def test_make_record_sets_status_from_due_time() -> None:
    now = ManualClock().now()
    pending = make_record(now, queue="q", priority=3, key="k", max_retries=2)
    assert (pending.status, pending.run_at, pending.created_at) == ("pending", now, now)
    assert (pending.queue, pending.priority, pending.key, pending.max_retries) == ("q", 3, "k", 2)
    assert make_record(now, run_at=now + timedelta(seconds=1)).status == "scheduled"
    assert make_record(now, run_at=now - timedelta(seconds=1)).status == "pending"
    assert make_record(now).id != make_record(now).id


def test_contract_violation_is_an_assertion_error() -> None:
    assert issubclass(ContractViolation, AssertionError)


@pytest.mark.anyio
async def test_make_backend_must_be_defined() -> None:
    class Incomplete(QueueBackendContract):
        pass

    with pytest.raises(NotImplementedError, match="make_backend"):
        await Incomplete().make_backend()


@pytest.mark.anyio
async def test_teardown_runs_even_when_the_test_body_fails() -> None:
    from litestar_queues import MemoryQueueBackend

    torn_down: list[QueueBackend] = []

    class Tracked(QueueBackendContract):
        async def make_backend(self) -> QueueBackend:
            return MemoryQueueBackend()

        async def teardown_backend(self, backend: QueueBackend) -> None:
            torn_down.append(backend)

    with pytest.raises(RuntimeError, match="boom"):
        async with Tracked().opened_backend():
            raise RuntimeError("boom")
    assert len(torn_down) == 1


def test_polling_backends_skip_the_wake_up_tests() -> None:
    class Polling(QueueBackendContract):
        supports_wait_notifications = False

    with pytest.raises(pytest.skip.Exception):
        Polling()._needs_notifications()
