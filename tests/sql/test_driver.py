"""The PostgreSQL hot path on asyncpg's own connection, and the SQLAlchemy path it stands beside.

On asyncpg, enqueue, claims, finishes, lease extensions and reads by id run on the driver
connection checked out of the engine's pool (``litestar_queues_sql._asyncpg``); psycopg and
SQLite run the same statements through SQLAlchemy. The contract kit runs on psycopg here too, so
both paths are held to the same rules.
"""

from __future__ import annotations

import traceback
import uuid
from typing import TYPE_CHECKING, ClassVar

import anyio
import pytest
from hypothesis import settings
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_queues import BackendUnavailableError, QueueConfigurationError
from litestar_queues.models import Outcome
from litestar_queues.testing import QueueBackendContract
from litestar_queues_sql import SQLQueueBackend
from litestar_queues_sql._asyncpg import compile_for_driver

from .conftest import LEASE, T0, record

if TYPE_CHECKING:
    from litestar_queues import QueueBackend
    from tests.servers import PostgresServer

pytestmark = pytest.mark.anyio

_THOROUGH = settings.get_current_profile_name() == "thorough"


class TestPsycopgContract(QueueBackendContract):
    """The SQLAlchemy path of PostgreSQL (psycopg 3) keeps every rule of the port."""

    hypothesis_settings: ClassVar[settings | None] = settings(
        max_examples=200 if _THOROUGH else 12, stateful_step_count=30, deadline=None
    )

    @pytest.fixture(autouse=True)
    def _server(self, postgres_server: PostgresServer) -> None:
        self.server = postgres_server

    async def make_backend(self) -> QueueBackend:
        url = self.server.dsn(scheme="postgresql+psycopg")
        return SQLQueueBackend(f"{url}?table_prefix=p{uuid.uuid4().hex[:12]}_")


async def test_asyncpg_runs_the_hot_path_on_the_driver_and_psycopg_does_not(
    postgres_server: PostgresServer,
) -> None:
    prefix = f"table_prefix=d{uuid.uuid4().hex[:12]}_"
    fast = SQLQueueBackend(f"{postgres_server.url}?{prefix}")
    plain = SQLQueueBackend(f"{postgres_server.dsn(scheme='postgresql+psycopg')}?{prefix}")
    await fast.open()
    await plain.open()
    try:
        assert fast._driver is not None and plain._driver is None
        stored = record()
        await fast.enqueue([stored])
        assert await plain.get(stored.id) == stored  # the same rows, whichever path wrote them
        (claimed,) = await plain.claim(queues=None, worker_id="w", limit=5, now=T0, lease_until=T0 + LEASE)
        assert await fast.get(stored.id) == claimed
    finally:
        await plain.close()
        await fast.close()


async def test_a_batch_enqueued_again_returns_what_is_stored(backend: SQLQueueBackend) -> None:
    first, second, third = record(), record(), record()
    await backend.enqueue([first, second])
    # a batch without keys goes through COPY on asyncpg: a stored id makes it take the insert path
    again = await backend.enqueue([first, third])
    assert [(r.record, r.created) for r in again] == [(first, False), (third, True)]
    (single,) = await backend.enqueue([second])
    assert single.record == second and not single.created
    assert await backend.counts() == {"default": {"pending": 3}}


async def test_a_broken_pool_is_unavailable_once_then_reconnects(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        stored = record()
        await backend.enqueue([stored])
        async with anyio.create_task_group() as tg:  # several connections in the pool
            for _ in range(4):
                tg.start_soon(backend.get, stored.id)
        assert backend.engine.sync_engine.pool.checkedin() >= 2  # type: ignore[attr-defined]
        async with backend.engine.connect() as conn:  # as a server restart would: every other session ends
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with pytest.raises(BackendUnavailableError, match=r"unavailable \(get\)"):
            await backend.get(stored.id)
        results: list[object] = []

        async def get() -> None:
            results.append(await backend.get(stored.id))

        async with anyio.create_task_group() as tg:  # the whole pool was replaced, not one connection
            for _ in range(4):
                tg.start_soon(get)
        assert results == [stored] * 4
    finally:
        await backend.close()


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "postgresql+psycopg"])
async def test_a_cancelled_enqueue_stores_nothing_later(postgres_url: str, scheme: str) -> None:
    """A single enqueue is one autocommit statement: cancelled while it waits, it must not commit later."""
    backend = SQLQueueBackend(postgres_url.replace("postgresql+asyncpg", scheme))
    await backend.open()
    try:
        holder = record(key="k")
        tasks = backend.tables.tasks
        async with backend.engine.connect() as other:
            await backend.enqueue_in(other, [holder])  # uncommitted: an insert of "k" waits for it
            with anyio.move_on_after(0.5) as waited:
                await backend.enqueue([record(key="k")])
            assert waited.cancelled_caught
            await other.rollback()
        pool = backend.engine.sync_engine.pool
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        stored = record(key="k")
        with anyio.fail_after(5):
            (result,) = await backend.enqueue([stored])
        assert result.created
        async with backend.engine.connect() as conn:
            keys = (await conn.execute(select(tasks.c.key))).scalars().all()
        assert keys == ["k"]
    finally:
        await backend.close()


async def test_the_fast_path_runs_without_statement_caches(postgres_url: str) -> None:
    """As behind PgBouncer in transaction mode: every statement prepared unnamed at each call."""
    caches = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    backend = SQLQueueBackend(postgres_url, engine_options={"connect_args": caches})
    await backend.open()
    try:
        single, batch = record(queue="q"), [record(queue="q") for _ in range(3)]
        for _ in range(2):  # twice: nothing is left prepared under a name on the connection
            await backend.enqueue([single])
            await backend.enqueue(batch)
            claimed = await backend.claim(queues=["q"], worker_id="w", limit=9, now=T0, lease_until=T0)
            assert await backend.extend_leases([(r.id, str(r.lease_id)) for r in claimed], until=T0) == set()
            outcomes = [Outcome(task_id=r.id, lease_id=str(r.lease_id), kind="complete") for r in claimed]
            assert [r is not None for r in await backend.finish(outcomes, now=T0)] == [True] * 4
            stored = await backend.get(single.id)
            assert stored is not None and stored.status == "completed"
            single, batch = record(queue="q"), [record(queue="q") for _ in range(3)]
    finally:
        await backend.close()


async def test_overflow_connections_are_closed_on_return(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection returned to a full pool is closed (in SQLAlchemy's greenlet), never leaked."""
    backend = SQLQueueBackend(postgres_url, engine_options={"pool_size": 1, "max_overflow": 4})
    await backend.open()
    try:
        stored = record()
        await backend.enqueue([stored])
        results: list[object] = []

        async def get() -> None:
            results.append(await backend.get(stored.id))

        for _ in range(3):
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(get)
        assert results == [stored] * 15
        pool = backend.engine.sync_engine.pool
        assert pool.checkedout() == 0 and pool.checkedin() == 1  # type: ignore[attr-defined]
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        await backend.close()


async def test_the_fast_path_on_an_engine_in_a_schema_with_a_mixed_case_prefix(postgres_url: str) -> None:
    """Table names the driver's statements and COPY must quote: a schema and a prefix with capitals."""
    engine = create_async_engine(postgres_url.split("?")[0])
    schema = f"hot_{uuid.uuid4().hex[:8]}"
    backend = SQLQueueBackend(engine=engine, table_prefix="Hot_", schema=schema)
    await backend.open()
    try:
        assert backend._driver is not None and backend.tables.tasks.fullname == f"{schema}.Hot_tasks"
        single, copied, keyed = record(queue="q"), [record(queue="q") for _ in range(3)], [record(key="a")]
        for batch in ([single], copied, [*keyed, record(key="a")]):
            await backend.enqueue(batch)
        queues = ["q", "default"]
        claimed = await backend.claim(queues=queues, worker_id="w", limit=9, now=T0, lease_until=T0)
        assert sorted(r.id for r in claimed) == sorted(r.id for r in [single, *copied, *keyed])
        outcomes = [Outcome(task_id=r.id, lease_id=str(r.lease_id), kind="complete") for r in claimed]
        assert all(r is not None and r.status == "completed" for r in await backend.finish(outcomes, now=T0))
        assert await backend.counts() == {"q": {"completed": 4}, "default": {"completed": 1}}
    finally:
        await backend.close()
        await engine.dispose()


async def test_a_batch_the_table_refuses_is_typed_and_stores_nothing(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        table = backend.tables.tasks.name
        async with backend.engine.begin() as conn:
            check = f"ALTER TABLE {table} ADD CONSTRAINT {table}_ok CHECK (queue <> 'forbidden')"
            await conn.execute(text(check))
        secret = "SECRET-batch"
        batch = [record(args=[secret]), record(queue="forbidden", args=[secret])]  # no keys: COPY
        refused = rf"refused to store 2 task records .*constraint {table}_ok"
        with pytest.raises(QueueConfigurationError, match=refused) as caught:
            await backend.enqueue(batch)
        assert secret not in "".join(traceback.format_exception(caught.value))
        assert await backend.counts() == {}
    finally:
        await backend.close()


def test_statements_for_the_driver_take_arrays_not_expanding_lists() -> None:
    stmt = select(text("1")).where(text("x IN :xs").bindparams(bindparam("xs", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        compile_for_driver(stmt, asyncpg_dialect())
