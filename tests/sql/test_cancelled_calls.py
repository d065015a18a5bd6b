"""A caller cancelled in the middle of a write leaves no transaction (nor SQLite write lock) behind."""

from __future__ import annotations

import anyio
import pytest

from litestar_queues.models import RecordQuery
from litestar_queues_sql import SQLQueueBackend
from tests.sql.conftest import T0, record

pytestmark = pytest.mark.anyio


async def test_a_write_cancelled_midway_releases_its_lock(sqlite_url: str) -> None:
    """Workers cancel their maintenance loops when they stop; the next writer must not wait.

    Each round cancels a write (a duty turn, then a delete) after a growing delay, so some
    cancellations land inside the transaction; an enqueue on a second connection follows with a
    short busy timeout, which a leftover write lock would run out.
    """
    url = f"{sqlite_url}{'&' if '?' in sqlite_url else '?'}busy_timeout=2"
    backend = SQLQueueBackend(url)
    await backend.open()
    try:
        for round_ in range(60):
            with anyio.move_on_after(round_ * 0.0002):
                await backend.take_turn("sweep", holder=f"h{round_}", now=T0, until=T0)
                await backend.delete(RecordQuery(statuses=("completed",), limit=10))
            with anyio.fail_after(10):
                (result,) = await backend.enqueue([record()])
            assert result.created
    finally:
        await backend.close()
