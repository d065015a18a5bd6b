"""Helpers of the Redis backend tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar_queues.models import TaskRecord

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(
    *, queue: str = "default", priority: int = 0, key: str | None = None, run_at: float = 0.0, **extra: Any
) -> TaskRecord:
    due = at(run_at)
    return TaskRecord(
        id=uuid.uuid4(),
        task_name="redis.test",
        queue=queue,
        priority=priority,
        key=key,
        status="scheduled" if run_at > 0 else "pending",
        created_at=T0,
        run_at=due,
        **extra,
    )
