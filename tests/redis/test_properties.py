"""Property tests of the Redis encoding: records survive the round trip, claims keep the order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import hypothesis.strategies as st
from hypothesis import given, settings

from litestar_queues.models import TaskRecord
from litestar_queues_redis import RedisQueueBackend
from tests.redis._support import at

if TYPE_CHECKING:
    from tests.servers import RedisServer

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
priorities = st.integers(min_value=-(2**53), max_value=2**53)


def run(server: RedisServer, test: Any) -> None:
    async def main() -> None:
        backend = RedisQueueBackend(url=server.url, key_prefix=f"p{uuid.uuid4().hex[:12]}")
        await backend.open()
        try:
            await test(backend)
        finally:
            await backend.close()

    anyio.run(main)


@settings(max_examples=60)
@given(
    args=st.lists(json_values, max_size=3),
    kwargs=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    priority=priorities,
    created=moments,
    delay=st.integers(min_value=0, max_value=10**12),
    queue=st.text(min_size=1, max_size=12),
    key=st.none() | st.text(min_size=1, max_size=12),
    timeout=st.none() | st.floats(min_value=0.001, max_value=1e6),
)
def test_records_survive_the_round_trip(
    redis_server: RedisServer,
    args: list[Any],
    kwargs: dict[str, Any],
    metadata: dict[str, Any],
    priority: int,
    created: datetime,
    delay: int,
    queue: str,
    key: str | None,
    timeout: float | None,
) -> None:
    run_at = created + timedelta(microseconds=delay)
    record = TaskRecord(
        id=uuid.uuid4(),
        task_name="prop.task",
        queue=queue,
        priority=priority,
        args=args,
        kwargs=kwargs,
        metadata=metadata,
        key=key,
        timeout=timeout,
        status="scheduled" if delay else "pending",
        created_at=created,
        run_at=run_at,
    )

    async def check(backend: RedisQueueBackend) -> None:
        (stored,) = await backend.enqueue([record])
        assert stored.created
        assert await backend.get(record.id) == record
        (claimed,) = await backend.claim(
            queues=[queue], worker_id="w", limit=5, now=run_at, lease_until=run_at + timedelta(seconds=1)
        )
        assert claimed.args == args and claimed.kwargs == kwargs and claimed.run_at == run_at
        assert (claimed.status, claimed.attempts, claimed.started_at) == ("running", 1, run_at)

    run(redis_server, check)


@settings(max_examples=40)
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), priorities | st.integers(-2, 2)), min_size=1, max_size=25
    ),
    served=st.sets(st.sampled_from(["a", "b", "c"]), min_size=1),
    limit=st.integers(min_value=1, max_value=30),
)
def test_claims_follow_priority_then_enqueue_order_across_queues(
    redis_server: RedisServer, specs: list[tuple[str, int]], served: set[str], limit: int
) -> None:
    records = [
        TaskRecord(
            id=uuid.uuid4(), task_name="prop.task", queue=q, priority=p, created_at=at(0), run_at=at(0)
        )
        for q, p in specs
    ]
    order = sorted(
        (i for i, r in enumerate(records) if r.queue in served), key=lambda i: (-records[i].priority, i)
    )

    async def check(backend: RedisQueueBackend) -> None:
        await backend.enqueue(records)
        claimed = await backend.claim(
            queues=sorted(served), worker_id="w", limit=limit, now=at(1), lease_until=at(60)
        )
        assert [c.id for c in claimed] == [records[i].id for i in order[:limit]]

    run(redis_server, check)
