"""Schedule states on PostgreSQL and SQLite files: the compare-and-set, races, held keys, upgrades.

``advance_schedule`` is checked as a compare-and-set to the microsecond (times in any zone,
read back by another backend object), as one transaction (a record the database refuses after
the compare-and-set leaves the state as it was), against 20 callers on two engines at once
(one winner, one record, also without a dedup key to hide a second insert), with a fire whose
key an active record holds (also one committed by another transaction while the fire waits),
and on a database made before the schedules table existed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from sqlalchemy import inspect, select, text

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import Outcome, RecordQuery, ScheduleState, TaskRecord
from litestar_queues_sql import SQLQueueBackend, queue_tables

from .conftest import LEASE, T0, record
from .test_maintenance import quiet, with_prefix

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.anyio

US = timedelta(microseconds=1)
# the same instants written in other zones: stored and compared as instants
BERLIN = timezone(timedelta(hours=1))
NEW_YORK = timezone(timedelta(hours=-5))


def fire(name: str, due: datetime, *, keyed: bool = True, **fields: Any) -> TaskRecord:
    """The record a scheduler enqueues when ``name`` fires at ``due`` (its due-time key)."""
    key = f"schedule:{name}:{due.isoformat()}" if keyed else None
    return record(task_name=f"schedule.{name}", key=key, **fields)


async def stored_ids(backend: SQLQueueBackend) -> list[uuid.UUID]:
    return [r.id for r in await backend.query(RecordQuery(limit=10_000))]


async def fresh_states(url: str) -> list[ScheduleState]:
    """The states as another backend object (another engine, another process) reads them."""
    other = SQLQueueBackend(url, create_schema=False)
    await other.open()
    try:
        return list(await other.schedule_states())
    finally:
        await other.close()


# -- the compare-and-set ---------------------------------------------------------------------------


async def test_advance_is_a_compare_and_set_to_the_microsecond(db_url: str) -> None:
    backend = SQLQueueBackend(db_url)
    await backend.open()
    try:
        first = (T0 + timedelta(seconds=60, microseconds=123_457)).astimezone(BERLIN)
        created = await backend.advance_schedule(
            "nightly", expected=None, next_fire=first, record=None, now=T0 + 7 * US
        )
        assert created == ScheduleState(name="nightly", next_fire=first, updated_at=T0 + 7 * US)
        assert created.next_fire.tzinfo == UTC and created.updated_at.tzinfo == UTC
        # a second creation, or a due time one microsecond off on either side, is refused
        assert (
            await backend.advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
            is None
        )
        for wrong in (first - US, first + US):
            assert (
                await backend.advance_schedule(
                    "nightly", expected=wrong, next_fire=T0, record=fire("nightly", wrong), now=T0
                )
                is None
            )
        assert await stored_ids(backend) == []
        assert await fresh_states(db_url) == [created]
        # the same instant written in another zone matches: a fire
        due = first.astimezone(NEW_YORK)
        following = first + timedelta(days=1, microseconds=1)
        fired_record = fire("nightly", due)
        fired = await backend.advance_schedule(
            "nightly", expected=due, next_fire=following, record=fired_record, now=T0 + timedelta(seconds=1)
        )
        assert fired == ScheduleState(
            name="nightly",
            next_fire=following,
            last_fire=first,
            last_task_id=fired_record.id,
            updated_at=T0 + timedelta(seconds=1),
        )
        assert await backend.get(fired_record.id) == fired_record  # stored as an enqueue stores it
        (claimed,) = await backend.claim(
            queues=None, worker_id="w", limit=5, now=first, lease_until=first + LEASE
        )
        assert claimed.id == fired_record.id
        # the old due time again (a late scheduler): refused, nothing stored
        late = fire("nightly", due)
        assert (
            await backend.advance_schedule(
                "nightly", expected=first, next_fire=following, record=late, now=T0
            )
            is None
        )
        # a skip moves next_fire only
        skipped = await backend.advance_schedule(
            "nightly", expected=following, next_fire=following + timedelta(days=1), record=None, now=T0
        )
        assert skipped == ScheduleState(
            name="nightly",
            next_fire=following + timedelta(days=1),
            last_fire=first,
            last_task_id=fired_record.id,
            updated_at=T0,
        )
        assert await stored_ids(backend) == [fired_record.id]
        assert await fresh_states(db_url) == [skipped]
    finally:
        await backend.close()


async def test_pause_resume_delete_and_states_sorted_by_code_point(backend: SQLQueueBackend) -> None:
    # code point order: upper case before lower case, accented letters after z (a collation
    # such as en_US would mix them)
    names = ["b", "a", "B", "\u00e9t\u00e9", "z", "a b", "A"]
    created = {}
    for n, name in enumerate(names):
        state = await backend.advance_schedule(
            name, expected=None, next_fire=T0 + n * US, record=None, now=T0
        )
        assert state is not None
        created[name] = state
    assert [s.name for s in await backend.schedule_states()] == sorted(names)
    assert await backend.set_schedule_paused("missing", paused=True, now=T0) is None
    paused = await backend.set_schedule_paused("b", paused=True, now=T0 + US)
    assert paused == ScheduleState(name="b", next_fire=T0, paused=True, updated_at=T0 + US)
    # an advance keeps the flag; resuming keeps the due times
    item = fire("b", T0)
    advanced = await backend.advance_schedule(
        "b", expected=T0, next_fire=T0 + timedelta(hours=1), record=item, now=T0 + 2 * US
    )
    assert advanced == ScheduleState(
        name="b",
        next_fire=T0 + timedelta(hours=1),
        paused=True,
        last_fire=T0,
        last_task_id=item.id,
        updated_at=T0 + 2 * US,
    )
    resumed = await backend.set_schedule_paused("b", paused=False, now=T0 + 3 * US)
    assert resumed == ScheduleState(
        name="b",
        next_fire=T0 + timedelta(hours=1),
        last_fire=T0,
        last_task_id=item.id,
        updated_at=T0 + 3 * US,
    )
    assert await backend.delete_schedule("b")
    assert not await backend.delete_schedule("b")
    assert await backend.get(item.id) is not None  # its records stay
    assert [s.name for s in await backend.schedule_states()] == sorted(set(names) - {"b"})
    # a deleted state is not advanced from its old due time, only created afresh
    assert (
        await backend.advance_schedule(
            "b", expected=T0 + timedelta(hours=1), next_fire=T0, record=None, now=T0
        )
        is None
    )
    again = await backend.advance_schedule("b", expected=None, next_fire=T0, record=None, now=T0 + 4 * US)
    assert again == ScheduleState(name="b", next_fire=T0, updated_at=T0 + 4 * US)


async def test_a_creation_with_a_record_notes_it(backend: SQLQueueBackend) -> None:
    """The port allows a record with ``expected=None``: stored, noted, ``last_fire`` stays None."""
    item = fire("once", T0)
    state = await backend.advance_schedule("once", expected=None, next_fire=T0, record=item, now=T0)
    assert state == ScheduleState(name="once", next_fire=T0, last_task_id=item.id, updated_at=T0)
    assert await stored_ids(backend) == [item.id]
    other = fire("once", T0, keyed=False)
    assert await backend.advance_schedule("once", expected=None, next_fire=T0, record=other, now=T0) is None
    assert await stored_ids(backend) == [item.id]


async def test_names_the_database_cannot_store_are_refused(backend: SQLQueueBackend) -> None:
    bad = "bad\ud800name" if backend.dialect == "sqlite" else "bad\x00name"
    with pytest.raises(QueueConfigurationError, match="schedule name"):
        await backend.advance_schedule(bad, expected=None, next_fire=T0, record=None, now=T0)
    with pytest.raises(QueueConfigurationError, match="schedule name"):
        await backend.set_schedule_paused(bad, paused=True, now=T0)
    with pytest.raises(QueueConfigurationError, match="schedule name"):
        await backend.delete_schedule(bad)
    assert list(await backend.schedule_states()) == []


async def test_a_record_refused_after_the_compare_and_set_leaves_the_state_as_it_was(
    backend: SQLQueueBackend,
) -> None:
    """The compare-and-set and the record's insert are one transaction: both or neither."""
    tasks = backend.tables.tasks.name
    async with backend.engine.begin() as conn:
        if backend.dialect == "postgresql":
            await conn.execute(
                text(f"ALTER TABLE {tasks} ADD CONSTRAINT {tasks}_refuse CHECK (task_name <> 'refused')")
            )
        else:
            await conn.execute(
                text(
                    f"CREATE TRIGGER {tasks}_refuse BEFORE INSERT ON {tasks} "
                    "WHEN NEW.task_name = 'refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    created = await backend.advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
    refused = record(task_name="refused", key="schedule:nightly:T0")
    with pytest.raises(QueueConfigurationError, match="refused to store 1 task record"):
        await backend.advance_schedule(
            "nightly", expected=T0, next_fire=T0 + timedelta(hours=1), record=refused, now=T0 + US
        )
    assert list(await backend.schedule_states()) == [created]
    assert await stored_ids(backend) == []
    # the due time is still open: the next scheduler fires it
    item = fire("nightly", T0)
    fired = await backend.advance_schedule(
        "nightly", expected=T0, next_fire=T0 + timedelta(hours=1), record=item, now=T0 + US
    )
    assert fired is not None and fired.last_task_id == item.id


# -- races -------------------------------------------------------------------------------------


async def open_two(url: str) -> list[SQLQueueBackend]:
    """Two backend objects, each with its own engine (as two processes)."""
    backends = [SQLQueueBackend(url), SQLQueueBackend(url)]
    for backend in backends:
        await backend.open()
    assert backends[0].engine is not backends[1].engine
    return backends


async def race(
    backends: Sequence[SQLQueueBackend],
    name: str,
    expected: datetime | None,
    next_fire: datetime,
    records: Sequence[TaskRecord | None],
) -> list[tuple[int, ScheduleState]]:
    """Every caller advances ``name`` from ``expected`` at once, alternating backends; the winners."""
    won: list[tuple[int, ScheduleState]] = []

    async def advance(n: int) -> None:
        state = await backends[n % len(backends)].advance_schedule(
            name, expected=expected, next_fire=next_fire, record=records[n], now=T0
        )
        if state is not None:
            won.append((n, state))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(len(records)):
                tg.start_soon(advance, n)
    return won


@pytest.mark.parametrize("keyed", [True, False], ids=["due-time-key", "no-key"])
async def test_twenty_callers_on_two_engines_one_winner_one_record(db_url: str, keyed: bool) -> None:
    """Without a key a second applied advance would store a second record: the count checks the CAS."""
    backends = await open_two(db_url)
    try:
        # the creation races too
        created = await race(backends, "nightly", None, T0, [None] * 20)
        assert len(created) == 1, created
        due = T0
        stored: list[uuid.UUID] = []
        for step in range(5):
            following = due + timedelta(minutes=1, microseconds=step + 1)
            records = [fire("nightly", due, keyed=keyed) for _ in range(20)]
            won = await race(backends, "nightly", due, following, records)
            assert len(won) == 1, won
            ((n, state),) = won
            assert state == ScheduleState(
                name="nightly", next_fire=following, last_fire=due, last_task_id=records[n].id, updated_at=T0
            )
            stored.append(records[n].id)
            assert sorted(await stored_ids(backends[1])) == sorted(stored)
            assert list(await backends[1].schedule_states()) == [state]
            due = following
    finally:
        for backend in backends:
            await backend.close()


# -- held keys -----------------------------------------------------------------------------------


async def test_a_fire_whose_key_is_held_notes_the_holder(backend: SQLQueueBackend) -> None:
    await backend.advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
    (held,) = await backend.enqueue([record(key=fire("nightly", T0).key)])
    item = fire("nightly", T0)
    state = await backend.advance_schedule(
        "nightly", expected=T0, next_fire=T0 + timedelta(hours=1), record=item, now=T0 + US
    )
    assert state == ScheduleState(
        name="nightly",
        next_fire=T0 + timedelta(hours=1),
        last_fire=T0,
        last_task_id=held.record.id,
        updated_at=T0 + US,
    )
    assert await stored_ids(backend) == [held.record.id]
    assert await backend.get(item.id) is None
    # once the holder finished the key is free: the next fire with it is stored
    (claimed,) = await backend.claim(queues=None, worker_id="w", limit=1, now=T0, lease_until=T0 + LEASE)
    assert claimed.lease_id is not None
    await backend.finish([Outcome(task_id=claimed.id, lease_id=claimed.lease_id, kind="complete")], now=T0)
    again = fire("nightly", T0)  # the same key
    due = T0 + timedelta(hours=1)
    state = await backend.advance_schedule("nightly", expected=due, next_fire=due + US, record=again, now=T0)
    assert state is not None and state.last_task_id == again.id
    assert sorted(await stored_ids(backend)) == sorted([held.record.id, again.id])


@pytest.mark.parametrize("ending", ["commit", "rollback"])
async def test_a_fire_waits_for_a_transaction_enqueueing_its_key(db_url: str, ending: str) -> None:
    """An enqueue of the fire's key in an open transaction: the fire waits, then follows its end.

    Committed, the transaction's record holds the key and becomes ``last_task_id``; rolled back,
    the fire's own record is stored (as an enqueue of that key would behave).
    """
    holder_side, scheduler = await open_two(db_url)
    try:
        await scheduler.advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
        item = fire("nightly", T0)
        rival = record(key=item.key)
        result: list[ScheduleState | None] = []

        async def advance() -> None:
            result.append(
                await scheduler.advance_schedule(
                    "nightly", expected=T0, next_fire=T0 + timedelta(hours=1), record=item, now=T0
                )
            )

        async with holder_side.engine.connect() as conn:
            await conn.begin()
            (pending,) = await holder_side.enqueue_in(conn, [rival])
            assert pending.created
            async with anyio.create_task_group() as tg:
                tg.start_soon(advance)
                await anyio.sleep(0.5)
                assert result == []  # waiting for the key's (PostgreSQL) or the write (SQLite) lock
                if ending == "commit":
                    await conn.commit()
                else:
                    await conn.rollback()
        (state,) = result
        assert state is not None
        expected_id = rival.id if ending == "commit" else item.id
        assert state.last_task_id == expected_id
        assert await stored_ids(scheduler) == [expected_id]
        assert list(await holder_side.schedule_states()) == [state]
    finally:
        await holder_side.close()
        await scheduler.close()


# -- wake-ups ------------------------------------------------------------------------------------


async def test_a_fire_wakes_workers_as_an_enqueue_does(db_url: str) -> None:
    """The fire's backend wakes its own waiters; on PostgreSQL another process's too (NOTIFY)."""
    # a long poll interval: only a wake-up returns the waits below early
    fired_by = SQLQueueBackend(db_url, poll_interval=30)
    elsewhere = SQLQueueBackend(db_url, poll_interval=30)
    await fired_by.open()
    await elsewhere.open()
    try:
        await fired_by.advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
        waiters = [fired_by] if fired_by.dialect == "sqlite" else [fired_by, elsewhere]
        for waiter in waiters:
            await quiet(waiter)
        woken: list[SQLQueueBackend] = []

        async def wait(waiter: SQLQueueBackend) -> None:
            await waiter.wait_for_work(None, timeout=20)
            woken.append(waiter)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for waiter in waiters:
                    tg.start_soon(wait, waiter)
                await anyio.sleep(0.2)
                assert woken == []
                # a refused fire wakes nobody
                stale = fire("nightly", T0 - US)
                assert (
                    await fired_by.advance_schedule(
                        "nightly", expected=T0 - US, next_fire=T0, record=stale, now=T0
                    )
                    is None
                )
                await anyio.sleep(0.3)
                assert woken == []
                await fired_by.advance_schedule(
                    "nightly",
                    expected=T0,
                    next_fire=T0 + timedelta(hours=1),
                    record=fire("nightly", T0),
                    now=T0,
                )
        assert sorted(map(id, woken)) == sorted(map(id, waiters))
    finally:
        await fired_by.close()
        await elsewhere.close()


# -- older databases -----------------------------------------------------------------------------


async def test_a_database_from_before_schedules_gains_their_table(db_url: str) -> None:
    prefix = f"o{uuid.uuid4().hex[:8]}_"
    url = with_prefix(db_url, prefix)
    # the tables the previous release made: every one but schedules
    previous = queue_tables(table_prefix=prefix)
    plain = SQLQueueBackend(url, create_schema=False)
    await plain.open()
    old = record(queue="a")
    try:
        async with plain.engine.begin() as conn:
            await conn.run_sync(
                lambda c: previous.metadata.create_all(
                    c, tables=[previous.tasks, previous.dead_letters, previous.paused_queues, previous.duties]
                )
            )
        await plain.enqueue([old])
        await plain.set_paused("b", paused=True)
        assert f"{prefix}schedules" not in await table_names(plain)
    finally:
        await plain.close()
    # two processes of the new release open it at once: the table is created once
    backends = [SQLQueueBackend(url), SQLQueueBackend(url)]
    async with anyio.create_task_group() as tg:
        for backend in backends:
            tg.start_soon(backend.open)
    try:
        assert f"{prefix}schedules" in await table_names(backends[0])
        assert await backends[0].get(old.id) == old
        assert await backends[0].paused_queues() == {"b"}
        await backends[0].advance_schedule("nightly", expected=None, next_fire=T0, record=None, now=T0)
        item = fire("nightly", T0)
        state = await backends[1].advance_schedule(
            "nightly", expected=T0, next_fire=T0 + timedelta(hours=1), record=item, now=T0
        )
        assert state is not None and state.last_task_id == item.id
        again = SQLQueueBackend(url)  # and once more: nothing left to create
        await again.open()
        assert list(await again.schedule_states()) == [state]
        await again.close()
        columns = await column_names(backends[0], f"{prefix}schedules")
        assert columns == ["name", "next_fire", "paused", "last_fire", "last_task_id", "updated_at"]
    finally:
        for b in backends:
            await b.close()


async def table_names(backend: SQLQueueBackend) -> set[str]:
    async with backend.engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


async def column_names(backend: SQLQueueBackend, table: str) -> list[str]:
    async with backend.engine.connect() as conn:
        return await conn.run_sync(lambda c: [col["name"] for col in inspect(c).get_columns(table)])


async def test_times_are_stored_as_the_other_timestamps_are(backend: SQLQueueBackend) -> None:
    """``timestamptz`` on PostgreSQL; on SQLite the tasks table's sortable UTC text, six digits."""
    at = (T0 + timedelta(microseconds=5)).astimezone(BERLIN)
    await backend.advance_schedule("nightly", expected=None, next_fire=at, record=None, now=at)
    schedules = backend.tables.schedules
    async with backend.engine.connect() as conn:
        if backend.dialect == "postgresql":
            kind = (
                await conn.execute(
                    text(
                        "SELECT pg_typeof(next_fire)::text, pg_typeof(updated_at)::text FROM "
                        + schedules.name
                    )
                )
            ).one()
            assert tuple(kind) == ("timestamp with time zone", "timestamp with time zone")
        else:
            raw = (
                await conn.execute(
                    text(f"SELECT next_fire, updated_at, typeof(next_fire) FROM {schedules.name}")
                )
            ).one()
            assert tuple(raw) == ("2030-01-01 12:00:00.000005", "2030-01-01 12:00:00.000005", "text")
        (stored,) = (await conn.execute(select(schedules.c.next_fire))).scalars()
    assert stored == at and stored.tzinfo == UTC
