"""Enqueue inside the caller's transaction: the task commits or rolls back with the user's data."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from litestar_queues import (
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    TaskNotFoundError,
    TaskRegistry,
    task,
)
from litestar_queues_sql import enqueue_in_transaction

pytestmark = pytest.mark.anyio

registry = TaskRegistry()


@task("tx.welcome", registry=registry)
async def welcome(name: str) -> str:
    return f"hello {name}"


def users_table() -> Table:
    return Table(
        f"users_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", Text, nullable=False),
    )


async def test_task_commits_and_rolls_back_with_the_callers_data(db_url: str) -> None:
    users = users_table()
    async with QueueService(QueueConfig(queue_backend=db_url, registry=registry)) as service:
        engine = service.backend.engine  # type: ignore[attr-defined]
        async with engine.begin() as conn:
            await conn.run_sync(users.metadata.create_all)

        async with engine.begin() as conn:
            await conn.execute(insert(users).values(name="ada"))
            committed = await enqueue_in_transaction(
                service, conn, welcome, "ada", key="welcome:ada", priority=4
            )
        assert committed.created and committed.record.priority == 4

        rolled_back = None
        with pytest.raises(RuntimeError, match="user error"):
            async with engine.begin() as conn:
                await conn.execute(insert(users).values(name="bob"))
                rolled_back = await enqueue_in_transaction(service, conn, welcome, "bob", key="welcome:bob")
                raise RuntimeError("user error")
        assert rolled_back is not None
        with pytest.raises(TaskNotFoundError):
            await service.get_task(rolled_back.id)
        # the rolled-back record held no key: the same key enqueues afresh
        again = await service.enqueue(welcome, "bob", key="welcome:bob")
        assert again.created

        async with AsyncSession(engine) as session, session.begin():
            await session.execute(insert(users).values(name="cy"))
            by_session = await enqueue_in_transaction(service, session, "tx.welcome", name="cy")
            duplicate = await enqueue_in_transaction(service, session, welcome, "ada", key="welcome:ada")
        assert duplicate.created is False and duplicate.id == committed.id

        async with engine.connect() as conn:
            names = (await conn.execute(select(users.c.name).order_by(users.c.id))).scalars().all()
        assert names == ["ada", "cy"]
        stored = await service.get_task(by_session.id)
        assert stored.status == "pending" and stored.record.kwargs == {"name": "cy"}
        assert (await service.stats()).count("pending") == 3

        async with service.worker(concurrency=2):
            assert (await committed.wait(30)).result == "hello ada"
            assert (await by_session.wait(30)).result == "hello cy"

        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(users))).scalar() == 2


async def test_needs_a_sql_backend() -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        with pytest.raises(QueueConfigurationError, match="SQLQueueBackend"):
            await enqueue_in_transaction(service, None, welcome, "x")  # type: ignore[arg-type]
