"""Worker presence and finished counts on PostgreSQL and SQLite files.

Presences are shared by backend objects (processes), expired rows are deleted by the next beat
(the table holds about one row per live worker), beats racing on two connections never wait for
each other nor fail, names the database cannot store are refused; finished counts read the
``tasks_finished_at`` index; an older database gains the workers table and the index.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import pytest
from sqlalchemy import func, inspect, select, text

from litestar_queues import QueueConfigurationError
from litestar_queues_sql import SQLQueueBackend, queue_tables
from litestar_queues_sql._explain import explain_finished_counts
from tests._presence import worker_info

from ._listing import fill_tasks, open_at_once
from .conftest import LEASE, T0
from .test_maintenance import _FILL_POSTGRES, _FILL_SQLITE, table_names, with_prefix
from .test_query import finish, rec

if TYPE_CHECKING:
    from datetime import datetime

    from litestar_queues.models import TaskRecord, WorkerInfo

pytestmark = pytest.mark.anyio


def info(worker_id: str, at: datetime, *, ttl: float = 30, **fields: object) -> WorkerInfo:
    return worker_info(worker_id, at, ttl=ttl, **{"running": 2, **fields})


async def rows_stored(backend: SQLQueueBackend) -> int:
    async with backend.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(backend.tables.workers))).scalar_one()
        )


# -- presence ------------------------------------------------------------------------------------


async def test_presences_are_shared_and_expired_rows_are_deleted_by_the_next_beat(db_url: str) -> None:
    first, second = SQLQueueBackend(db_url), SQLQueueBackend(db_url)
    await first.open()
    await second.open()
    try:
        for n in range(20):
            await first.record_worker(info(f"w{n:02}", T0, ttl=5, queues=None if n % 2 else ("q",)))
        listed = await second.live_workers(now=T0)
        assert [w.worker_id for w in listed] == [f"w{n:02}" for n in range(20)]
        assert listed[0] == info("w00", T0, ttl=5, queues=("q",))
        assert listed[1].queues is None
        later = T0 + timedelta(seconds=10)
        await second.record_worker(info("late", later))
        assert await rows_stored(first) == 1  # the 20 expired rows went with that beat
        assert [w.worker_id for w in await first.live_workers(now=later)] == ["late"]
        await first.forget_worker("late")
        assert await rows_stored(second) == 0
    finally:
        await first.close()
        await second.close()


async def test_beats_racing_on_two_connections_neither_wait_nor_fail(db_url: str) -> None:
    """Every round, each worker's previous row has expired: each beat may delete the others'."""
    backends = await open_at_once(db_url)
    try:
        for round_ in range(6):
            at = T0 + timedelta(seconds=10 * round_)

            async def beat(n: int, at: datetime = at, running: int = round_) -> None:
                await backends[n % 2].record_worker(info(f"w{n}", at, ttl=5, running=running))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for n in range(12):
                        tg.start_soon(beat, n)
            live = await backends[0].live_workers(now=at)
            assert sorted(w.worker_id for w in live) == sorted(f"w{n}" for n in range(12))
            assert {w.running for w in live} == {round_}
    finally:
        for backend in backends:
            await backend.close()


async def test_names_postgres_cannot_store_are_refused(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        for bad in (info("w\x00", T0), info("w", T0, queues=("q\x00",)), info("w", T0, hostname="h\x00")):
            with pytest.raises(QueueConfigurationError, match="NUL"):
                await backend.record_worker(bad)
        with pytest.raises(QueueConfigurationError, match="running"):
            await backend.record_worker(info("w", T0, running=2**31))
        assert await rows_stored(backend) == 0
    finally:
        await backend.close()


# -- finished counts ---------------------------------------------------------------------------


async def test_finished_counts_read_the_finished_at_index(db_url: str) -> None:
    """20,000 records over 6,667 s: the last minute's finishes are counted from the index alone."""
    backend = SQLQueueBackend(db_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        postgres = await fill_tasks(
            backend, _FILL_POSTGRES, _FILL_SQLITE, {"base": T0}, {"base": T0.timestamp()}
        )
        since = T0 + timedelta(seconds=20000 // 3 - 60)
        async with backend.engine.connect() as conn:
            plan = "\n".join(await explain_finished_counts(conn, backend.tables, since))
            expected_rows = await conn.execute(
                text(
                    f"SELECT queue, status, count(*) FROM {tasks} WHERE status IN ('completed', 'failed') "
                    "AND finished_at >= :since GROUP BY queue, status"
                ),
                {"since": since if postgres else since.strftime("%Y-%m-%d %H:%M:%S.%f")},
            )
            expected: dict[str, dict[str, int]] = {}
            for queue, status, count in expected_rows:
                expected.setdefault(queue, {})[status] = count
        if postgres:
            assert f"Index Only Scan using {tasks}_finished_at " in plan, plan
            assert "Seq Scan" not in plan, plan
        else:
            assert f"USING COVERING INDEX {tasks}_finished_at (finished_at>?)" in plan, plan
            assert f"SCAN {tasks}" not in plan, plan
        counts = await backend.finished_counts(since=since)
        assert counts == expected
        assert 150 < sum(sum(per.values()) for per in counts.values()) < 200
    finally:
        await backend.close()


async def finished(backend: SQLQueueBackend, kind: str) -> TaskRecord:
    """A record enqueued and finished at ``T0``."""
    record = rec(T0)
    await backend.enqueue([record])
    return await finish(backend, record, kind, T0)


async def test_a_requeued_record_leaves_the_finished_counts(backend: SQLQueueBackend) -> None:
    failed = await finished(backend, "fail")
    assert await backend.finished_counts(since=T0) == {"default": {"failed": 1}}
    await backend.requeue(failed.id, now=T0 + LEASE)
    assert await backend.finished_counts(since=T0) == {}


# -- older databases -----------------------------------------------------------------------------


async def test_a_database_from_before_presence_gains_the_table_and_the_index(db_url: str) -> None:
    prefix = f"p{uuid.uuid4().hex[:8]}_"
    url = with_prefix(db_url, prefix)
    previous = queue_tables(table_prefix=prefix)
    plain = SQLQueueBackend(url, create_schema=False)
    await plain.open()
    try:
        older = [t for t in previous.all if t is not previous.workers]
        async with plain.engine.begin() as conn:
            await conn.run_sync(lambda c: previous.metadata.create_all(c, tables=older))
            await conn.execute(text(f"DROP INDEX {prefix}tasks_finished_at"))
        done = await finished(plain, "complete")
        assert f"{prefix}workers" not in await table_names(plain)
    finally:
        await plain.close()
    backends = await open_at_once(url)  # two processes of the new release: each creates what is missing
    try:
        assert f"{prefix}workers" in await table_names(backends[0])
        async with backends[0].engine.connect() as conn:
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes(f"{prefix}tasks")}
            )
        assert f"{prefix}tasks_finished_at" in indexes
        assert await backends[1].finished_counts(since=T0) == {"default": {"completed": 1}}
        assert done.finished_at == T0
        await backends[0].record_worker(info("w", T0))
        assert [w.worker_id for w in await backends[1].live_workers(now=T0)] == ["w"]
    finally:
        for backend in backends:
            await backend.close()
