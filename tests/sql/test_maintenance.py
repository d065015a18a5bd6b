"""delete, pause/resume and take_turn on PostgreSQL and SQLite files, and their tables on older databases.

``delete`` is checked against ``query`` (the same page, less its running records) for every
filter, both orders and keyset positions; raced against claims on two connections; its plan on
a table large enough for the planner to choose. Pauses and turns are checked across backend
objects (processes) and, for turns, under concurrent calls on two connections.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from sqlalchemy import inspect, select, update

from litestar_queues.models import QueryPosition, RecordQuery, TaskRecord
from litestar_queues_sql import SQLQueueBackend, queue_tables
from litestar_queues_sql._explain import explain_delete

from ._listing import fill_tasks, open_at_once
from .conftest import LEASE, T0
from .test_query import expected, finish, mixed_records, rec, stored

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

pytestmark = pytest.mark.anyio


def with_prefix(db_url: str, prefix: str) -> str:
    return f"{db_url}{'&' if '?' in db_url else '?'}table_prefix={prefix}"


async def ids_stored(backend: SQLQueueBackend) -> set[uuid.UUID]:
    return {r.id for r in await backend.query(RecordQuery(limit=10_000))}


# -- delete --------------------------------------------------------------------------------------


async def test_delete_removes_what_query_lists_except_running_records(backend: SQLQueueBackend) -> None:
    ids = await mixed_records(backend)
    records = await stored(backend, ids)
    at = [r.created_at for r in records]
    by_place = sorted(records, key=lambda r: (r.created_at, r.id.bytes))
    finished = T0 + timedelta(seconds=200)  # the failed record's finished_at
    filters: list[dict[str, Any]] = [
        {},
        {"queues": ("a",)},
        {"queues": ("a", "c")},
        {"queues": ("nowhere",)},
        {"statuses": ("failed",)},
        {"statuses": ("running",)},
        {"statuses": ("pending", "scheduled", "running")},
        {"statuses": ("completed", "cancelled")},
        {"task_names": ("t.one",)},
        {"key": "k1"},
        {"key": "k1", "statuses": ("pending",)},
        {"created_after": at[2]},
        {"created_before": at[2]},
        {"created_after": at[5], "created_before": at[6]},
        {"finished_after": finished},
        {"finished_before": finished},
        {"queues": ("a", "b"), "statuses": ("pending", "failed"), "task_names": ("t.two",)},
        {"after": QueryPosition.of(by_place[3])},  # inside the tie of created_at
        {"after": QueryPosition.of(by_place[0]), "statuses": ("completed", "pending", "running")},
        {"after": QueryPosition.of(by_place[6]), "queues": ("c", "b")},
    ]
    for fields in filters:
        for newest_first in (True, False):
            for limit in (1, 3, 50):
                query = RecordQuery(newest_first=newest_first, limit=limit, **fields)
                listed = await backend.query(query)
                assert [r.id for r in listed] == expected(records, query), query
                deleted = await backend.delete(query)
                assert deleted == [r.id for r in listed if r.status != "running"], query
                assert await ids_stored(backend) == set(ids) - set(deleted), query
                for task_id in deleted:
                    assert await backend.get(task_id) is None
                await restore(backend, [r for r in listed if r.id in deleted])
                assert await stored(backend, ids) == records
    assert await backend.delete(RecordQuery(statuses=(), limit=5)) == []
    assert await backend.delete(RecordQuery(limit=0)) == []
    running = [r for r in records if r.status == "running"]
    assert len(running) == 1 and await backend.delete(RecordQuery(limit=100)) == [
        r.id
        for r in sorted(records, key=lambda r: (r.created_at, r.id.bytes), reverse=True)
        if r.status != "running"
    ]
    assert await ids_stored(backend) == {running[0].id}


async def restore(backend: SQLQueueBackend, records: Sequence[TaskRecord]) -> None:
    """Store deleted records again, as they were (a new row each; the id must be free again)."""
    results = await backend.enqueue(records)
    assert all(result.created for result in results)


async def test_delete_frees_the_dedup_key_and_deleted_records_are_never_claimed(
    backend: SQLQueueBackend,
) -> None:
    pending = rec(T0, key="k")
    scheduled = rec(T0 + timedelta(seconds=1), key="s", run_at=T0 + timedelta(hours=1))
    others = [rec(T0 + timedelta(seconds=2 + n)) for n in range(4)]
    await backend.enqueue([pending, scheduled, *others])
    assert await backend.delete(RecordQuery(statuses=("pending", "scheduled"), key="k")) == [pending.id]
    assert await backend.delete(RecordQuery(key="s")) == [scheduled.id]
    # the keys are free: new records take them
    again = rec(T0 + timedelta(seconds=10), key="k")
    again_scheduled = rec(T0 + timedelta(seconds=11), key="s", run_at=T0 + timedelta(hours=1))
    results = await backend.enqueue([again, again_scheduled])
    assert [(r.created, r.record.id) for r in results] == [(True, again.id), (True, again_scheduled.id)]
    # deleted waiting records are never handed out, by claim or by id
    victims = await backend.delete(
        RecordQuery(
            statuses=("pending",), created_after=others[2].created_at, created_before=again.created_at
        )
    )
    assert victims == [others[3].id, others[2].id]
    later = T0 + timedelta(hours=2)
    claimed = await backend.claim(queues=None, worker_id="w", limit=50, now=later, lease_until=later + LEASE)
    assert {r.id for r in claimed} == {others[0].id, others[1].id, again.id, again_scheduled.id}
    for task_id in (pending.id, scheduled.id, *victims):
        assert await backend.claim_task(task_id, worker_id="w", now=later, lease_until=later + LEASE) is None
        assert await backend.get(task_id) is None


async def test_delete_of_a_waiting_record_wakes_its_result_waiters(db_url: str) -> None:
    writer = SQLQueueBackend(db_url, poll_interval=60)
    await writer.open()
    # SQLite wakes waiters of the same object (other processes poll); PostgreSQL notifies
    waiter = SQLQueueBackend(db_url, poll_interval=60) if writer.dialect == "postgresql" else writer
    if waiter is not writer:
        await waiter.open()
    try:
        task = rec(T0)
        await writer.enqueue([task])
        returned = anyio.Event()

        async def wait() -> None:
            await waiter.wait_for_finish(task.id, timeout=60)
            returned.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await anyio.sleep(0.3)
                assert not returned.is_set()
                assert await writer.delete(RecordQuery(statuses=("pending",))) == [task.id]
    finally:
        if waiter is not writer:
            await waiter.close()
        await writer.close()


@pytest.mark.parametrize("commit", [True, False])
async def test_delete_skips_a_row_an_uncommitted_claim_holds(postgres_url: str, commit: bool) -> None:
    """PostgreSQL: the delete neither waits for the claim's lock nor deletes what it claims."""
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        made = [rec(T0 + timedelta(seconds=n)) for n in range(4)]
        await backend.enqueue(made)
        tasks = backend.tables.tasks
        held = update(tasks).where(tasks.c.id == made[1].id).values(status="running", worker_id="other")
        async with backend.engine.connect() as conn:
            transaction = await conn.begin()
            await conn.execute(held)
            with anyio.fail_after(5):  # the row is locked: skipped, not waited for
                deleted = await backend.delete(RecordQuery(statuses=("pending",), newest_first=False))
            assert deleted == [made[0].id, made[2].id, made[3].id]
            await (transaction.commit() if commit else transaction.rollback())
        left = await backend.get(made[1].id)
        assert left is not None and left.status == ("running" if commit else "pending")
        # a row the delete skipped is met by the next one, if it is still waiting then
        assert await backend.delete(RecordQuery(statuses=("pending",))) == ([] if commit else [made[1].id])
    finally:
        await backend.close()


async def test_delete_racing_claims_on_two_connections(db_url: str) -> None:
    """Never a running record deleted, never a deleted record handed out; nothing lost."""
    claimer, deleter = SQLQueueBackend(db_url), SQLQueueBackend(db_url)
    await claimer.open()
    await deleter.open()
    try:
        interleaved = 0
        # a loaded machine may let one side take a whole queue: each race is checked, and races
        # go on (up to 12) until 3 of them had both sides taking records
        for round_ in range(12):
            made = [rec(T0 + timedelta(seconds=n), queue=f"race{round_}") for n in range(150)]
            await claimer.enqueue(made)
            claimed, deleted = await race(claimer, deleter, f"race{round_}")
            assert not claimed & deleted
            assert claimed | deleted == {r.id for r in made}
            for task_id in claimed:
                record = await claimer.get(task_id)
                assert record is not None and record.status == "running" and record.worker_id == "w"
            assert not (await ids_stored(deleter)) & deleted
            interleaved += bool(claimed and deleted)
            if interleaved == 3:
                break
        assert interleaved == 3, f"only {interleaved} of {round_ + 1} races had both sides take records"
    finally:
        await deleter.close()
        await claimer.close()


async def race(
    claimer: SQLQueueBackend, deleter: SQLQueueBackend, queue: str
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Claim and delete the records of ``queue`` at once, oldest first on both sides, until none waits."""
    claimed: set[uuid.UUID] = set()
    deleted: set[uuid.UUID] = set()

    async def claim() -> None:
        while got := await claimer.claim(
            queues=[queue], worker_id="w", limit=3, now=T0, lease_until=T0 + timedelta(hours=1)
        ):
            claimed.update(r.id for r in got)

    async def delete() -> None:
        for n in range(10_000):
            # every other call lists running records too: they must be left
            statuses: Any = ("pending",) if n % 2 else None
            gone = await deleter.delete(
                RecordQuery(queues=(queue,), statuses=statuses, newest_first=False, limit=4)
            )
            deleted.update(gone)
            if statuses is not None and not gone:
                return

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(delete)
            tg.start_soon(claim)
    # whatever both sides skipped at the end (held by the other) is claimed now
    later = await claimer.claim(queues=[queue], worker_id="w", limit=500, now=T0, lease_until=T0 + LEASE)
    claimed.update(r.id for r in later)
    return claimed, deleted


# -- the retention sweep's plan ----------------------------------------------------------------------

_FILL_POSTGRES = """
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata,
    attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at, finished_at)
SELECT gen_random_uuid(), 't', 'q' || (n % 4), 0, status, '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3,
    CAST(:base AS timestamptz) + make_interval(secs => n / 3), CAST(:base AS timestamptz),
    CASE WHEN status IN ('completed', 'failed')
        THEN CAST(:base AS timestamptz) + make_interval(secs => n / 3 + 1) END
FROM (SELECT n, CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 50 = 1 THEN 'pending' ELSE 'completed' END
      AS status FROM generate_series(1, 20000) AS n) AS numbered
"""

_FILL_SQLITE = """
WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 20000),
numbered AS (SELECT n, CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 50 = 1 THEN 'pending'
    ELSE 'completed' END AS status FROM numbers)
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata,
    attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at, finished_at)
SELECT lower(hex(randomblob(16))), 't', 'q' || (n % 4), 0, status, '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3,
    strftime('%Y-%m-%d %H:%M:%S', :base + n / 3, 'unixepoch') || '.000000',
    strftime('%Y-%m-%d %H:%M:%S', :base, 'unixepoch') || '.000000',
    CASE WHEN status IN ('completed', 'failed')
        THEN strftime('%Y-%m-%d %H:%M:%S', :base + n / 3 + 1, 'unixepoch') || '.000000' END
FROM numbered
"""


async def test_the_retention_delete_reads_the_finished_index(db_url: str) -> None:
    """The retention sweep's delete (1,000 oldest completed records) and a purge of failed ones."""
    backend = SQLQueueBackend(db_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        postgres = await fill_tasks(
            backend, _FILL_POSTGRES, _FILL_SQLITE, {"base": T0}, {"base": T0.timestamp()}
        )
        cutoff = T0 + timedelta(seconds=5000)  # about 15,000 records were created and finished before
        retention = RecordQuery(
            statuses=("completed",),
            finished_before=cutoff,
            created_before=cutoff,
            newest_first=False,
            limit=1000,
        )
        purge = RecordQuery(statuses=("failed",), queues=("q0",), limit=50)
        for query in (retention, purge):
            plan = "\n".join(await plan_of(backend, query))
            if postgres:
                assert (
                    f"Scan using {tasks}_finished " in plan
                    or f"Scan Backward using {tasks}_finished " in plan
                )
                assert f"Index Scan using {tasks}_pkey " in plan, plan
                assert "Seq Scan" not in plan and "Bitmap" not in plan and "Hash" not in plan, plan
                assert "Sort" not in plan, plan
            else:
                assert (
                    f"USING INDEX {tasks}_finished " in plan
                    or f"USING COVERING INDEX {tasks}_finished " in plan
                )
                assert f"SEARCH {tasks} USING INTEGER PRIMARY KEY" in plan, plan
                assert f"SCAN {tasks}" not in plan, plan
        oldest = await backend.query(retention)
        assert len(oldest) == 1000
        assert all(
            r.status == "completed" and r.finished_at is not None and r.finished_at < cutoff for r in oldest
        )
        assert await backend.delete(retention) == [r.id for r in oldest]
        assert await backend.query(retention) != oldest  # the next call goes on with the next ones
    finally:
        await backend.close()


async def plan_of(backend: SQLQueueBackend, query: RecordQuery) -> list[str]:
    async with backend.engine.connect() as conn:
        return await explain_delete(conn, backend.tables, query)


# -- pause ---------------------------------------------------------------------------------------


async def test_a_paused_queue_keeps_its_records_until_resumed(backend: SQLQueueBackend) -> None:
    first = rec(T0, queue="a", priority=10)
    second = rec(T0 + timedelta(seconds=1), queue="a")
    other = rec(T0 + timedelta(seconds=2), queue="b")
    await backend.enqueue([first, second, other])
    await backend.set_paused("a", paused=True)
    await backend.set_paused("a", paused=True)  # twice: a no-op
    await backend.set_paused("idle", paused=True)  # a queue without records
    assert await backend.paused_queues() == {"a", "idle"}
    claimed = await backend.claim(queues=None, worker_id="w", limit=10, now=T0, lease_until=T0 + LEASE)
    assert [r.id for r in claimed] == [other.id]
    assert await backend.claim(queues=["a"], worker_id="w", limit=10, now=T0, lease_until=T0 + LEASE) == []
    # a claim by id ignores the pause; a paused queue takes enqueues
    by_id = await backend.claim_task(second.id, worker_id="w", now=T0, lease_until=T0 + LEASE)
    assert by_id is not None and by_id.status == "running"
    third = rec(T0 + timedelta(seconds=3), queue="a")
    (result,) = await backend.enqueue([third])
    assert result.created
    await backend.set_paused("a", paused=False)
    await backend.set_paused("a", paused=False)  # twice: a no-op
    await backend.set_paused("never-paused", paused=False)
    assert await backend.paused_queues() == {"idle"}
    claimed = await backend.claim(queues=["a", "b"], worker_id="w", limit=10, now=T0, lease_until=T0 + LEASE)
    assert [r.id for r in claimed] == [first.id, third.id]


async def test_the_pause_is_shared_by_processes_and_survives_reopening(db_url: str) -> None:
    first, second = SQLQueueBackend(db_url), SQLQueueBackend(db_url)
    await first.open()
    await second.open()
    third: SQLQueueBackend | None = None
    try:
        await first.set_paused("a", paused=True)
        assert await second.paused_queues() == {"a"}
        task = rec(T0, queue="a")
        await second.enqueue([task])
        assert await second.claim(queues=None, worker_id="w", limit=5, now=T0, lease_until=T0 + LEASE) == []
        await first.close()
        third = SQLQueueBackend(db_url)
        await third.open()
        assert await third.paused_queues() == {"a"}
        await third.set_paused("a", paused=False)
        assert await second.paused_queues() == set()
        (claimed,) = await second.claim(queues=None, worker_id="w", limit=5, now=T0, lease_until=T0 + LEASE)
        assert claimed.id == task.id
    finally:
        for backend in (third, second, first):
            if backend is not None:
                await backend.close()


async def test_resuming_wakes_waiting_workers(db_url: str) -> None:
    writer = SQLQueueBackend(db_url, poll_interval=60)
    await writer.open()
    # PostgreSQL: another object (process) is notified; SQLite: waiters of the same object
    waiter = SQLQueueBackend(db_url, poll_interval=60) if writer.dialect == "postgresql" else writer
    if waiter is not writer:
        await waiter.open()
    try:
        await writer.set_paused("a", paused=True)
        await writer.enqueue([rec(T0, queue="a")])
        await quiet(waiter)
        returned = anyio.Event()

        async def wait() -> None:
            await waiter.wait_for_work(["a"], timeout=60)
            returned.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await writer.set_paused("b", paused=False)  # was not paused: wakes nobody
                await writer.set_paused("c", paused=True)
                await anyio.sleep(0.5)
                assert not returned.is_set()
                await writer.set_paused("a", paused=False)
        claimed = await waiter.claim(queues=["a"], worker_id="w", limit=5, now=T0, lease_until=T0 + LEASE)
        assert len(claimed) == 1
    finally:
        if waiter is not writer:
            await waiter.close()
        await writer.close()


async def quiet(backend: SQLQueueBackend) -> None:
    """Consume the wake-ups already sent (connecting, enqueues) until none arrives for 0.3 s."""
    with anyio.fail_after(10):
        while True:
            started = anyio.current_time()
            await backend.wait_for_work(None, timeout=0.3)
            if anyio.current_time() - started >= 0.29:
                return


# -- take_turn -----------------------------------------------------------------------------------


async def test_a_turn_is_given_refused_extended_and_expires(backend: SQLQueueBackend) -> None:
    minute = timedelta(minutes=1)

    async def turn(holder: str, at: datetime, until: datetime, duty: str = "sweep") -> bool:
        return await backend.take_turn(duty, holder=holder, now=at, until=until)

    assert await turn("h1", T0, T0 + minute)  # never held
    assert not await turn("h2", T0 + timedelta(seconds=10), T0 + 2 * minute)  # h1's turn is live
    assert await turn("h1", T0 + timedelta(seconds=30), T0 + 3 * minute)  # h1 again: moved
    assert not await turn("h2", T0 + 2 * minute, T0 + 4 * minute)  # live until T0 + 3 minutes
    assert await turn("other", T0, T0 + minute, duty="another duty")  # duties are independent
    assert await turn("h2", T0 + 3 * minute, T0 + 4 * minute)  # h1's turn ended (until <= now)
    assert not await turn("h1", T0 + 3 * minute, T0 + 5 * minute)
    assert await stored_turns(backend) == {
        "sweep": ("h2", T0 + 4 * minute),
        "another duty": ("other", T0 + minute),
    }


async def stored_turns(backend: SQLQueueBackend) -> dict[str, tuple[str, datetime]]:
    duties = backend.tables.duties
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(select(duties.c.duty, duties.c.holder, duties.c.until))).all()
    return {duty: (holder, until) for duty, holder, until in rows}


async def test_holders_racing_on_two_connections_get_one_live_turn(db_url: str) -> None:
    backends = [SQLQueueBackend(db_url), SQLQueueBackend(db_url)]
    for backend in backends:
        await backend.open()
    try:
        minute = timedelta(minutes=1)
        for duty in ("d1", "d2", "d3"):
            free = await contest(backends, duty, [f"{duty}-h{n}" for n in range(20)], T0, T0 + minute)
            assert len(free) == 1, free
            (winner,) = free
            # while the turn is live only its holder gets it again
            live = await contest(
                backends, duty, [*(f"{duty}-x{n}" for n in range(19)), winner], T0, T0 + minute
            )
            assert live == [winner]
            # once it ended, one of the others takes it
            ended = await contest(
                backends, duty, [f"{duty}-y{n}" for n in range(20)], T0 + minute, T0 + 2 * minute
            )
            assert len(ended) == 1, ended
            assert (await stored_turns(backends[0]))[duty] == (ended[0], T0 + 2 * minute)
    finally:
        for backend in backends:
            await backend.close()


async def contest(
    backends: Sequence[SQLQueueBackend], duty: str, holders: Sequence[str], now: datetime, until: datetime
) -> list[str]:
    """Every holder asks for the turn at once, alternating between the backends; the winners."""
    won: list[str] = []

    async def ask(n: int, holder: str) -> None:
        if await backends[n % len(backends)].take_turn(duty, holder=holder, now=now, until=until):
            won.append(holder)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n, holder in enumerate(holders):
                tg.start_soon(ask, n, holder)
    return won


# -- older databases -----------------------------------------------------------------------------


async def test_a_database_from_before_pauses_and_turns_gains_their_tables(db_url: str) -> None:
    prefix = f"o{uuid.uuid4().hex[:8]}_"
    url = with_prefix(db_url, prefix)
    # the tables the previous release made: tasks and dead letters, nothing else
    previous = queue_tables(table_prefix=prefix)
    plain = SQLQueueBackend(url, create_schema=False)
    await plain.open()
    old = [rec(T0, queue="a"), rec(T0 + timedelta(seconds=1), queue="b")]
    try:
        async with plain.engine.begin() as conn:
            await conn.run_sync(
                lambda c: previous.metadata.create_all(c, tables=[previous.tasks, previous.dead_letters])
            )
        await plain.enqueue(old)
        assert await table_names(plain) >= {f"{prefix}tasks", f"{prefix}dead_letters"}
        assert not await table_names(plain) & {f"{prefix}paused_queues", f"{prefix}duties"}
    finally:
        await plain.close()
    # two processes of the new release open it at once: each creates what is missing, once
    backends = await open_at_once(url)
    backend = backends[0]
    try:
        assert await table_names(backend) >= {f"{prefix}paused_queues", f"{prefix}duties"}
        assert await stored(backend, [r.id for r in old]) == old
        await backend.set_paused("a", paused=True)
        (claimed,) = await backend.claim(queues=None, worker_id="w", limit=5, now=T0, lease_until=T0 + LEASE)
        assert claimed.id == old[1].id
        assert await backends[1].take_turn("sweep", holder="w", now=T0, until=T0 + LEASE)
        done = await finish(backend, old[0], "complete", T0)
        assert await backend.delete(RecordQuery(statuses=("completed",))) == [done.id]
        again = SQLQueueBackend(url)  # and once more: nothing left to create
        await again.open()
        assert await again.paused_queues() == {"a"}
        await again.close()
    finally:
        for b in backends:
            await b.close()


async def table_names(backend: SQLQueueBackend) -> set[str]:
    async with backend.engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
