"""Example-based contract tests: schedule states (advance_schedule, set_schedule_paused, delete_schedule)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import msgspec
import pytest

from litestar_queues.models import RecordQuery, ScheduleState
from litestar_queues.testing._base import ContractHooks
from litestar_queues.testing._check import expect, expect_equal, make_record, schedule_key
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._suite_claim import claim_one, enqueue_one

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.models import TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("ScheduleSuite",)

_CAS = "advance_schedule is a compare-and-set"


def _fire(clock: ManualClock, name: str, due: datetime, scheduler: str = "s1") -> TaskRecord:
    """The record a scheduler enqueues when ``name`` fires at ``due``."""
    return make_record(
        clock.now(),
        key=schedule_key(name, due),
        run_at=due,
        task_name=f"schedule.{name}",
        metadata={"scheduler": scheduler},
    )


async def _create(backend: QueueBackend, clock: ManualClock, name: str, first: datetime) -> ScheduleState:
    state = await backend.advance_schedule(name, expected=None, next_fire=first, record=None, now=clock.now())
    expect(
        state is not None, "advance_schedule", f"creating the state of {name!r} (expected=None) was refused"
    )
    assert state is not None
    return state


async def _stored_ids(backend: QueueBackend) -> list[UUID]:
    return [record.id for record in await backend.query(RecordQuery(limit=100))]


class ScheduleSuite(ContractHooks):
    """schedule_states, advance_schedule, set_schedule_paused, delete_schedule."""

    @pytest.mark.anyio
    async def test_advance_schedule_creates_a_state_once(self) -> None:
        """``expected=None`` creates a missing state (not paused, never fired), and only then."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            expect_equal(
                list(await backend.schedule_states()), [], "schedule_states", "states of a new backend"
            )
            nightly = await _create(backend, clock, "nightly", clock.later(60))
            expect_equal(
                nightly,
                ScheduleState(name="nightly", next_fire=clock.later(60), updated_at=clock.now()),
                "advance_schedule",
                "the created state",
            )
            clock.advance(1)
            again = await backend.advance_schedule(
                "nightly", expected=None, next_fire=clock.later(120), record=None, now=clock.now()
            )
            expect(
                again is None, _CAS, f"a second create (expected=None) of a stored state returned {again!r}"
            )
            hourly = await _create(backend, clock, "hourly", clock.later(5))
            expect_equal(
                list(await backend.schedule_states()),
                [hourly, nightly],
                "schedule_states",
                "every state, sorted by name",
            )

    @pytest.mark.anyio
    async def test_a_fire_enqueues_its_record_and_a_skip_keeps_the_last_fire(self) -> None:
        """A fire moves ``next_fire``, queues the record and notes it; a skip moves ``next_fire`` only."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            due = clock.now()
            await _create(backend, clock, "nightly", due)
            clock.advance(2)
            record, following = _fire(clock, "nightly", due), clock.later(86_400)
            fired = await backend.advance_schedule(
                "nightly", expected=due, next_fire=following, record=record, now=clock.now()
            )
            expected = ScheduleState(
                name="nightly",
                next_fire=following,
                last_fire=due,
                last_task_id=record.id,
                updated_at=clock.now(),
            )
            expect_equal(fired, expected, "advance_schedule", "the state after a fire")
            claimed = await claim_one(backend, clock)
            expect_equal(claimed.id, record.id, "advance_schedule", "the record claimed after a fire")
            expect_equal(claimed.key, record.key, "stored as given", "key of the fired record")
            clock.advance(1)
            skipped = await backend.advance_schedule(
                "nightly", expected=following, next_fire=clock.later(172_800), record=None, now=clock.now()
            )
            expected = msgspec.structs.replace(
                expected, next_fire=clock.later(172_800), updated_at=clock.now()
            )
            expect_equal(skipped, expected, "advance_schedule", "the state after a skip (last fire kept)")
            expect_equal(list(await backend.schedule_states()), [expected], "schedule_states", "states")

    @pytest.mark.anyio
    async def test_a_stale_expected_due_time_is_refused_and_stores_nothing(self) -> None:
        """An advance from a due time the schedule no longer has (or never had) changes nothing."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            first = clock.now()
            await _create(backend, clock, "nightly", first)
            moved = await backend.advance_schedule(  # a skip: the key of the first due time stays free
                "nightly", expected=first, next_fire=clock.later(60), record=None, now=clock.now()
            )
            clock.advance(1)
            late = _fire(clock, "nightly", first, scheduler="late")
            refused = await backend.advance_schedule(
                "nightly", expected=first, next_fire=clock.later(120), record=late, now=clock.now()
            )
            expect(
                refused is None,
                _CAS,
                f"an advance from a due time the schedule left was applied: {refused!r}",
            )
            unknown = _fire(clock, "weekly", first)
            refused = await backend.advance_schedule(
                "weekly", expected=first, next_fire=clock.later(120), record=unknown, now=clock.now()
            )
            expect(
                refused is None, _CAS, f"an advance of a schedule without a state was applied: {refused!r}"
            )
            expect_equal(await _stored_ids(backend), [], "a refused advance stores nothing", "records stored")
            expect_equal(
                list(await backend.schedule_states()), [moved], "a refused advance changes nothing", "states"
            )

    @pytest.mark.anyio
    async def test_racing_schedulers_fire_a_due_time_once(self) -> None:
        """Ten schedulers advancing from one due time at once: one gets the state, one record is stored."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            due = clock.now()
            await _create(backend, clock, "nightly", due)
            following = clock.later(60)
            records = [_fire(clock, "nightly", due, scheduler=f"s{n}") for n in range(10)]
            results: list[ScheduleState | None] = [None] * len(records)

            async def advance(n: int) -> None:
                results[n] = await backend.advance_schedule(
                    "nightly", expected=due, next_fire=following, record=records[n], now=clock.now()
                )

            async with anyio.create_task_group() as group:
                for n in range(len(records)):
                    group.start_soon(advance, n)
            winners = [n for n, state in enumerate(results) if state is not None]
            expect_equal(len(winners), 1, _CAS, f"schedulers that won the race ({winners})")
            won = results[winners[0]]
            assert won is not None
            expect_equal(
                won.last_task_id, records[winners[0]].id, "advance_schedule", "last_task_id of the winner"
            )
            expect_equal(
                await _stored_ids(backend), [won.last_task_id], "one record per due time", "records stored"
            )
            expect_equal(
                list(await backend.schedule_states()), [won], "advance_schedule", "states after the race"
            )

    @pytest.mark.anyio
    async def test_advance_keeps_the_paused_flag(self) -> None:
        """Pausing is stored; an advance keeps it; resuming keeps the due times; an unknown name gets none."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            due = clock.now()
            created = await _create(backend, clock, "nightly", due)
            ghost = await backend.set_schedule_paused("weekly", paused=True, now=clock.now())
            expect(
                ghost is None, "set_schedule_paused", f"pausing a schedule without a state returned {ghost!r}"
            )
            expect_equal(list(await backend.schedule_states()), [created], "set_schedule_paused", "states")
            clock.advance(1)
            paused = await backend.set_schedule_paused("nightly", paused=True, now=clock.now())
            expected = msgspec.structs.replace(created, paused=True, updated_at=clock.now())
            expect_equal(paused, expected, "set_schedule_paused", "the paused state")
            clock.advance(1)
            record = _fire(clock, "nightly", due)
            advanced = await backend.advance_schedule(
                "nightly", expected=due, next_fire=clock.later(60), record=record, now=clock.now()
            )
            expect(
                advanced is not None and advanced.paused,
                "advance_schedule keeps the paused flag",
                f"state after advancing a paused schedule: {advanced!r}",
            )
            assert advanced is not None
            clock.advance(1)
            resumed = await backend.set_schedule_paused("nightly", paused=False, now=clock.now())
            expected = msgspec.structs.replace(advanced, paused=False, updated_at=clock.now())
            expect_equal(resumed, expected, "set_schedule_paused", "the resumed state (due times kept)")
            expect_equal(list(await backend.schedule_states()), [expected], "set_schedule_paused", "states")

    @pytest.mark.anyio
    async def test_deleting_a_schedule_keeps_its_records(self) -> None:
        """A deleted state is gone (its records stay) and can only be created afresh."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            due = clock.now()
            await _create(backend, clock, "nightly", due)
            hourly = await _create(backend, clock, "hourly", clock.later(5))
            record, following = _fire(clock, "nightly", due), clock.later(60)
            await backend.advance_schedule(
                "nightly", expected=due, next_fire=following, record=record, now=clock.now()
            )
            expect(
                await backend.delete_schedule("nightly"),
                "delete_schedule",
                "deleting a stored state returned False",
            )
            expect(
                not await backend.delete_schedule("nightly"),
                "delete_schedule",
                "a second delete returned True",
            )
            expect_equal(
                list(await backend.schedule_states()), [hourly], "delete_schedule", "states after a delete"
            )
            expect(
                await backend.get(record.id) is not None,
                "delete_schedule",
                "a deleted schedule's record is gone",
            )
            clock.advance(1)
            stale = await backend.advance_schedule(
                "nightly", expected=following, next_fire=clock.later(60), record=None, now=clock.now()
            )
            expect(stale is None, _CAS, f"a deleted schedule was advanced: {stale!r}")
            fresh = await _create(backend, clock, "nightly", clock.later(60))
            expect_equal(
                fresh,
                ScheduleState(name="nightly", next_fire=clock.later(60), updated_at=clock.now()),
                "delete_schedule",
                "a state created again after a delete (nothing of the old one kept)",
            )

    @pytest.mark.anyio
    async def test_a_fire_whose_key_is_held_notes_the_holder(self) -> None:
        """When an active record holds the fire's dedup key, it is not stored and the holder's id is noted."""
        clock = ManualClock()
        async with self.opened_backend() as backend:
            due = clock.now()
            await _create(backend, clock, "nightly", due)
            holder = await enqueue_one(backend, make_record(clock.now(), key=schedule_key("nightly", due)))
            record = _fire(clock, "nightly", due)
            state = await backend.advance_schedule(
                "nightly", expected=due, next_fire=clock.later(60), record=record, now=clock.now()
            )
            expect(state is not None, "advance_schedule", "a fire whose key is held was refused")
            assert state is not None
            expect_equal(
                state.last_task_id,
                holder.id,
                "advance_schedule enqueues by the enqueue rules",
                "last_task_id",
            )
            expect_equal(state.last_fire, due, "advance_schedule", "last_fire")
            expect_equal(await _stored_ids(backend), [holder.id], "advance_schedule", "records stored")
