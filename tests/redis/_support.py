"""Helpers of the Redis backend tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from litestar_queues.models import TaskRecord

if TYPE_CHECKING:
    from litestar_queues_redis import RedisQueueBackend

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


class ScriptCalls:
    """Counts the calls of the backend's script ``name`` (``backend._s.<name>``), which it wraps."""

    def __init__(self, backend: RedisQueueBackend, name: str) -> None:
        self.calls = 0
        script = getattr(backend._s, name)

        async def counted(**kwargs: Any) -> Any:
            self.calls += 1
            return await script(**kwargs)

        setattr(backend._s, name, counted)
