"""Schema: metadata for migrations, the create-schema command, and indexes that serve the claim."""

from __future__ import annotations

import sys

import anyio
import pytest
from sqlalchemy import MetaData, inspect, text

from litestar_queues_sql import SQLQueueBackend, create_schema, metadata, queue_tables
from litestar_queues_sql.__main__ import main as cli_main
from litestar_queues_sql._explain import explain_claim, explain_limited_claim

from .conftest import record

pytestmark = pytest.mark.anyio


def test_default_metadata_and_custom_namespaces() -> None:
    assert set(metadata.tables) == {
        "lq_tasks",
        "lq_dead_letters",
        "lq_paused_queues",
        "lq_duties",
        "lq_schedules",
        "lq_workers",
        "lq_limits",
    }
    app = MetaData()
    jobs = queue_tables(app, table_prefix="jobs_", schema="work")
    assert set(app.tables) == {
        "work.jobs_tasks",
        "work.jobs_dead_letters",
        "work.jobs_paused_queues",
        "work.jobs_duties",
        "work.jobs_schedules",
        "work.jobs_workers",
        "work.jobs_limits",
    }
    assert jobs.all == (
        jobs.tasks,
        jobs.dead_letters,
        jobs.paused_queues,
        jobs.duties,
        jobs.schedules,
        jobs.workers,
        jobs.limits,
    )
    assert {i.name for i in jobs.tasks.indexes} >= {
        "jobs_tasks_running",
        "jobs_tasks_ready",
        "jobs_tasks_active_key",
        "jobs_tasks_finished_at",
    }
    with pytest.raises(ValueError, match="table_prefix"):
        queue_tables(table_prefix="bad-prefix")


async def test_create_schema_command_then_api_are_idempotent(db_url: str) -> None:
    done = await anyio.run_process(
        [sys.executable, "-m", "litestar_queues_sql", "create-schema", db_url, "--table-prefix", "cli_"],
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert all(
        f"cli_{name}" in done.stdout.decode()
        for name in ("tasks", "paused_queues", "duties", "schedules", "workers")
    )
    base = db_url.split("?")[0]
    await create_schema(f"{base}?table_prefix=cli_")  # again: nothing to do, no error
    backend = SQLQueueBackend(base, table_prefix="cli_", create_schema=False)
    await backend.open()
    try:
        async with backend.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"cli_tasks", "cli_dead_letters", "cli_paused_queues", "cli_duties", "cli_schedules"} <= names
        assert "cli_workers" in names
        (result,) = await backend.enqueue([record()])
        assert result.created
    finally:
        await backend.close()


def test_create_schema_command_reports_bad_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["create-schema", "mysql://x/y"]) == 2
    assert "unsupported" in capsys.readouterr().err


async def test_create_schema_on_an_engine_in_a_postgres_schema(postgres_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(postgres_url.split("?")[0])
    try:
        namespace = await create_schema(engine, table_prefix="eng_", schema="queue_work")
        assert namespace.tasks.fullname == "queue_work.eng_tasks"
        backend = SQLQueueBackend(
            engine=engine, table_prefix="eng_", schema="queue_work", create_schema=False
        )
        await backend.open()
        try:
            (result,) = await backend.enqueue([record(key="k")])
            assert (await backend.get(result.record.id)) == result.record
        finally:
            await backend.close()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("queues", [None, ["q1"]])
async def test_claim_is_an_index_scan_on_a_large_table(postgres_url: str, queues: list[str] | None) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        async with backend.engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {tasks} (id, task_name, queue, priority, status, args, kwargs, metadata,"
                    " attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at)"
                    " SELECT gen_random_uuid(), 't', 'q' || (n % 4), n % 3,"
                    " CASE WHEN n % 50 = 0 THEN 'pending' ELSE 'completed' END,"
                    " '[]', '{}', '{}', 0, 0, 0, 0, 3, now(), now() FROM generate_series(1, 20000) AS n"
                )
            )
            await conn.execute(text(f"ANALYZE {tasks}"))
        async with backend.engine.connect() as conn:
            plan = "\n".join(await explain_claim(conn, backend.tables, queues=queues))
        index = f"{tasks}_ready_queue" if queues else f"{tasks}_ready"
        assert f"Index Scan using {index} " in plan, plan
        assert f"Seq Scan on {tasks} " not in plan and "Sort" not in plan, plan
        # the paused queues are read once per claim (a hashed subplan), not once per row
        assert (
            "NOT (hashed SubPlan 1)" in plan and f"Seq Scan on {backend.tables.paused_queues.name} " in plan
        ), plan
    finally:
        await backend.close()


async def test_a_claim_under_limits_reads_the_running_and_ready_indexes(postgres_url: str) -> None:
    backend = SQLQueueBackend(postgres_url)
    await backend.open()
    try:
        tasks = backend.tables.tasks.name
        async with backend.engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {tasks} (id, task_name, queue, priority, status, limit_key, args, kwargs,"
                    " metadata, attempts, max_retries, runs, reclaims, max_reclaims, created_at, run_at)"
                    " SELECT gen_random_uuid(), 't', 'q' || (n % 4), 0,"
                    " CASE WHEN n % 50 = 0 THEN 'pending' WHEN n % 999 = 0 THEN 'running'"
                    " ELSE 'completed' END,"
                    " 'k' || (n % 20), '[]', '{}', '{}', 0, 0, 0, 0, 3, now(), now()"
                    " FROM generate_series(1, 20000) AS n"
                )
            )
            await conn.execute(text(f"ANALYZE {tasks}"))
        async with backend.engine.connect() as conn:
            plans = await explain_limited_claim(
                conn, backend.tables, queues=["q1"], closed_keys=[("q1", "k1")]
            )
        running, candidates = "\n".join(plans["running"]), "\n".join(plans["candidates"])
        # the count reads the running rows only (an index or bitmap scan, whichever is cheaper)
        assert f"Scan using {tasks}_running " in running or f"Scan on {tasks}_running " in running, running
        assert f"Index Scan using {tasks}_ready_queue " in candidates, candidates
        assert "Sort" not in candidates, candidates
        for plan in (running, candidates):
            assert f"Seq Scan on {tasks} " not in plan, plan
    finally:
        await backend.close()
