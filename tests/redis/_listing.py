"""Helpers of the listing tests (query, delete): records, a reference listing, index checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from litestar_queues.models import (
    ALL_STATUSES,
    TERMINAL_STATUSES,
    Outcome,
    QueryPosition,
    RecordQuery,
    TaskRecord,
)
from tests.redis._support import at

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from litestar_queues_redis import RedisQueueBackend
    from litestar_queues_redis._keys import Keys


def make(created: float, **fields: Any) -> TaskRecord:
    """A new record created ``created`` seconds after T0 (pending, due then, unless ``fields`` say)."""
    fields.setdefault("task_name", "t.one")
    fields.setdefault("run_at", at(created))
    return TaskRecord(id=uuid.uuid4(), created_at=at(created), **fields)


async def stored(backend: RedisQueueBackend, raw: aioredis.Redis) -> list[TaskRecord]:
    """Every record of the backend, read one by one with ``get``."""
    found = []
    async for name in raw.scan_iter(match=backend.keys.records_pattern):
        record_ = await backend.get(uuid.UUID(name.decode().rsplit(":", 1)[1]))
        assert record_ is not None
        found.append(record_)
    return found


def reference(records: list[TaskRecord], query: RecordQuery) -> list[uuid.UUID]:
    """What ``query`` lists from ``records``, by the port's definition (without its limit)."""
    found = [r for r in records if query.matches(r) and query.beyond(r)]
    found.sort(key=lambda r: (r.created_at, r.id.bytes), reverse=query.newest_first)
    return [r.id for r in found]


async def page_through(backend: RedisQueueBackend, query: RecordQuery) -> list[uuid.UUID]:
    """Every record ``query`` lists, page by page (its limit is the page size)."""
    ids: list[uuid.UUID] = []
    while True:
        page = await backend.query(query)
        assert len(page) <= query.limit
        ids += [r.id for r in page]
        assert len(ids) == len(set(ids)), "a record came twice"
        if len(page) < query.limit:
            return ids
        query = msgspec.structs.replace(query, after=QueryPosition.of(page[-1]))


async def check_indexes(raw: aioredis.Redis, keys: Keys) -> None:
    """Every record is in the index of its queue and status, every keyed record in the index of its
    key, every finished record in the finish-time set of its queue and status (scored by its
    ``finished_at``), and no index or set holds anything else."""
    placed: dict[bytes, tuple[bytes, bytes]] = {}
    keyed: dict[bytes, set[bytes]] = {}
    finished: dict[tuple[bytes, bytes], dict[bytes, float]] = {}
    async for name in raw.scan_iter(match=keys.records_pattern):
        status, queue, ix, key, finished_at = await raw.hmget(
            name, "status", "queue", "ix", "key", "finished_at"
        )
        assert ix is not None, f"{name!r} has no listing position"
        placed[ix] = (queue, status)
        if key is not None:
            keyed.setdefault(key, set()).add(ix)
        if status.decode() in TERMINAL_STATUSES:
            finished.setdefault((queue, status), {})[ix] = float(finished_at)
    for queue in await raw.smembers(f"{keys.tag}:queues"):
        for status in sorted(TERMINAL_STATUSES):
            noted = dict(await raw.zrange(keys.finished(queue.decode(), status), 0, -1, withscores=True))
            assert noted == finished.get((queue, status.encode()), {}), (
                f"finish-time set of {queue!r} {status}"
            )
    key_indexes: dict[bytes, set[bytes]] = {}
    async for name in raw.scan_iter(match=keys.records_pattern.removesuffix(":t:*") + ":keyix:*"):
        key_indexes[name.split(b":keyix:", 1)[1]] = set(await raw.zrange(name, 0, -1))
    assert key_indexes == keyed
    listed: dict[bytes, tuple[bytes, bytes]] = {}
    for queue in await raw.smembers(f"{keys.tag}:queues"):
        for status in ALL_STATUSES:
            for member in await raw.zrange(keys.index(queue.decode(), status), 0, -1):
                assert member not in listed, f"{member!r} is listed twice"
                listed[member] = (queue, status.encode())
    assert listed == placed


async def claim(backend: RedisQueueBackend, now: float, limit: int = 1, **kw: Any) -> list[TaskRecord]:
    return await backend.claim(
        queues=kw.get("queues"), worker_id="w", limit=limit, now=at(now), lease_until=at(now + 30)
    )


async def finish(
    backend: RedisQueueBackend, held: TaskRecord, kind: str, now: float, **fields: Any
) -> TaskRecord:
    outcome = Outcome(task_id=held.id, lease_id=held.lease_id or "", kind=kind, **fields)  # type: ignore[arg-type]
    (done,) = await backend.finish([outcome], now=at(now))
    assert done is not None
    return done


async def build_mix(backend: RedisQueueBackend) -> None:
    """Records in three queues, two task names, some keys, every status, with ties and gaps."""
    for i in range(36):
        queue = ("a", "b", "c")[i % 3]
        name = ("t.one", "t.two")[i % 2]
        key = f"k{i % 5}" if i % 4 == 0 else None
        await backend.enqueue([make(i // 3, queue=queue, task_name=name, key=key, max_retries=1)])
    # a spread of statuses, each change at a time of its own
    now = 100.0
    held = await claim(backend, now, limit=20)
    kinds = ["complete", "fail", "retry", "release", "retry_later", "keep"]
    for i, rec in enumerate(held):
        kind = kinds[i % len(kinds)]
        now += 1
        if kind == "retry_later":
            await finish(backend, rec, "retry", now, error="later", run_at=at(now + 500))
        elif kind != "keep":
            await finish(backend, rec, kind, now, result=i, error="e")
    for rec in (await backend.query(RecordQuery(statuses=("pending",), limit=4)))[:3]:
        now += 1
        await backend.cancel(rec.id, now=at(now))
    for rec in await backend.query(RecordQuery(statuses=("failed",), limit=2)):
        now += 1
        await backend.requeue(rec.id, now=at(now))


QUERIES = [
    RecordQuery(),
    RecordQuery(queues=("a",)),
    RecordQuery(queues=("a", "c")),
    RecordQuery(queues=("nowhere",)),
    RecordQuery(statuses=("pending",)),
    RecordQuery(statuses=("failed", "cancelled")),
    RecordQuery(statuses=("running", "scheduled")),
    RecordQuery(statuses=("completed",), queues=("b",)),
    RecordQuery(task_names=("t.two",)),
    RecordQuery(task_names=("t.one", "t.none"), statuses=("pending", "running")),
    RecordQuery(key="k0"),
    RecordQuery(key="k4", statuses=("pending",)),
    RecordQuery(key="k0", queues=("a", "b")),
    RecordQuery(key="k2", task_names=("t.one",), created_after=at(3), created_before=at(11)),
    RecordQuery(key="k1", statuses=("completed", "failed", "cancelled"), finished_after=at(101)),
    RecordQuery(key="k3", finished_before=at(120), queues=("c",)),
    RecordQuery(key="nothing"),
    RecordQuery(created_after=at(4)),
    RecordQuery(created_before=at(4)),
    RecordQuery(created_after=at(2), created_before=at(9), queues=("b",)),
    RecordQuery(created_after=at(2.5), created_before=at(2.5)),
    RecordQuery(finished_after=at(105)),
    RecordQuery(finished_before=at(110)),
    RecordQuery(finished_after=at(103), finished_before=at(118), statuses=("completed", "failed")),
    RecordQuery(created_after=datetime(1, 1, 1, tzinfo=UTC), created_before=datetime(9999, 1, 1, tzinfo=UTC)),
    RecordQuery(created_after=datetime(9999, 1, 1, tzinfo=UTC)),
    RecordQuery(queues=()),
]
