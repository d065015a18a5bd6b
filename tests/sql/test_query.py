"""The read model on PostgreSQL and SQLite: query (filters, order, keyset pages), requeue, history.

Each listing is checked against the port's own definition (``RecordQuery.matches`` and
``.beyond`` over every stored record); the plans are checked on tables large enough for the
planner to choose; requeue is raced against enqueues of the same key on two connections; and a
table made before the history column is upgraded in place.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest
from sqlalchemy import inspect, text, update

from litestar_queues.models import (
    ALL_STATUSES,
    TERMINAL_STATUSES,
    AttemptRecord,
    Outcome,
    QueryPosition,
    RecordQuery,
    TaskRecord,
)
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._explain import explain_query
from litestar_queues_sql._query import MAX_RANGES

from ._listing import fill_tasks, open_at_once
from .conftest import LEASE, T0

if TYPE_CHECKING:
    from datetime import datetime

pytestmark = pytest.mark.anyio


def rec(created: datetime, **fields: Any) -> TaskRecord:
    """A new record enqueued at ``created`` (scheduled when ``run_at`` is later)."""
    fields.setdefault("run_at", created)
    fields.setdefault("status", "scheduled" if fields["run_at"] > created else "pending")
    fields.setdefault("task_name", "t.noop")
    return TaskRecord(id=uuid.uuid4(), created_at=created, **fields)


async def finish(
    backend: SQLQueueBackend, record: TaskRecord, kind: str, now: datetime, **fields: Any
) -> TaskRecord:
    """Claim ``record`` by id at ``now`` and apply an outcome of ``kind``."""
    claimed = await backend.claim_task(record.id, worker_id="w", now=now, lease_until=now + LEASE)
    assert claimed is not None and claimed.lease_id is not None
    outcome = Outcome(task_id=record.id, lease_id=claimed.lease_id, kind=kind, **fields)  # type: ignore[arg-type]
    (applied,) = await backend.finish([outcome], now=now)
    assert applied is not None
    return applied


async def stored(backend: SQLQueueBackend, ids: list[uuid.UUID]) -> list[TaskRecord]:
    records = [await backend.get(i) for i in ids]
    assert all(r is not None for r in records)
    return [r for r in records if r is not None]


def expected(records: list[TaskRecord], query: RecordQuery) -> list[uuid.UUID]:
    """The port's definition of a page: matching records beyond the position, in order."""
    found = [r for r in records if query.matches(r) and query.beyond(r)]
    found.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=query.newest_first)
    return [r.id for r in found[: query.limit]]


async def page_through(backend: SQLQueueBackend, query: RecordQuery) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    while True:
        page = await backend.query(query)
        assert len(page) <= query.limit
        ids.extend(r.id for r in page)
        if len(page) < query.limit:
            return ids
        query = msgspec.structs.replace(query, after=QueryPosition.of(page[-1]))


async def mixed_records(backend: SQLQueueBackend) -> list[uuid.UUID]:
    """Records in every status, several queues, task names and keys, with tied creation times."""
    made = [
        rec(T0, queue="a", task_name="t.one", key="k1"),
        rec(T0 + timedelta(seconds=10), queue="b", task_name="t.two"),
        rec(T0 + timedelta(seconds=20), queue="a", task_name="t.two"),
        rec(T0 + timedelta(seconds=20), queue="b", task_name="t.one", key="k2"),
        rec(T0 + timedelta(seconds=30), queue="a", run_at=T0 + timedelta(hours=1)),
        rec(T0 + timedelta(seconds=40), queue="c", task_name="t.one"),
        rec(T0 + timedelta(seconds=40, microseconds=1), queue="c", key="k1"),
    ]
    await backend.enqueue(made[:4])
    await finish(backend, made[0], "complete", T0 + timedelta(seconds=100), result={"ok": 1})
    await finish(backend, made[1], "fail", T0 + timedelta(seconds=200), error="boom")
    await backend.cancel(made[3].id, now=T0 + timedelta(seconds=300))
    await backend.enqueue(made[4:])
    claimed = await backend.claim_task(
        made[5].id, worker_id="w", now=T0 + timedelta(seconds=50), lease_until=T0 + timedelta(minutes=5)
    )
    assert claimed is not None and claimed.status == "running"
    return [r.id for r in made]


async def test_every_filter_time_bounds_and_both_orders(backend: SQLQueueBackend) -> None:
    ids = await mixed_records(backend)
    records = await stored(backend, ids)
    assert {r.status for r in records} == set(ALL_STATUSES)
    at = [r.created_at for r in records]
    finished = T0 + timedelta(seconds=200)  # the failed record's finished_at
    filters: list[dict[str, Any]] = [
        {},
        {"queues": ("a",)},
        {"queues": ("a", "c")},
        {"queues": ("nowhere",)},
        {"statuses": ("failed",)},
        {"statuses": ("pending", "scheduled", "running")},
        {"statuses": ("completed", "cancelled")},
        {"task_names": ("t.one",)},
        {"task_names": ("t.one", "t.two")},
        {"key": "k1"},
        {"key": "k1", "statuses": ("pending",)},
        {"key": "absent"},
        {"created_after": at[2]},  # inclusive: both records of the tie
        {"created_before": at[2]},  # exclusive
        {"created_after": at[1], "created_before": at[5]},
        {"created_after": at[5], "created_before": at[6]},  # one microsecond wide
        {"finished_after": finished},
        {"finished_before": finished},
        {"finished_after": T0, "finished_before": T0 + timedelta(days=1)},
        {"queues": ("a", "b"), "statuses": ("pending", "failed"), "task_names": ("t.two",)},
        {
            "queues": ("b",),
            "statuses": ("cancelled",),
            "created_after": at[3],
            "finished_before": T0 + timedelta(hours=1),
        },
    ]
    for fields in filters:
        for newest_first in (True, False):
            for limit in (1, 3, 50):
                query = RecordQuery(newest_first=newest_first, limit=limit, **fields)
                got = [r.id for r in await backend.query(query)]
                assert got == expected(records, query), query
    # the records a page holds are complete, the same as get returns
    listed = await backend.query(RecordQuery(limit=50))
    assert sorted(listed, key=lambda r: r.id) == sorted(records, key=lambda r: r.id)
    assert await backend.query(RecordQuery(statuses=(), limit=5)) == []
    assert await backend.query(RecordQuery(limit=0)) == []


@pytest.mark.parametrize("newest_first", [True, False])
async def test_keyset_pages_across_ties_of_created_at(backend: SQLQueueBackend, newest_first: bool) -> None:
    # 40 records, groups of 5 sharing a created_at: page boundaries fall inside the ties
    made = [
        rec(T0 + timedelta(seconds=n // 5), queue=("a", "b", "c")[n % 3], key=f"k{n}" if n % 4 == 0 else None)
        for n in range(40)
    ]
    await backend.enqueue(made)
    for n, record in enumerate(made[:12]):
        when = T0 + timedelta(minutes=n)
        if n % 3 == 0:
            await finish(backend, record, "fail", when, error="e")
        elif n % 3 == 1:
            await finish(backend, record, "complete", when)
        else:
            await backend.cancel(record.id, now=when)
    records = await stored(backend, [r.id for r in made])
    queries = [
        RecordQuery(newest_first=newest_first, limit=3),
        RecordQuery(newest_first=newest_first, limit=7, statuses=("pending",)),
        RecordQuery(newest_first=newest_first, limit=2, statuses=("failed", "cancelled")),
        RecordQuery(newest_first=newest_first, limit=4, queues=("a", "c")),
        RecordQuery(newest_first=newest_first, limit=1, queues=("b",), statuses=("pending", "completed")),
        RecordQuery(newest_first=newest_first, limit=3, created_after=T0 + timedelta(seconds=2)),
    ]
    for query in queries:
        everything = msgspec.structs.replace(query, limit=100)
        assert await page_through(backend, query) == expected(records, everything), query
    # a position inside a tie continues with the rest of the tie, not after it
    middle = sorted(records, key=lambda r: (r.created_at, r.id.bytes))[17]
    query = RecordQuery(newest_first=newest_first, limit=100, after=QueryPosition.of(middle))
    assert [r.id for r in await backend.query(query)] == expected(records, query)


async def test_many_queues_read_by_one_filtered_scan(backend: SQLQueueBackend) -> None:
    """More (queue, finished status) ranges than MAX_RANGES: one sorted scan with the queue list."""
    queues = tuple(f"q{n}" for n in range(MAX_RANGES // len(TERMINAL_STATUSES) + 1))
    made = [rec(T0 + timedelta(seconds=n // 2), queue=queues[n % len(queues)]) for n in range(30)]
    await backend.enqueue(made)
    for n, record in enumerate(made[:12]):
        await finish(backend, record, ("fail", "complete")[n % 2], T0, error="e")
    records = await stored(backend, [r.id for r in made])
    for statuses in (None, ("pending",), ("pending", "failed"), ("completed", "failed", "cancelled")):
        query = RecordQuery(queues=(*queues[1:], "other"), statuses=statuses, limit=4)  # type: ignore[arg-type]
        assert await page_through(backend, query) == expected(
            records, msgspec.structs.replace(query, limit=100)
        )


async def test_a_malformed_row_is_moved_aside_and_the_page_stays_full(backend: SQLQueueBackend) -> None:
    made = [rec(T0 + timedelta(seconds=n)) for n in range(6)]
    await backend.enqueue(made)
    tasks = backend.tables.tasks
    async with backend.engine.begin() as conn:  # args must be a JSON array
        await conn.execute(update(tasks).where(tasks.c.id == made[4].id).values(args=text("'{\"x\": 1}'")))
    page = await backend.query(RecordQuery(limit=3))
    assert [r.id for r in page] == [made[5].id, made[3].id, made[2].id]
    assert await backend.get(made[4].id) is None  # in the dead-letter table now


# -- plans ---------------------------------------------------------------------------------------

_FILL_POSTGRES = """
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata,
    attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at)
SELECT gen_random_uuid(), 't', 'q' || (n % 4), 0,
    CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 50 = 1 THEN 'pending' ELSE 'completed' END,
    '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3,
    now() + make_interval(secs => n / 3), now() FROM generate_series(1, 20000) AS n
"""

_FILL_SQLITE = """
WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 20000)
INSERT INTO {table} (id, task_name, queue, priority, status, args, kwargs, metadata,
    attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at)
SELECT lower(hex(randomblob(16))), 't', 'q' || (n % 4), 0,
    CASE WHEN n % 20 = 0 THEN 'failed' WHEN n % 50 = 1 THEN 'pending' ELSE 'completed' END,
    '[]', '{{}}', '{{}}', 0, 0, 0, 0, 3,
    strftime('%Y-%m-%d %H:%M:%S', 1900000000 + n / 3, 'unixepoch') || '.000000',
    '2030-01-01 00:00:00.000000'
FROM numbers
"""


async def test_listing_failed_records_is_an_index_scan(db_url: str) -> None:
    """The newest 50 failed records (and deep pages) are an ordered range of the finished index."""
    backend = SQLQueueBackend(db_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        postgres = await fill_tasks(backend, _FILL_POSTGRES, _FILL_SQLITE)
        failed = await backend.query(RecordQuery(statuses=("failed",), limit=50))
        assert len(failed) == 50 and all(r.status == "failed" for r in failed)
        deep = RecordQuery(statuses=("failed",), limit=50, after=QueryPosition.of(failed[-1]))
        finished = [
            RecordQuery(statuses=("failed",), limit=50),
            deep,
            RecordQuery(queues=("q1",), statuses=("failed",), limit=50),
            RecordQuery(queues=("q1", "q2"), statuses=("failed", "completed"), limit=50, newest_first=False),
        ]
        for query in finished:
            plan = "\n".join(await _plan(backend, query))
            if postgres:
                assert (
                    f" Scan Backward using {tasks}_finished " in plan
                    or f" Scan using {tasks}_finished " in plan
                )
                assert "Seq Scan" not in plan and "Bitmap" not in plan and not _sorts(plan), plan
            else:
                assert f"USING COVERING INDEX {tasks}_finished " in plan, plan
                assert f"SCAN {tasks}" not in plan, plan
        # active records come from the claim index (sorted: there are few of them), never a full scan
        for query in (RecordQuery(statuses=("pending",), limit=50), RecordQuery(limit=50)):
            plan = "\n".join(await _plan(backend, query))
            assert f"{tasks}_ready" in plan, plan
            assert ("Seq Scan" not in plan) if postgres else (f"SCAN {tasks}\n" not in plan + "\n"), plan
        assert (
            await backend.query(deep) == (await backend.query(msgspec.structs.replace(deep, limit=100)))[:50]
        )
    finally:
        await backend.close()


def _sorts(plan: str) -> list[str]:
    """The Sort nodes of a PostgreSQL plan (a "Sort Key:" line of a Merge Append is no sort)."""
    nodes = (line.strip().removeprefix("->").strip() for line in plan.splitlines())
    return [node for node in nodes if node.split(" (")[0] in ("Sort", "Incremental Sort")]


async def _plan(backend: SQLQueueBackend, query: RecordQuery) -> list[str]:
    async with backend.engine.connect() as conn:
        return await explain_query(conn, backend.tables, query)


# -- requeue -------------------------------------------------------------------------------------


async def active_holders(backend: SQLQueueBackend, key: str) -> list[TaskRecord]:
    return list(await backend.query(RecordQuery(key=key, statuses=("pending", "scheduled", "running"))))


async def test_requeue_keeps_runs_error_history_and_notifies(backend: SQLQueueBackend) -> None:
    first = rec(T0, key="k")
    await backend.enqueue([first])
    entry = AttemptRecord(run=1, worker_id="w", started_at=T0, finished_at=T0, verdict="failed", error="boom")
    failed = await finish(backend, first, "fail", T0, error="boom", history=[entry])
    later = T0 + timedelta(minutes=5)
    again = await backend.requeue(first.id, now=later)
    assert again == msgspec.structs.replace(
        failed, status="pending", run_at=later, attempts=0, reclaims=0, finished_at=None, result=None
    )
    assert again.history == [entry] and again.runs == 1 and again.error == "boom"
    assert await backend.get(first.id) == again
    (claimed,) = await backend.claim(
        queues=None, worker_id="w2", limit=5, now=later, lease_until=later + LEASE
    )
    assert claimed.id == first.id and claimed.runs == 2 and claimed.attempts == 1
    assert await backend.requeue(first.id, now=later) == claimed  # running: unchanged
    assert await backend.requeue(uuid.uuid4(), now=later) is None


async def test_the_lease_of_a_record_requeued_and_claimed_again_is_lost(backend: SQLQueueBackend) -> None:
    """extend_leases judges each (id, lease) pair: the record's newer lease does not hold the old one."""
    first = rec(T0)
    await backend.enqueue([first])
    old = await backend.claim_task(first.id, worker_id="w", now=T0, lease_until=T0 + LEASE)
    assert old is not None and old.lease_id is not None
    await backend.cancel(first.id, now=T0)
    await backend.requeue(first.id, now=T0)
    new = await backend.claim_task(first.id, worker_id="w", now=T0, lease_until=T0 + LEASE)
    assert new is not None and new.lease_id not in (None, old.lease_id)
    until = T0 + 2 * LEASE
    # a worker that still heartbeats the old lease beside the new one (one call, both pairs)
    both = [(first.id, old.lease_id), (first.id, new.lease_id or "")]
    assert await backend.extend_leases(both, until=until) == {first.id}
    assert await backend.extend_leases(both[1:], until=until) == set()
    assert (await backend.get(first.id)) == msgspec.structs.replace(new, lease_expires_at=until)


@pytest.mark.parametrize("commit", [True, False])
async def test_requeue_waiting_for_an_uncommitted_enqueue_of_its_key(db_url: str, commit: bool) -> None:
    """An enqueue holds the key in an open transaction; requeue waits, then yields or proceeds."""
    backend = SQLQueueBackend(db_url)
    other = SQLQueueBackend(db_url)  # a second engine: the enqueue's connection is its own
    await backend.open()
    await other.open()
    try:
        first = rec(T0, key="race")
        await backend.enqueue([first])
        await finish(backend, first, "fail", T0, error="boom")
        newcomer = rec(T0, key="race")
        outcome: list[TaskRecord | None] = []

        async def requeue() -> None:
            outcome.append(await backend.requeue(first.id, now=T0))

        async with other.engine.connect() as conn:
            transaction = await conn.begin()
            (result,) = await other.enqueue_in(conn, [newcomer])
            assert result.created
            async with anyio.create_task_group() as tg:
                tg.start_soon(requeue)
                await _until_waiting(backend)
                assert not outcome  # the requeue waits for the enqueue's transaction
                await (transaction.commit() if commit else transaction.rollback())
        (after,) = outcome
        assert after is not None
        holders = await active_holders(backend, "race")
        if commit:
            assert after.status == "failed"
            assert [h.id for h in holders] == [newcomer.id]
        else:
            assert after.status == "pending"
            assert [h.id for h in holders] == [first.id]
    finally:
        await other.close()
        await backend.close()


async def _until_waiting(backend: SQLQueueBackend) -> None:
    """Until a statement waits for a lock (PostgreSQL), or a moment (SQLite: the write lock)."""
    if backend.dialect != "postgresql":
        await anyio.sleep(0.3)
        return
    with anyio.fail_after(10):
        while True:
            async with backend.engine.connect() as conn:
                waiting = await conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                )
            if waiting:
                return
            await anyio.sleep(0.01)


async def test_requeue_racing_enqueues_of_the_same_key(db_url: str) -> None:
    """Requeue and enqueue of one key at once, on two connections: one active holder, no error."""
    first_backend = SQLQueueBackend(db_url)
    second_backend = SQLQueueBackend(db_url)
    await first_backend.open()
    await second_backend.open()
    try:
        rounds = 15
        olds = [rec(T0, key=f"key-{n}") for n in range(rounds)]
        await first_backend.enqueue(olds)
        for old in olds:
            await finish(first_backend, old, "fail", T0, error="boom")
        for n, old in enumerate(olds):
            newcomer = rec(T0, key=f"key-{n}")
            results: dict[str, Any] = {}

            async def requeue(old: TaskRecord = old, results: dict[str, Any] = results) -> None:
                results["requeue"] = await first_backend.requeue(old.id, now=T0)

            async def enqueue(newcomer: TaskRecord = newcomer, results: dict[str, Any] = results) -> None:
                (results["enqueue"],) = await second_backend.enqueue([newcomer])

            async with anyio.create_task_group() as tg:
                if n % 2:
                    tg.start_soon(requeue)
                    tg.start_soon(enqueue)
                else:
                    tg.start_soon(enqueue)
                    tg.start_soon(requeue)
            holders = await active_holders(first_backend, f"key-{n}")
            assert len(holders) == 1
            requeued, enqueued = results["requeue"], results["enqueue"]
            if requeued.status == "pending":
                assert holders[0].id == old.id
                assert not enqueued.created and enqueued.record.id == old.id
            else:
                assert requeued.status == "failed"
                assert enqueued.created and holders[0].id == newcomer.id
    finally:
        await second_backend.close()
        await first_backend.close()


# -- history -------------------------------------------------------------------------------------


async def test_history_round_trip_through_finish_get_and_query(backend: SQLQueueBackend) -> None:
    first = rec(T0, max_retries=2)
    await backend.enqueue([first])
    one = AttemptRecord(
        run=1,
        worker_id="w",
        started_at=T0,
        finished_at=T0 + timedelta(microseconds=250),
        verdict="retried",
        error="ValueError: zoë ✓",
        traceback='Traceback (most recent call last):\n  File "t.py", line 1\nValueError: zoë ✓\n',
    )
    retried = await finish(backend, first, "retry", T0, error=one.error, run_at=T0, history=[one])
    assert retried.history == [one]
    assert (await backend.get(first.id)).history == [one]  # type: ignore[union-attr]
    # what no database text can hold is replaced, as in the error column
    two = AttemptRecord(run=2, verdict="released", error="nul \x00 here", traceback="lone \ud800 surrogate")
    released = await finish(backend, first, "release", T0, history=[one, two])
    assert released.history == [
        one,
        msgspec.structs.replace(two, error="nul \ufffd here", traceback="lone \ufffd surrogate"),
    ]
    # no history with the outcome: the stored one is kept
    done = await finish(backend, first, "complete", T0 + timedelta(seconds=1), result=3)
    assert done.history == released.history and done.status == "completed"
    (listed,) = await backend.query(RecordQuery(statuses=("completed",)))
    assert listed == done == await backend.get(first.id)
    # a batch of several outcomes, each with its own history (one without)
    batch = [rec(T0 + timedelta(seconds=n)) for n in range(3)]
    await backend.enqueue(batch)
    claimed = {
        r.id: r
        for r in await backend.claim(queues=None, worker_id="w", limit=3, now=T0, lease_until=T0 + LEASE)
    }
    histories = [
        [AttemptRecord(run=1, verdict="completed", worker_id=f"w{n}")] if n != 1 else None for n in range(3)
    ]
    outcomes = [
        Outcome(task_id=r.id, lease_id=claimed[r.id].lease_id or "", kind="complete", history=h)
        for r, h in zip(batch, histories, strict=True)
    ]
    applied = await backend.finish(outcomes, now=T0)
    assert [a.history if a else None for a in applied] == [histories[0], [], histories[2]]
    listed_batch = {r.id: r.history for r in await backend.query(RecordQuery(statuses=("completed",)))}
    assert listed_batch == {
        first.id: done.history,
        **{r.id: h or [] for r, h in zip(batch, histories, strict=True)},
    }


async def test_a_record_enqueued_with_history_keeps_it(backend: SQLQueueBackend) -> None:
    entry = AttemptRecord(run=3, verdict="lease_expired", error="lost")
    copy = msgspec.structs.replace(rec(T0), history=[entry])
    (result,) = await backend.enqueue([copy])
    assert result.created and (await backend.get(copy.id)) == copy


# -- upgrade ------------------------------------------------------------------------------------

# the tasks table as the releases before the history column created it (and its indexes)
_OLD_COLUMNS = {
    "postgresql": (
        "seq BIGSERIAL PRIMARY KEY, id UUID NOT NULL, task_name TEXT NOT NULL, queue TEXT NOT NULL,"
        " priority INTEGER NOT NULL, status TEXT NOT NULL, key TEXT, args JSONB NOT NULL,"
        " kwargs JSONB NOT NULL, metadata JSONB NOT NULL, attempts INTEGER NOT NULL,"
        " max_retries INTEGER NOT NULL, runs INTEGER NOT NULL, reclaims INTEGER NOT NULL,"
        " max_reclaims INTEGER NOT NULL, timeout FLOAT, execution_backend TEXT, execution_profile TEXT,"
        " created_at TIMESTAMP WITH TIME ZONE NOT NULL, run_at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " started_at TIMESTAMP WITH TIME ZONE, finished_at TIMESTAMP WITH TIME ZONE, lease_id TEXT,"
        " lease_expires_at TIMESTAMP WITH TIME ZONE, worker_id TEXT, result JSONB, error TEXT"
    ),
    "sqlite": (
        "seq INTEGER NOT NULL PRIMARY KEY, id CHAR(32) NOT NULL, task_name TEXT NOT NULL,"
        ' queue TEXT NOT NULL, priority INTEGER NOT NULL, status TEXT NOT NULL, "key" TEXT,'
        " args TEXT NOT NULL, kwargs TEXT NOT NULL, metadata TEXT NOT NULL, attempts INTEGER NOT NULL,"
        " max_retries INTEGER NOT NULL, runs INTEGER NOT NULL, reclaims INTEGER NOT NULL,"
        " max_reclaims INTEGER NOT NULL, timeout FLOAT, execution_backend TEXT, execution_profile TEXT,"
        " created_at DATETIME NOT NULL, run_at DATETIME NOT NULL, started_at DATETIME,"
        " finished_at DATETIME, lease_id TEXT, lease_expires_at DATETIME, worker_id TEXT,"
        " result TEXT, error TEXT"
    ),
}
_OLD_INDEXES = (
    "CREATE UNIQUE INDEX {p}tasks_active_key ON {p}tasks (key)"
    " WHERE key IS NOT NULL AND status IN ('pending', 'scheduled', 'running')",
    "CREATE UNIQUE INDEX {p}tasks_id ON {p}tasks (id)",
    "CREATE INDEX {p}tasks_leases ON {p}tasks (lease_expires_at) WHERE status = 'running'",
    "CREATE INDEX {p}tasks_ready ON {p}tasks (priority DESC, seq) WHERE status IN ('pending', 'scheduled')",
    "CREATE INDEX {p}tasks_ready_queue ON {p}tasks (queue, priority DESC, seq)"
    " WHERE status IN ('pending', 'scheduled')",
)


async def test_a_table_from_before_the_history_column_is_upgraded_on_open(db_url: str) -> None:
    prefix = f"u{uuid.uuid4().hex[:8]}_"
    url = f"{db_url}{'&' if '?' in db_url else '?'}table_prefix={prefix}"
    # the old release's tables, and rows it wrote (through a backend that creates nothing)
    plain = SQLQueueBackend(url, create_schema=False)
    await plain.open()
    old = [rec(T0, key="old-1"), rec(T0 + timedelta(seconds=1), queue="b")]
    try:
        async with plain.engine.begin() as conn:
            dialect = conn.dialect.name
            await conn.execute(text(f"CREATE TABLE {prefix}tasks ({_OLD_COLUMNS[dialect]})"))
            for ddl in _OLD_INDEXES:
                await conn.execute(text(ddl.format(p=prefix)))
            added = ("seq", "history", "limit_key")  # columns the old release did not have
            old_columns = [c for c in plain.tables.tasks.c if c.name not in added]
            for record in old:
                values = {c.name: getattr(record, c.name) for c in old_columns}
                for name in ("args", "kwargs", "metadata", "result"):
                    values[name] = msgspec.json.encode(values[name]).decode()
                await conn.execute(plain.tables.tasks.insert().values(values))
    finally:
        await plain.close()

    # two processes opening the new release at once: each adds what is missing, once
    backends = await open_at_once(url)
    backend = backends[0]
    try:
        async with backend.engine.connect() as conn:
            columns, indexes = await conn.run_sync(
                lambda c: (
                    {col["name"] for col in inspect(c).get_columns(f"{prefix}tasks")},
                    {ix["name"] for ix in inspect(c).get_indexes(f"{prefix}tasks")},
                )
            )
        assert {"history", "limit_key"} <= columns
        assert {f"{prefix}tasks_finished", f"{prefix}tasks_finished_key", f"{prefix}tasks_running"} <= indexes
        for record in old:
            assert await backend.get(record.id) == record  # history [] on the old rows
        assert [r.id for r in await backend.query(RecordQuery())] == [old[1].id, old[0].id]
        # a NULL history (a hand-made row, a migration without the default) reads as []
        async with backend.engine.begin() as conn:
            tasks = backend.tables.tasks
            await conn.execute(update(tasks).where(tasks.c.id == old[0].id).values(history=None))
        assert (await backend.get(old[0].id)) == old[0]
        entry = AttemptRecord(run=1, verdict="completed")
        done = await finish(backend, old[0], "complete", T0, history=[entry])
        assert done.history == [entry] and (await backend.get(old[0].id)) == done
        await backends[1].close()
        again = SQLQueueBackend(url)  # and once more: nothing left to add
        await again.open()
        await again.close()
    finally:
        for b in backends:
            await b.close()
