"""The state machine's schedule rules: schedulers advancing, racing, pausing and deleting schedules.

Each schedule's ``next_fire`` values only grow over a run (a deleted schedule starts again after
the latest one), so a due time is stored at most once per schedule: then the compare-and-set
lets at most one advance fire it, and no two records enqueued by advances share a schedule's
dedup key. The machine checks both, besides comparing every state with the model.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import hypothesis.strategies as st
from hypothesis.stateful import rule

from litestar_queues.testing._check import ContractViolation, expect, expect_equal, make_record, schedule_key
from litestar_queues.testing._machine_base import QUEUES, MachineBase

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.models import ScheduleState, TaskRecord
    from litestar_queues.ports import QueueBackend

__all__ = ("ScheduleRules",)

# mostly one schedule, so that a run often creates, pauses and advances the same one
_NAMES = st.sampled_from(("nightly", "nightly", "nightly", "hourly"))
_SCHEDULERS = ("s1", "s2", "s3", "s4")
# which due time a scheduler believes the schedule has: the stored one, an older one, or none
_EXPECTED = ("current", "current", "current", "stale", "none")
_STEPS = (1.0, 5.0, 60.0)


class ScheduleRules(MachineBase):
    """Rules on schedule states: advance (one scheduler, or several racing), pause, delete.

    Two rules only, each with several kinds of step, so that they do not crowd the record rules
    out of a run.
    """

    def __init__(self) -> None:
        super().__init__()
        self.issued: dict[str, datetime] = {}  # the latest next_fire passed, per schedule
        self.fire_history: dict[str, list[datetime]] = {}  # next_fire values each schedule had
        self.fired: dict[str, UUID] = {}  # schedule key: the record an advance stored for it
        self.held_keys: set[str] = set()  # keys taken by _hold_key (each at most once)

    def _expected(self, name: str, kind: str) -> datetime | None:
        state = self.model.schedules.get(name)
        if kind == "none":
            return None
        if kind == "current":
            return None if state is None else state.next_fire
        # stale: the latest due time the schedule had before its current one, or one it never had
        past = [t for t in self.fire_history.get(name, []) if state is None or t != state.next_fire]
        return past[-1] if past else self.clock.now() - timedelta(days=1)

    def _next_fire(self, name: str, step: float) -> datetime:
        now = self.clock.now()
        next_fire = max(self.issued.get(name, now), now) + timedelta(seconds=step)
        self.issued[name] = next_fire
        return next_fire

    def _fire_record(self, name: str, due: datetime | None, scheduler: str, queue: str) -> TaskRecord | None:
        if due is None:
            return None  # the core fires only a schedule it holds a state for
        return make_record(
            self.clock.now(),
            queue=queue,
            key=schedule_key(name, due),
            run_at=due,
            task_name=f"schedule.{name}",
            metadata={"scheduler": scheduler},
            task_id=self._new_id(),
        )

    def _advance(
        self, name: str, expected: datetime | None, next_fire: datetime, records: list[TaskRecord | None]
    ) -> None:
        """Run one advance per entry of ``records`` at once, then check that at most one applied."""
        now = self.clock.now()
        current = self.model.schedules.get(name)
        applies = (None if current is None else current.next_fire) == expected
        predicted: list[ScheduleState | None] = [None]

        async def advance_all(backend: QueueBackend) -> tuple[list[ScheduleState | None], list[bool]]:
            results: list[ScheduleState | None] = [None] * len(records)

            async def advance(index: int) -> None:
                results[index] = await backend.advance_schedule(
                    name, expected=expected, next_fire=next_fire, record=records[index], now=now
                )

            async with anyio.create_task_group() as group:
                for index in range(len(records)):
                    group.start_soon(advance, index)
            stored = [r is not None and await backend.get(r.id) is not None for r in records]
            winners = [index for index, state in enumerate(results) if state is not None]
            if applies and winners:  # the model follows the winner, before the step loads the store
                predicted[0] = self.model.advance_schedule(
                    name, expected=expected, next_fire=next_fire, record=records[winners[0]], now=now
                )
                self.fire_history.setdefault(name, []).append(next_fire)
            return results, stored

        results, stored = self._step(advance_all)
        winners = [index for index, state in enumerate(results) if state is not None]
        what = f"{len(records)} advance(s) of {name!r} expecting {expected} (stored: {current!r})"
        if not applies and winners:
            raise ContractViolation(f"advance_schedule is a compare-and-set: {what} applied")
        expect_equal(
            len(winners), int(applies), "advance_schedule is a compare-and-set", f"winners of {what}"
        )
        for index, record in enumerate(records):
            if record is not None and index not in winners:
                expect(not stored[index], "a refused advance stores nothing", f"{what} stored {record.id}")
        if winners:
            winner = winners[0]
            won, expected_state = results[winner], predicted[0]
            if won is not None and expected_state is not None and won.paused != expected_state.paused:
                raise ContractViolation(
                    f"advance_schedule keeps the paused flag: {what} returned paused={won.paused}"
                )
            expect_equal(won, expected_state, "advance_schedule", f"the state returned by {what}")
            self._check_fire(records[winner], stored[winner])
        self._verify()

    def _check_fire(self, record: TaskRecord | None, stored: bool) -> None:
        """The winner's record is stored unless its key was held, and no earlier fire stored its key."""
        if record is None or record.key is None:
            return
        created = record.id in self.model.records
        rule = "advance_schedule enqueues by the enqueue rules (a held key: the holder's id)"
        expect_equal(stored, created, rule, f"whether {record.id} is stored")
        if created:
            first = self.fired.setdefault(record.key, record.id)
            expect(
                first == record.id,
                "one record per due time",
                f"{first} and {record.id} both fired {record.key!r}",
            )

    @rule(
        name=_NAMES,
        racers=st.sampled_from((1, 1, 2, len(_SCHEDULERS))),
        kind=st.sampled_from(_EXPECTED),
        step=st.sampled_from(_STEPS),
        fire=st.booleans(),
        queue=st.sampled_from(QUEUES),
    )
    def advance_schedule(
        self, name: str, racers: int, kind: str, step: float, fire: bool, queue: str
    ) -> None:
        """Schedulers advance a schedule from the due time they believe current, firing or skipping it.

        With several ``racers`` they all do it at once from the same due time (each with its own
        record): at most one of them may win.
        """
        expected = self._expected(name, kind)
        next_fire = self._next_fire(name, step)
        records = [
            self._fire_record(name, expected, scheduler, queue) if fire else None
            for scheduler in _SCHEDULERS[:racers]
        ]
        self._advance(name, expected, next_fire, records)

    @rule(
        name=_NAMES,
        change=st.sampled_from(("pause", "pause", "resume", "delete", "hold_key")),
        queue=st.sampled_from(QUEUES),
    )
    def change_schedule(self, name: str, change: str, queue: str) -> None:
        """Pause, resume or delete a schedule, or enqueue a record holding the key of its next due time."""
        if change == "hold_key":
            self._hold_key(name, queue)
            return
        if change == "delete":
            expected_deleted = self.model.delete_schedule(name)
            deleted = self._step(lambda b: b.delete_schedule(name))
            expect_equal(deleted, expected_deleted, "delete_schedule", f"whether {name!r} had a state")
        else:
            now, paused = self.clock.now(), change == "pause"
            expected = self.model.set_schedule_paused(name, paused=paused, now=now)
            state = self._step(lambda b: b.set_schedule_paused(name, paused=paused, now=now))
            expect_equal(state, expected, "set_schedule_paused", f"the state returned for {name!r}")
        self._verify()

    def _hold_key(self, name: str, queue: str) -> None:
        """Enqueue a record with the key of ``name``'s next due time (a fire before a delete made it)."""
        current = self.model.schedules.get(name)
        if current is None or schedule_key(name, current.next_fire) in self.held_keys:
            return
        key = schedule_key(name, current.next_fire)
        self.held_keys.add(key)
        record = make_record(
            self.clock.now(),
            queue=queue,
            key=key,
            run_at=current.next_fire,
            task_name=f"schedule.{name}",
            task_id=self._new_id(),
        )
        task_id, created = self.model.enqueue(record)
        (result,) = self._step(lambda b: b.enqueue([record]))
        expect_equal(result.created, created, "enqueue", f"created flag for {record.id}")
        expect_equal(result.record.id, task_id, "enqueue", "id of the returned record")
        self._verify()
