"""Fixtures of the SQL backend tests: the same port tests on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from litestar_queues.models import TaskRecord
from litestar_queues_sql import SQLQueueBackend

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def record(**fields: Any) -> TaskRecord:
    """A new record enqueued at ``T0`` (scheduled when ``run_at`` is later)."""
    fields.setdefault("run_at", T0)
    fields.setdefault("status", "scheduled" if fields["run_at"] > T0 else "pending")
    return TaskRecord(id=uuid.uuid4(), task_name=fields.pop("task_name", "t.noop"), created_at=T0, **fields)


@pytest.fixture(params=["postgres", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh backend URL on PostgreSQL, then on SQLite."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def backend(db_url: str) -> AsyncIterator[SQLQueueBackend]:
    """An open backend with fresh tables."""
    b = SQLQueueBackend(db_url)
    await b.open()
    try:
        yield b
    finally:
        await b.close()
