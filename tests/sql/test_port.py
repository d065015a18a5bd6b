"""The QueueBackend port on PostgreSQL and SQLite: every rule, through the real databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import select, update

from litestar_queues import BackendUnavailableError, MalformedRecordError, QueueConfigurationError
from litestar_queues._loading import backend_from_url
from litestar_queues.models import Outcome
from litestar_queues_sql import SQLQueueBackend

from .conftest import LEASE, T0, record

pytestmark = pytest.mark.anyio


async def claim_all(backend: SQLQueueBackend, limit: int = 100, now=T0, queues=None, worker: str = "w"):
    return await backend.claim(queues=queues, worker_id=worker, limit=limit, now=now, lease_until=now + LEASE)


async def test_enqueue_then_get_round_trips_every_field(backend: SQLQueueBackend) -> None:
    original = record(
        queue="reports",
        priority=-3,
        args=[1, "two", [3.5, None], {"k": True}],
        kwargs={"name": "zoë ✓", "n": 2**40},
        key="report:1",
        max_retries=4,
        max_reclaims=2,
        timeout=12.5,
        metadata={"requested_by": "user-1"},
        execution_backend="local",
        execution_profile="heavy",
        run_at=T0 + timedelta(microseconds=123456),
    )
    (result,) = await backend.enqueue([original])
    assert result.created and result.record == original
    assert await backend.get(original.id) == original
    assert await backend.get(uuid.uuid4()) is None


async def test_dedup_key_held_only_while_active(backend: SQLQueueBackend) -> None:
    first, second, third = record(key="k"), record(key="k"), record(key="k")
    results = await backend.enqueue([first, second])
    assert [r.created for r in results] == [True, False]
    assert results[1].record.id == first.id
    assert (await backend.enqueue([third]))[0].record.id == first.id
    (claimed,) = await claim_all(backend)
    assert (await backend.enqueue([third]))[0].record.id == first.id  # running still holds it
    assert claimed.lease_id is not None
    await backend.finish([Outcome(task_id=first.id, lease_id=claimed.lease_id, kind="complete")], now=T0)
    again = await backend.enqueue([third])
    assert again[0].created and again[0].record == third
    assert await backend.get(second.id) is None


async def test_claim_order_priority_then_fifo_and_due_time(backend: SQLQueueBackend) -> None:
    low = [record(priority=0, args=[i]) for i in range(3)]
    high = record(priority=10)
    later = record(priority=99, run_at=T0 + timedelta(seconds=60))
    other = record(queue="other", priority=50)
    await backend.enqueue([low[0], high, low[1], later, other, low[2]])
    assert [r.id for r in await claim_all(backend, queues=["default"])] == [high.id] + [r.id for r in low]
    assert [r.id for r in await claim_all(backend, queues=["nope"])] == []
    assert await claim_all(backend, queues=[]) == []
    claimed = await claim_all(backend, now=T0 + timedelta(seconds=60))
    assert [r.id for r in claimed] == [later.id, other.id]
    running = claimed[0]
    assert running.status == "running" and running.worker_id == "w"
    assert running.attempts == 1 and running.runs == 1
    assert running.started_at == T0 + timedelta(seconds=60)
    assert running.lease_expires_at == T0 + timedelta(seconds=60) + LEASE
    assert running.lease_id and len(running.lease_id) == 32
    assert await backend.get(running.id) == running


async def test_claim_respects_limit(backend: SQLQueueBackend) -> None:
    await backend.enqueue([record(args=[i]) for i in range(5)])
    assert [r.args for r in await claim_all(backend, limit=2)] == [[0], [1]]
    assert [r.args for r in await claim_all(backend, limit=10)] == [[2], [3], [4]]
    assert await claim_all(backend, limit=0) == []


async def test_concurrent_claimers_never_share_a_record(backend: SQLQueueBackend) -> None:
    records = [record(args=[i]) for i in range(120)]
    await backend.enqueue(records)
    seen: list[uuid.UUID] = []

    async def claimer(name: str) -> None:
        while batch := await claim_all(backend, limit=7, worker=name):
            seen.extend(r.id for r in batch)

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(claimer, f"w{n}")
    assert sorted(seen) == sorted(r.id for r in records)


async def test_finish_applies_each_kind_only_under_its_lease(backend: SQLQueueBackend) -> None:
    a, b, c, d, e = (record(args=[i], max_retries=3) for i in range(5))
    await backend.enqueue([a, b, c, d, e])
    ra, rb, rc, rd, re_ = await claim_all(backend)
    now = T0 + timedelta(seconds=5)
    outcomes = [
        Outcome(task_id=a.id, lease_id=ra.lease_id or "", kind="complete", result={"x": [1]}),
        Outcome(task_id=b.id, lease_id=rb.lease_id or "", kind="fail", error="boom"),
        Outcome(task_id=c.id, lease_id=rc.lease_id or "", kind="retry", error="again", run_at=now + LEASE),
        Outcome(task_id=d.id, lease_id=rd.lease_id or "", kind="retry", error="now", run_at=now),
        Outcome(task_id=e.id, lease_id="not-the-lease", kind="complete"),
        Outcome(task_id=a.id, lease_id=ra.lease_id or "", kind="fail", error="late duplicate"),
    ]
    fa, fb, fc, fd, fe, dup = await backend.finish(outcomes, now=now)
    assert fa is not None and fa.status == "completed" and fa.result == {"x": [1]} and fa.finished_at == now
    assert fb is not None and fb.status == "failed" and fb.error == "boom" and fb.finished_at == now
    assert fc is not None and fc.status == "scheduled" and fc.run_at == now + LEASE and fc.error == "again"
    assert fd is not None and fd.status == "pending" and fd.attempts == 1
    assert fe is None and dup is None
    for done in (fa, fb, fc, fd):
        assert done.lease_id is None and done.lease_expires_at is None
        assert await backend.get(done.id) == done
    assert (await backend.get(e.id)) == re_
    (released,) = await backend.finish(
        [Outcome(task_id=e.id, lease_id=re_.lease_id or "", kind="release")], now=now
    )
    assert released is not None and released.status == "pending" and released.attempts == 0
    assert released.runs == 1
    # a terminal record never changes again
    assert await backend.finish(
        [Outcome(task_id=a.id, lease_id=ra.lease_id or "", kind="complete")], now=now
    ) == [None]
    assert [r.id for r in await claim_all(backend, now=now)] == [d.id, e.id]


async def test_extend_leases_reports_lost_ones(backend: SQLQueueBackend) -> None:
    a, b = record(), record()
    await backend.enqueue([a, b])
    ra, rb = await claim_all(backend)
    await backend.cancel(b.id, now=T0)
    until = T0 + 3 * LEASE
    lost = await backend.extend_leases(
        [(a.id, ra.lease_id or ""), (b.id, rb.lease_id or ""), (uuid.uuid4(), "x")], until=until
    )
    assert a.id not in lost and b.id in lost and len(lost) == 2
    stored = await backend.get(a.id)
    assert stored is not None and stored.lease_expires_at == until
    assert await backend.extend_leases([(a.id, "wrong")], until=until) == {a.id}
    assert await backend.extend_leases([], until=until) == set()


async def test_reclaim_expired_requeues_then_fails_past_max_reclaims(backend: SQLQueueBackend) -> None:
    poison = record(max_reclaims=1)
    keep = record()
    await backend.enqueue([poison, keep])
    t = T0
    for round_ in (1, 2):
        claimed = await claim_all(backend, now=t, limit=1)
        assert [r.id for r in claimed] == [poison.id]
        assert await backend.reclaim_expired(now=t + LEASE) == []  # not expired before the deadline
        changed = await backend.reclaim_expired(now=t + LEASE + timedelta(microseconds=1))
        assert [r.id for r in changed] == [poison.id]
        (r,) = changed
        assert r.reclaims == round_ and r.attempts == 0 and r.lease_id is None
        if round_ == 1:
            assert r.status == "pending" and "lease expired" in (r.error or "")
        else:
            assert r.status == "failed" and r.finished_at == t + LEASE + timedelta(microseconds=1)
            assert "2 times" in (r.error or "")
        t = t + 2 * LEASE
    assert [r.id for r in await claim_all(backend, now=t)] == [keep.id]


async def test_cancel_and_claim_task(backend: SQLQueueBackend) -> None:
    pending, running, future = record(), record(), record(run_at=T0 + timedelta(hours=1))
    await backend.enqueue([running, pending, future])
    (held,) = await claim_all(backend, limit=1)
    assert held.id == running.id
    cancelled = await backend.cancel(running.id, now=T0)
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.lease_id is None
    assert await backend.finish(
        [Outcome(task_id=running.id, lease_id=held.lease_id or "", kind="complete")], now=T0
    ) == [None]
    assert await backend.cancel(running.id, now=T0 + LEASE) == cancelled  # terminal: unchanged
    assert await backend.cancel(uuid.uuid4(), now=T0) is None
    taken = await backend.claim_task(future.id, worker_id="imm", now=T0, lease_until=T0 + LEASE)
    assert taken is not None and taken.status == "running" and taken.worker_id == "imm"
    assert await backend.claim_task(future.id, worker_id="imm", now=T0, lease_until=T0 + LEASE) is None
    assert await backend.claim_task(uuid.uuid4(), worker_id="imm", now=T0, lease_until=T0 + LEASE) is None
    assert await backend.counts() == {"default": {"cancelled": 1, "pending": 1, "running": 1}}


async def test_wake_up_during_claim_is_latched(backend: SQLQueueBackend) -> None:
    await backend.enqueue([record()])  # nobody waits: the wake-up must be kept
    with anyio.fail_after(5):
        await backend.wait_for_work(None, timeout=60)


async def test_malformed_row_is_moved_aside(backend: SQLQueueBackend) -> None:
    bad, good, other = record(), record(), record()
    await backend.enqueue([bad, good, other])
    tasks, dead = backend.tables.tasks, backend.tables.dead_letters
    async with backend.engine.begin() as conn:
        for broken in (bad, other):
            await conn.execute(update(tasks).where(tasks.c.id == broken.id).values(args='{"not": "a list"}'))
    claimed = await claim_all(backend, limit=2)
    assert [r.id for r in claimed] == [good.id]
    with pytest.raises(MalformedRecordError, match="moved"):
        await backend.get(other.id)
    assert await backend.get(bad.id) is None
    async with backend.engine.connect() as conn:
        moved = (await conn.execute(select(dead.c.task_id, dead.c.error))).all()
    assert sorted(str(t) for t, _ in moved) == sorted([str(bad.id), str(other.id)])
    assert all("cannot be decoded" in error for _, error in moved)
    assert await backend.counts() == {"default": {"running": 1}}


async def test_unreachable_database_raises_backend_unavailable() -> None:
    with socket_port() as port:
        backend = SQLQueueBackend(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        with pytest.raises(BackendUnavailableError):
            await backend.open()


def socket_port():
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield port

    return closed_port()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///tmp/q.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///tmp/q.db", "sqlite+aiosqlite"),
    ],
)
async def test_url_schemes_resolve_through_entry_points(url: str, driver: str) -> None:
    backend = backend_from_url(url + "?table_prefix=app_q_&poll_interval=0.5")
    assert isinstance(backend, SQLQueueBackend)
    assert backend._url.drivername == driver
    assert backend.tables.tasks.name == "app_q_tasks"
    assert backend.poll_interval == 0.5
    assert "table_prefix" not in backend._url.query


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "mysql://u@h/db",
        "postgresql://u@h/db?table_prefix=1bad",
        "postgresql://u@h/db?create_schema=maybe",
        "sqlite:///q.db?schema=x",
    ],
)
def test_invalid_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(QueueConfigurationError):
        SQLQueueBackend(url)


def test_url_or_engine_required() -> None:
    with pytest.raises(QueueConfigurationError):
        SQLQueueBackend()


async def test_concurrent_enqueues_of_one_key_store_one_record(db_url: str) -> None:
    backends = [SQLQueueBackend(db_url) for _ in range(3)]
    for b in backends:
        await b.open()
    try:
        results = []

        async def enqueue(b: SQLQueueBackend) -> None:
            for _ in range(5):
                results.extend(await b.enqueue([record(key="only-one")]))

        async with anyio.create_task_group() as tg:
            for b in backends:
                tg.start_soon(enqueue, b)
        created = [r for r in results if r.created]
        assert len(created) == 1 and len(results) == 15
        assert {r.record.id for r in results} == {created[0].record.id}
        assert await backends[0].counts() == {"default": {"pending": 1}}
    finally:
        for b in backends:
            await b.close()
