"""Hostile rows and values on PostgreSQL and SQLite (issue 13, SQL part).

Rows damaged with raw SQL (an id that is no UUID, a timestamp that does not parse, a text
priority, an unknown status, JSON that is broken or of the wrong shape, text that is not UTF-8)
are moved to the dead-letter table by whatever meets them (claim, claim by id, get, cancel, an
enqueue of the key they hold, the expired-lease sweep, finish), on the connection that read
them: nothing hangs, the good records are still handed out, none is left running. Values the
database cannot hold are refused at enqueue with typed errors that never quote the arguments.
"""

from __future__ import annotations

import contextlib
import random
import string
import traceback
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from sqlalchemy import func, literal_column, select, text, update

from litestar_queues import (
    MalformedRecordError,
    PayloadTooLargeError,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    SerializationError,
    TaskRegistry,
    task,
)
from litestar_queues.models import Outcome
from litestar_queues_sql import SQLQueueBackend, enqueue_in_transaction

from .conftest import LEASE, T0, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from uuid import UUID

    from litestar_queues.models import TaskRecord

pytestmark = pytest.mark.anyio

SECRET = "SECRET-hunter2"
"""An argument value that must never appear in an error message or its traceback."""

# column -> raw SQL value; each damage makes the row undecodable in its own way
DAMAGE: dict[str, dict[str, dict[str, str]]] = {
    "sqlite": {
        "id not a uuid": {"id": "'not-a-uuid'"},
        "timestamp does not parse": {"created_at": "'yesterday'"},
        "text priority": {"priority": "'high'"},
        "broken json": {"args": "'[1,'"},
        "text not utf-8": {"task_name": "CAST(x'ff' AS TEXT)"},
    },
    "postgres": {
        "args not a list": {"args": """'{"not": "a list"}'::jsonb"""},
        "kwargs not an object": {"kwargs": "'[1, 2]'::jsonb"},
        "metadata not an object": {"metadata": """'"text"'::jsonb"""},
    },
}
UNKNOWN_STATUS = {"status": "'paused'"}
FOUND_BY_ID = {  # damage that leaves the id readable: get, cancel and claim by id still find the row
    db: {name: values for name, values in cases.items() if "id" not in values} for db, cases in DAMAGE.items()
}


def cases(table: dict[str, dict[str, dict[str, str]]]) -> list[Any]:
    return [
        pytest.param(db, values, id=f"{db}-{name}")
        for db, damage in table.items()
        for name, values in damage.items()
    ]


@contextlib.asynccontextmanager
async def opened(request: pytest.FixtureRequest, db: str) -> AsyncIterator[SQLQueueBackend]:
    backend = SQLQueueBackend(str(request.getfixturevalue(f"{db}_url")))
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def damage(backend: SQLQueueBackend, task_id: UUID, values: dict[str, str]) -> None:
    """Overwrite columns of a stored row with raw SQL values, past SQLAlchemy's types."""
    tasks = backend.tables.tasks
    stmt = (
        update(tasks).where(tasks.c.id == task_id).values({k: literal_column(v) for k, v in values.items()})
    )
    async with backend.engine.begin() as conn:
        assert (await conn.execute(stmt)).rowcount == 1


async def dead_letters(backend: SQLQueueBackend) -> list[tuple[str, str, str]]:
    dead = backend.tables.dead_letters
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(select(dead.c.task_id, dead.c.row, dead.c.error))).all()
    return [(str(t), str(r), str(e)) for t, r, e in rows]


async def statuses(backend: SQLQueueBackend) -> dict[str, int]:
    tasks = backend.tables.tasks
    stmt = select(tasks.c.status, func.count()).group_by(tasks.c.status)
    async with backend.engine.connect() as conn:
        return {str(status): int(count) for status, count in (await conn.execute(stmt)).all()}


async def claim(backend: SQLQueueBackend, limit: int = 100, now: Any = T0) -> list[TaskRecord]:
    return await backend.claim(queues=None, worker_id="w", limit=limit, now=now, lease_until=now + LEASE)


def assert_moved_aside(moved: list[tuple[str, str, str]], bad: TaskRecord, values: dict[str, str]) -> None:
    assert len(moved) == 1
    task_id, row, error = moved[0]
    assert task_id == (str(bad.id) if "id" not in values else "not-a-uuid")
    assert "cannot be decoded" in error
    assert '"seq":' in row  # the raw values are kept


# -- malformed rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_claim_moves_a_bad_row_aside_and_hands_out_the_good_ones(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        first, bad, second = record(), record(priority=5), record()
        await backend.enqueue([first, bad, second])
        await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            claimed = await claim(backend)
        assert [r.id for r in claimed] == [first.id, second.id]
        assert_moved_aside(await dead_letters(backend), bad, values)
        assert await statuses(backend) == {"running": 2}  # nothing stranded
        with anyio.fail_after(5):
            assert await claim(backend) == []


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_a_claim_of_only_bad_rows_commits_and_returns_nothing(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        bad, good = record(priority=9), record()
        await backend.enqueue([bad, good])
        await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            assert await claim(backend, limit=1) == []
            assert [r.id for r in await claim(backend, limit=1)] == [good.id]
        assert len(await dead_letters(backend)) == 1
        assert await statuses(backend) == {"running": 1}


@pytest.mark.parametrize(("db", "values"), cases(FOUND_BY_ID))
async def test_claim_by_id_moves_a_bad_row_aside(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        bad = record()
        await backend.enqueue([bad])
        await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            assert await backend.claim_task(bad.id, worker_id="w", now=T0, lease_until=T0 + LEASE) is None
        assert_moved_aside(await dead_letters(backend), bad, values)
        assert await statuses(backend) == {}


@pytest.mark.parametrize(
    ("db", "values"),
    [*cases(FOUND_BY_ID), *cases({"sqlite": {"unknown status": UNKNOWN_STATUS}})],
)
async def test_get_and_cancel_move_a_bad_row_aside(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        read, cancelled = record(), record()
        await backend.enqueue([read, cancelled])
        for bad in (read, cancelled):
            await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            with pytest.raises(MalformedRecordError, match="moved to"):
                await backend.get(read.id)
            assert await backend.get(read.id) is None
            with pytest.raises(MalformedRecordError, match="moved to"):
                await backend.cancel(cancelled.id, now=T0)
        moved = await dead_letters(backend)
        assert sorted(t for t, _, _ in moved) == sorted([str(read.id), str(cancelled.id)])
        assert await statuses(backend) == {}


async def test_counts_survive_damaged_names_on_sqlite(sqlite_url: str) -> None:
    backend = SQLQueueBackend(sqlite_url)
    await backend.open()
    try:
        bad_status, bad_queue, good = record(), record(), record()
        await backend.enqueue([bad_status, bad_queue, good])
        await damage(backend, bad_status.id, {"status": "CAST(x'ff' AS TEXT)"})
        await damage(backend, bad_queue.id, {"queue": "CAST(x'6fff' AS TEXT)"})
        assert await backend.counts() == {"default": {"pending": 1, "\\xff": 1}, "o\\xff": {"pending": 1}}
    finally:
        await backend.close()


async def test_unknown_status_on_postgres_is_moved_aside(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        bad = record()
        await backend.enqueue([bad])
        await damage(backend, bad.id, UNKNOWN_STATUS)
        with anyio.fail_after(5), pytest.raises(MalformedRecordError):
            await backend.get(bad.id)
        assert [t for t, _, _ in await dead_letters(backend)] == [str(bad.id)]
    finally:
        await backend.close()


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_enqueue_of_a_key_a_bad_row_holds_moves_it_aside(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        bad, new = record(key="report:1"), record(key="report:1")
        await backend.enqueue([bad])
        await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            (result,) = await backend.enqueue([new])
        assert result.created and result.record == new
        assert_moved_aside(await dead_letters(backend), bad, values)
        assert await backend.get(new.id) == new
        assert await statuses(backend) == {"pending": 1}


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_enqueue_in_a_transaction_moves_a_bad_holder_aside_in_it(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        bad, new = record(key="k"), record(key="k")
        await backend.enqueue([bad])
        await damage(backend, bad.id, values)
        with anyio.fail_after(5):
            async with backend.engine.begin() as conn:
                (result,) = await backend.enqueue_in(conn, [new])
        assert result.created
        assert len(await dead_letters(backend)) == 1
        assert await statuses(backend) == {"pending": 1}


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_expired_lease_sweep_moves_bad_rows_aside(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        good, bad = record(), record()
        await backend.enqueue([good, bad])
        assert len(await claim(backend)) == 2
        await damage(backend, bad.id, values)  # damaged while its worker runs it, then the worker dies
        with anyio.fail_after(5):
            requeued = await backend.reclaim_expired(now=T0 + 2 * LEASE)
        assert [(r.id, r.status) for r in requeued] == [(good.id, "pending")]
        assert_moved_aside(await dead_letters(backend), bad, values)
        assert await statuses(backend) == {"pending": 1}
        with anyio.fail_after(5):  # the sweep keeps working
            assert await backend.reclaim_expired(now=T0 + 4 * LEASE) == []


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_finish_moves_a_bad_running_row_aside(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    async with opened(request, db) as backend:
        good, bad = record(), record()
        await backend.enqueue([good, bad])
        leases = {r.id: r.lease_id for r in await claim(backend)}
        await damage(backend, bad.id, values)
        outcomes = [
            Outcome(task_id=t.id, lease_id=str(leases[t.id]), kind="complete", result=1) for t in (bad, good)
        ]
        with anyio.fail_after(5):
            applied = await backend.finish(outcomes, now=T0)
        assert applied[0] is None  # as for a lost lease
        assert applied[1] is not None and applied[1].status == "completed"
        if "id" in values:  # the outcome cannot name that row: it waits for its lease to expire
            assert await statuses(backend) == {"completed": 1, "running": 1}
            with anyio.fail_after(5):
                assert await backend.reclaim_expired(now=T0 + 2 * LEASE) == []
        assert_moved_aside(await dead_letters(backend), bad, values)
        assert await statuses(backend) == {"completed": 1}


registry = TaskRegistry()


@task("reliability.echo", registry=registry)
async def echo(value: Any) -> Any:
    return value


@pytest.mark.parametrize(("db", "values"), cases(DAMAGE))
async def test_a_worker_drains_the_good_tasks_past_a_bad_row(
    request: pytest.FixtureRequest, db: str, values: dict[str, str]
) -> None:
    url = str(request.getfixturevalue(f"{db}_url"))
    async with QueueService(QueueConfig(queue_backend=url, registry=registry)) as service:
        backend = service.backend
        assert isinstance(backend, SQLQueueBackend)
        bad = await service.enqueue(echo, 0, priority=5)
        handles = [await service.enqueue(echo, n) for n in range(1, 6)]
        await damage(backend, bad.id, values)
        with anyio.fail_after(20):
            async with service.worker(concurrency=2):
                for handle in handles:
                    assert (await handle.wait(timeout=20)).result == handle.record.args[0]
        assert await statuses(backend) == {"completed": 5}
        assert len(await dead_letters(backend)) == 1


# -- limits at enqueue -----------------------------------------------------------------------------

INT_LIMIT = {"postgres": 2**31, "sqlite": 2**63}


def junk(size: int, seed: int = 0) -> str:
    """Random ASCII letters: text that does not compress (PostgreSQL compresses long index keys)."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters) for _ in range(size))


def assert_no_secret(exc: BaseException) -> None:
    shown = "".join(traceback.format_exception(exc))
    assert SECRET not in shown
    assert SECRET not in repr(exc.args)


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
@pytest.mark.parametrize("field", ["priority", "max_retries"])
async def test_integers_out_of_range_are_refused_before_any_write(
    request: pytest.FixtureRequest, db: str, field: str
) -> None:
    limit = INT_LIMIT[db]
    label = "retries" if field == "max_retries" else field
    async with opened(request, db) as backend:
        for value in (limit, -limit - 1):
            bad = record(args=[SECRET], **{field: value})
            with pytest.raises(
                QueueConfigurationError, match=rf"^{label} of task .* from {-limit} to {limit - 1}"
            ) as caught:
                await backend.enqueue([record(), bad])  # the good one first: nothing is stored
            assert_no_secret(caught.value)
        assert await backend.counts() == {}
        edges = [record(**{field: limit - 1}), record(**{field: -limit})]
        await backend.enqueue(edges)
        for edge in edges:
            assert await backend.get(edge.id) == edge


NUL_OPTIONS = [{"task_name": "t.a\x00b"}, {"queue": "q\x00"}, {"key": f"{SECRET}\x00"}]
NUL_PAYLOADS = [
    ({"args": [1, f"{SECRET}\x00"]}, "argument 1 (args[1])"),
    ({"args": [{f"{SECRET}\x00": 1}]}, "argument 0 (args[0])"),
    ({"kwargs": {"password": [f"{SECRET}\x00"]}}, "keyword argument 'password'"),
    ({"kwargs": {f"{SECRET}\x00": 1}}, "a key of kwargs"),
    ({"metadata": {"m": {"n": f"{SECRET}\x00"}}}, "metadata key 'm'"),
    ({"metadata": {f"{SECRET}\x00": 1}}, "a key of metadata"),
]


@pytest.mark.parametrize("fields", NUL_OPTIONS)
async def test_nul_in_an_option_is_refused_on_postgres(postgres_url: str, fields: dict[str, Any]) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        field = next(iter(fields))
        with pytest.raises(QueueConfigurationError, match=r"NUL character \(U\+0000\)") as caught:
            await backend.enqueue([record(args=[SECRET], **fields)])
        assert ("the task name" if field == "task_name" else field) in str(caught.value)
        assert_no_secret(caught.value)
        assert await backend.counts() == {}
    finally:
        await backend.close()


@pytest.mark.parametrize(("fields", "where"), NUL_PAYLOADS)
async def test_nul_in_arguments_or_metadata_is_refused_on_postgres(
    postgres_url: str, fields: dict[str, Any], where: str
) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        with pytest.raises(SerializationError, match=r"NUL character \(U\+0000\)") as caught:
            await backend.enqueue([record(), record(**fields)])
        assert str(caught.value).startswith(f"{where} of task 't.noop'")
        assert_no_secret(caught.value)
        assert await backend.counts() == {}
        # a backslash followed by u0000 is ordinary text
        literal = record(args=["\\u0000"], kwargs={"\\u0000": "\\u0000"})
        await backend.enqueue([literal])
        assert await backend.get(literal.id) == literal
    finally:
        await backend.close()


async def test_nul_round_trips_on_sqlite(sqlite_url: str) -> None:
    backend = SQLQueueBackend(sqlite_url)
    await backend.open()
    try:
        fields: dict[str, Any] = {}
        for option in NUL_OPTIONS:
            fields |= option
        stored = [record(**fields)] + [record(**payload) for payload, _ in NUL_PAYLOADS]
        await backend.enqueue(stored)
        for r in stored:
            assert await backend.get(r.id) == r
    finally:
        await backend.close()


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
@pytest.mark.parametrize("field", ["queue", "key"])
async def test_unpaired_surrogates_are_refused(request: pytest.FixtureRequest, db: str, field: str) -> None:
    async with opened(request, db) as backend:
        with pytest.raises(QueueConfigurationError, match=rf"^{field} of task .* unpaired surrogate"):
            await backend.enqueue([record(args=[SECRET], **{field: "a\ud800"})])
        assert await backend.counts() == {}


@pytest.mark.parametrize("field", ["queue", "key"])
async def test_long_queue_names_and_keys_are_refused_on_postgres(postgres_url: str, field: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        for value, size in ((junk(2001), 2001), ("é" * 1001, 2002), (junk(100_000), 100_000)):
            with pytest.raises(
                QueueConfigurationError, match=rf"{size} bytes .* limit of 2000 bytes"
            ) as caught:
                await backend.enqueue([record(args=[SECRET], **{field: value})])
            assert value not in str(caught.value)
            assert_no_secret(caught.value)
        assert await backend.counts() == {}
        edge = record(**{field: junk(2000)})  # incompressible, at the limit: the index takes it
        await backend.enqueue([edge])
        assert await backend.get(edge.id) == edge
    finally:
        await backend.close()


async def test_long_queue_names_and_keys_are_stored_on_sqlite(sqlite_url: str) -> None:
    backend = SQLQueueBackend(sqlite_url)
    await backend.open()
    try:
        long = record(queue=junk(100_000), key=junk(100_000, seed=1))
        await backend.enqueue([long])
        assert await backend.get(long.id) == long
    finally:
        await backend.close()


# what the database itself still refuses: a table changed by its owner
REFUSE = {
    "postgres": "ALTER TABLE {table} ADD CONSTRAINT {table}_no_forbidden CHECK (queue <> 'forbidden')",
    "sqlite": (
        "CREATE TRIGGER {table}_no_forbidden BEFORE INSERT ON {table} WHEN NEW.queue = 'forbidden' "
        "BEGIN SELECT RAISE(ABORT, 'forbidden queue'); END"
    ),
}


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
async def test_a_refused_enqueue_is_typed_and_quotes_no_argument(
    request: pytest.FixtureRequest, db: str
) -> None:
    async with opened(request, db) as backend:
        table = backend.tables.tasks.name
        async with backend.engine.begin() as conn:
            await conn.execute(text(REFUSE[db].format(table=table)))
        refused = record(
            queue="forbidden", args=[SECRET], kwargs={"password": SECRET}, metadata={"m": SECRET}
        )
        with pytest.raises(QueueConfigurationError, match="refused to store 1 task record") as caught:
            await backend.enqueue([refused])
        assert_no_secret(caught.value)
        assert "make it match litestar_queues_sql.queue_tables" in str(caught.value)
        if db == "postgres":
            assert f"constraint {table}_no_forbidden" in str(caught.value)
            assert "SQLSTATE 23514" in str(caught.value)
        async with backend.engine.connect() as conn:  # in the caller's transaction too
            with pytest.raises(QueueConfigurationError, match="refused") as caught:
                await backend.enqueue_in(conn, [refused])
            assert_no_secret(caught.value)
            await conn.rollback()
        assert await backend.counts() == {}


async def test_a_value_over_an_index_limit_of_the_users_is_payload_too_large(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        async with backend.engine.begin() as conn:
            await conn.execute(text(f"CREATE INDEX {tasks}_by_name ON {tasks} (task_name)"))
        with pytest.raises(PayloadTooLargeError, match="SQLSTATE 54000") as caught:
            await backend.enqueue([record(task_name=junk(3000), args=[SECRET])])
        assert_no_secret(caught.value)
        assert await backend.counts() == {}
    finally:
        await backend.close()


async def test_enqueue_into_missing_tables_names_the_fix(postgres_url: str) -> None:
    backend = SQLQueueBackend(f"{postgres_url}&create_schema=false")
    await backend.open()
    try:
        with pytest.raises(QueueConfigurationError, match=r"SQLSTATE 42P01.*create-schema") as caught:
            await backend.enqueue([record(args=[SECRET])])
        assert_no_secret(caught.value)
    finally:
        await backend.close()


async def test_service_enqueue_gets_the_typed_errors(postgres_url: str) -> None:
    async with QueueService(QueueConfig(queue_backend=postgres_url, registry=registry)) as service:
        with pytest.raises(QueueConfigurationError, match="priority"):
            await service.enqueue(echo, SECRET, priority=2**31)
        with pytest.raises(SerializationError, match="argument 0") as caught:
            await service.enqueue(echo, f"{SECRET}\x00")
        assert_no_secret(caught.value)
        engine = service.backend.engine  # type: ignore[attr-defined]
        async with engine.begin() as conn:
            with pytest.raises(QueueConfigurationError, match="key"):
                await enqueue_in_transaction(service, conn, echo, SECRET, key="k\x00")
        assert (await service.stats()).total == 0


async def test_a_worker_id_with_nul_is_refused_on_postgres(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        with pytest.raises(QueueConfigurationError, match="WorkerConfig"):
            await backend.claim(queues=None, worker_id="w\x00", limit=1, now=T0, lease_until=T0 + LEASE)
    finally:
        await backend.close()


# -- what a hostile task reports --------------------------------------------------------------------


@pytest.mark.parametrize("db", ["postgres", "sqlite"])
async def test_finish_stores_what_a_hostile_task_reports(request: pytest.FixtureRequest, db: str) -> None:
    async with opened(request, db) as backend:
        nul_result, bad_error, plain = record(), record(), record()
        await backend.enqueue([nul_result, bad_error, plain])
        leases = {r.id: str(r.lease_id) for r in await claim(backend)}
        outcomes = [
            Outcome(
                task_id=nul_result.id, lease_id=leases[nul_result.id], kind="complete", result=["a\x00b"]
            ),
            Outcome(
                task_id=bad_error.id, lease_id=leases[bad_error.id], kind="fail", error="boom\x00\ud800!"
            ),
            Outcome(task_id=plain.id, lease_id=leases[plain.id], kind="complete", result="ok"),
        ]
        with anyio.fail_after(10):
            first, second, third = await backend.finish(outcomes, now=T0)
        assert first is not None and second is not None and third is not None
        if db == "postgres":  # PostgreSQL cannot hold the result: the task fails, saying why
            assert first.status == "failed" and first.result is None
            assert first.error is not None and "NUL character" in first.error
        else:
            assert first.status == "completed" and first.result == ["a\x00b"]
        assert second.status == "failed" and second.error == "boom\ufffd\ufffd!"
        assert third.status == "completed" and third.result == "ok"
        assert await backend.get(second.id) == second
