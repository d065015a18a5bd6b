"""Worker shutdown, cancellation of running tasks, lease loss and immediate execution."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from typing import Any

import anyio
import pytest

from litestar_queues import Backoff, Outcome, QueueService, TaskRegistry, Worker, task
from tests.core._support import ManualClock, fast_worker, make_config, wait_until


async def _running(service: QueueService, handle: Any) -> bool:
    return (await handle.refresh()).status == "running"


@pytest.mark.anyio
async def test_graceful_shutdown_lets_running_tasks_finish_within_grace(registry: TaskRegistry) -> None:
    started = anyio.Event()

    @task("l.short", registry=registry)
    async def short() -> str:
        started.set()
        await anyio.sleep(0.2)
        return "done"

    async with QueueService(make_config(registry, worker=fast_worker(shutdown_grace=30))) as service:
        async with service.worker() as worker:
            handle = await service.enqueue(short)
            await started.wait()
        # leaving the block stopped the worker: it waited for the running task
        await handle.refresh()
        assert (handle.status, handle.result, worker.running_count) == ("completed", "done", 0)
        waiting = await service.enqueue(short)
        assert (await waiting.refresh()).status == "pending"  # a stopped worker claims nothing


@pytest.mark.anyio
async def test_after_grace_running_tasks_are_released_uncounted(registry: TaskRegistry) -> None:
    started = anyio.Event()
    runs: list[int] = []

    @task("l.long", retries=0, registry=registry)
    async def long(_task_context: Any) -> str:
        runs.append(_task_context.attempt)
        if len(runs) == 1:
            started.set()
            await anyio.sleep_forever()
        return "second run"

    async with QueueService(make_config(registry, worker=fast_worker(shutdown_grace=0.1))) as service:
        async with service.worker():
            handle = await service.enqueue(long)
            await started.wait()
        record = (await handle.refresh()).record
        assert (record.status, record.attempts, record.runs, record.lease_id) == ("pending", 0, 1, None)
        # retries=0, yet the released attempt did not count: the next worker runs it to completion
        async with service.worker():
            await handle.wait(timeout=10)
    assert (handle.status, handle.result, handle.record.attempts, handle.record.runs) == (
        "completed",
        "second run",
        1,
        2,
    )
    assert runs == [1, 1]


@pytest.mark.anyio
async def test_run_returns_after_sigterm_and_drains(registry: TaskRegistry) -> None:
    started = anyio.Event()

    @task("l.sig", registry=registry)
    async def sig() -> str:
        started.set()
        await anyio.sleep(0.1)
        return "drained"

    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(sig)
        worker = Worker(service)
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            await started.wait()
            os.kill(os.getpid(), signal.SIGTERM)
            with anyio.fail_after(30):
                await worker.wait_stopped()
        assert (await handle.refresh()).status == "completed"


@pytest.mark.anyio
async def test_stop_ends_run_without_signals(registry: TaskRegistry) -> None:
    async with QueueService(make_config(registry)) as service:
        worker = Worker(service)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: worker.run(handle_signals=False))
            await anyio.sleep(0.05)
            worker.stop()
            with anyio.fail_after(30):
                await worker.wait_stopped()


@pytest.mark.anyio
async def test_cancelling_a_running_task_stops_it_through_the_heartbeat(registry: TaskRegistry) -> None:
    started = anyio.Event()
    stopped: list[str] = []

    @task("l.cancel_me", registry=registry)
    async def cancel_me() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            stopped.append("cancelled")
            raise
        return "never"

    async with QueueService(make_config(registry)) as service, service.worker() as worker:
        handle = await service.enqueue(cancel_me)
        await started.wait()
        assert (await service.cancel(handle.id)).status == "cancelled"

        async def gone() -> bool:
            return worker.running_count == 0

        await wait_until(gone)
    assert stopped == ["cancelled"]
    record = (await handle.refresh()).record
    assert (record.status, record.result, record.lease_id) == ("cancelled", None, None)
    assert (worker.completed, worker.failed) == (0, 0)


@pytest.mark.anyio
async def test_lost_lease_cancels_the_run_and_rejects_its_late_completion(registry: TaskRegistry) -> None:
    clock = ManualClock()
    first_started = threading.Event()
    let_first_finish = threading.Event()
    runs: list[int] = []

    @task("l.lease", registry=registry)
    def lease_task() -> str:
        runs.append(1)
        if len(runs) == 1:
            first_started.set()
            let_first_finish.wait(timeout=30)
            return "late first run"
        return "second run"

    config = make_config(registry, clock=clock, worker=fast_worker(lease_seconds=1, heartbeat_interval=0.05))
    async with QueueService(config) as service, service.worker() as worker:
        handle = await service.enqueue(lease_task)
        await anyio.to_thread.run_sync(first_started.wait, 30)
        first_lease = (await handle.refresh()).record.lease_id
        assert first_lease is not None
        # the lease "expires": time jumps past it and the memory backend's reclaim takes the task back
        reclaimed = await service.backend.reclaim_expired(now=clock.now() + timedelta(hours=1))
        assert [r.id for r in reclaimed] == [handle.id]
        assert (reclaimed[0].status, reclaimed[0].attempts, reclaimed[0].reclaims) == ("pending", 0, 1)
        # the worker's heartbeat sees the lost lease, drops the first run and runs the task again
        await handle.wait(timeout=10)
        assert (handle.result, handle.record.runs, handle.record.attempts) == ("second run", 2, 1)
        let_first_finish.set()
        # the first run's completion arrives late, under the old lease: the backend rejects it
        late = Outcome(task_id=handle.id, lease_id=first_lease, kind="complete", result="late first run")
        assert await service.backend.finish([late], now=clock.now()) == [None]
        await anyio.sleep(0.1)
        assert (await handle.refresh()).result == "second run"
        assert (worker.completed, worker.failed) == (1, 0)


@pytest.mark.anyio
async def test_a_worker_reclaims_expired_leases_of_a_dead_worker(registry: TaskRegistry) -> None:
    clock = ManualClock()

    @task("l.orphan", registry=registry)
    async def orphan() -> str:
        return "rescued"

    async with QueueService(make_config(registry, clock=clock)) as service:
        handle = await service.enqueue(orphan)
        # a worker that claimed the task and then died: nobody extends its lease
        (claimed,) = await service.backend.claim(
            queues=None,
            worker_id="dead",
            limit=1,
            now=clock.now(),
            lease_until=clock.now() + timedelta(seconds=5),
        )
        assert claimed.id == handle.id
        clock.advance(6)
        async with service.worker():
            await handle.wait(timeout=10)
    record = handle.record
    assert (record.status, record.result, record.reclaims, record.runs, record.attempts) == (
        "completed",
        "rescued",
        1,
        2,
        1,
    )


@pytest.mark.anyio
async def test_immediate_execution_runs_inline_at_enqueue(registry: TaskRegistry) -> None:
    seen: list[str | None] = []

    @task("l.inline", registry=registry)
    async def inline(x: int, _task_context: Any) -> int:
        seen.append(_task_context.worker_id)
        return x + 1

    async with QueueService(make_config(registry)) as service:
        result = await service.enqueue(inline, 1, execution_backend="immediate")
        assert (result.status, result.result, result.record.attempts) == ("completed", 2, 1)
        deduped = await service.enqueue(inline.using(key="k", execution_backend="immediate"), 5)
        again = await service.enqueue(inline.using(key="k", execution_backend="immediate"), 6)
        assert (deduped.result, again.created) == (6, True)
        queued = await service.enqueue(inline, 3)
        assert queued.status == "pending"
    assert seen == [None, None, None]

    async with QueueService(make_config(registry, execution_backend="immediate")) as service:
        results = [await inline.enqueue(i) for i in range(3)]
    assert [(r.status, r.result) for r in results] == [("completed", 1), ("completed", 2), ("completed", 3)]


@pytest.mark.anyio
async def test_immediate_execution_applies_retries_inline(registry: TaskRegistry) -> None:
    calls: list[int] = []

    @task("l.inline_flaky", retries=2, backoff=Backoff(initial=0, jitter=0), registry=registry)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("again")
        return "third time"

    async with QueueService(make_config(registry, execution_backend="immediate")):
        result = await flaky.enqueue()
        assert (result.status, result.result, result.record.attempts, len(calls)) == (
            "completed",
            "third time",
            3,
            3,
        )
        calls.clear()
        failed = await flaky.using(retries=0).enqueue()
        assert (failed.status, failed.error, len(calls)) == ("failed", "RuntimeError: again", 1)


@pytest.mark.anyio
async def test_an_error_in_the_worker_block_still_drains_gracefully(registry: TaskRegistry) -> None:
    started = anyio.Event()

    @task("l.crash", registry=registry)
    async def busy() -> str:
        started.set()
        await anyio.sleep(0.2)
        return "finished anyway"

    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(busy)
        with pytest.raises(ExceptionGroup) as caught:
            async with service.worker():
                await started.wait()
                raise RuntimeError("the app failed")
        assert caught.group_contains(RuntimeError, match="the app failed")
        record = (await handle.refresh()).record
    assert (record.status, record.result, record.lease_id) == ("completed", "finished anyway", None)


@pytest.mark.anyio
async def test_an_error_after_grace_releases_running_tasks(registry: TaskRegistry) -> None:
    started = anyio.Event()

    @task("l.crash_long", registry=registry)
    async def stuck() -> None:
        started.set()
        await anyio.sleep_forever()

    async with QueueService(make_config(registry, worker=fast_worker(shutdown_grace=0.05))) as service:
        handle = await service.enqueue(stuck)
        with pytest.raises(ExceptionGroup):
            async with service.worker():
                await started.wait()
                raise RuntimeError("the app failed")
        record = (await handle.refresh()).record
        await service.cancel(handle.id)
    assert (record.status, record.attempts, record.runs) == ("pending", 0, 1)


@pytest.mark.anyio
async def test_a_released_task_keeps_its_place_in_the_queue(registry: TaskRegistry) -> None:
    order: list[str] = []
    first_started = anyio.Event()

    @task("l.place", registry=registry)
    async def place(name: str) -> None:
        order.append(name)
        if name == "a" and len(order) == 1:
            first_started.set()
            await anyio.sleep_forever()

    config = make_config(registry, worker=fast_worker(concurrency=1, shutdown_grace=0.05))
    async with QueueService(config) as service:
        handles = [await service.enqueue(place, name) for name in ("a", "b", "c")]
        async with service.worker():
            await first_started.wait()
        assert [(await h.refresh()).status for h in handles] == ["pending"] * 3
        async with service.worker():
            for handle in handles:
                await handle.wait(timeout=10)
    assert order == ["a", "a", "b", "c"]
