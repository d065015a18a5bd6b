"""The observer port: what each hook is told, from the one attempt driver and the enqueue path."""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import (
    Backoff,
    MemoryQueueBackend,
    QueueConfig,
    QueueConfigurationError,
    QueueObserver,
    QueueService,
    Schedule,
    TaskCall,
    TaskRegistry,
    task,
)
from litestar_queues.observability import RecordingObserver
from tests.core._support import ManualClock, make_config, wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.models import EnqueueResult, Outcome, TaskRecord

NO_WAIT = Backoff(initial=0, jitter=0)


def _tasks(registry: TaskRegistry) -> dict[str, Any]:
    calls: list[int] = []

    @task("o.ok", registry=registry)
    async def ok() -> int:
        return 1

    @task("o.flaky", retries=1, backoff=NO_WAIT, registry=registry)
    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        return "second"

    @task("o.broken", registry=registry)
    async def broken() -> None:
        raise ValueError("always")

    return {"ok": ok, "flaky": flaky, "broken": broken}


@pytest.mark.anyio
async def test_a_mixed_run_is_told_in_order_with_each_outcome(registry: TaskRegistry) -> None:
    tasks = _tasks(registry)
    observer = RecordingObserver()
    async with QueueService(make_config(registry, observers=[observer])) as service, service.worker():
        handles = {name: await service.enqueue(fn) for name, fn in tasks.items()}
        for handle in handles.values():
            await handle.wait(timeout=10)
    assert observer.hooks(handles["ok"].id) == ["enqueuing", "enqueued", "started", "finished"]
    assert observer.hooks(handles["flaky"].id) == [
        "enqueuing",
        "enqueued",
        *("started", "finished") * 2,
    ]
    kinds = {
        name: [o.kind for o in observer.of("finished") if o.task_id == str(h.id)]
        for name, h in handles.items()
    }
    assert kinds == {"ok": ["complete"], "flaky": ["retry", "complete"], "broken": ["fail"]}
    errors = [type(o.details["error"]).__name__ for o in observer.of("finished")]
    assert sorted(errors) == ["NoneType", "NoneType", "RuntimeError", "ValueError"]
    assert all(o.details["created"] and o.details["error"] is None for o in observer.of("enqueued"))
    started = observer.of("started")
    assert [o.details["attempt"] for o in started if o.task_name == "o.flaky"] == [1, 2]
    assert all(o.details["worker_id"] and o.details["lag"] >= 0 for o in started)
    assert all(o.details["duration"] >= 0 for o in observer.of("finished"))


@pytest.mark.anyio
async def test_lag_is_from_the_due_time_to_the_start(registry: TaskRegistry) -> None:
    @task("o.later", registry=registry)
    async def later() -> None:
        return None

    clock = ManualClock()
    observer = RecordingObserver()
    config = make_config(registry, observers=[observer], clock=clock)
    async with QueueService(config) as service:
        handle = await service.enqueue(later, run_after=10)
        clock.advance(12.5)
        (claimed,) = await service.attempts.claim(queues=None, worker_id="w", limit=1, lease_seconds=30)
        await service.attempts.run(claimed, "w")
    (started,) = observer.of("started")
    assert started.task_id == str(handle.id)
    assert started.details["lag"] == pytest.approx(2.5)


@pytest.mark.anyio
async def test_a_deduplicated_enqueue_is_told_as_not_created(registry: TaskRegistry) -> None:
    @task("o.keyed", registry=registry)
    async def keyed() -> None:
        return None

    observer = RecordingObserver()
    async with QueueService(make_config(registry, observers=[observer])) as service:
        first = await service.enqueue(keyed, key="k")
        second = await service.enqueue(keyed, key="k")
    assert first.id == second.id
    assert [o.details["created"] for o in observer.of("enqueued")] == [True, False]
    # the second built record was not stored: its id is not the stored one
    assert observer.of("enqueued")[1].task_id != str(first.id)


class _FailingStore(MemoryQueueBackend):
    async def enqueue(self, records: Sequence[TaskRecord]) -> Sequence[EnqueueResult]:
        raise ConnectionError("store down")


@pytest.mark.anyio
async def test_a_failed_store_is_told_with_its_error_and_still_raises(registry: TaskRegistry) -> None:
    @task("o.lost", registry=registry)
    async def lost() -> None:
        return None

    observer = RecordingObserver()
    config = make_config(registry, observers=[observer], queue_backend=_FailingStore())
    async with QueueService(config) as service:
        with pytest.raises(ConnectionError):
            await service.enqueue_many([TaskCall(lost), TaskCall(lost)])
    enqueued = observer.of("enqueued")
    assert observer.hooks() == ["enqueuing", "enqueuing", "enqueued", "enqueued"]
    assert all(isinstance(o.details["error"], ConnectionError) and not o.details["created"] for o in enqueued)


class _Broken(QueueObserver):
    def enqueuing(self, record: TaskRecord) -> None:
        raise RuntimeError("observer bug")

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        raise RuntimeError("observer bug")

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        raise RuntimeError("observer bug")


@pytest.mark.anyio
async def test_a_failing_observer_is_logged_and_changes_nothing(
    registry: TaskRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @task("o.fine", registry=registry)
    async def fine() -> str:
        return "done"

    after = RecordingObserver()
    config = make_config(registry, observers=[_Broken(), after])
    with caplog.at_level(logging.WARNING, logger="litestar_queues.observers"):
        async with QueueService(config) as service, service.worker():
            result = await (await service.enqueue(fine)).wait(timeout=10)
    assert (result.status, result.result) == ("completed", "done")
    assert after.hooks() == ["enqueuing", "enqueued", "started", "finished"]
    failed = {r.getMessage() for r in caplog.records if r.name == "litestar_queues.observers"}
    assert failed == {
        f"observer _Broken failed in {hook} (ignored)" for hook in ("enqueuing", "started", "finished")
    }


_SPAN: contextvars.ContextVar[str] = contextvars.ContextVar("span", default="none")


class _Scoped(QueueObserver):
    """Sets a context variable in started and resets it in finished, as a tracer does."""

    def __init__(self) -> None:
        self.tokens: dict[str, contextvars.Token[str]] = {}
        self.reset: list[str] = []

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        self.tokens[str(record.id)] = _SPAN.set(f"span-of-{record.id}")

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        _SPAN.reset(self.tokens.pop(str(record.id)))  # raises if not in the same context
        self.reset.append(str(record.id))


@pytest.mark.anyio
@pytest.mark.parametrize("sync", [False, True])
async def test_started_and_finished_run_in_the_task_that_runs_the_function(
    registry: TaskRegistry, sync: bool
) -> None:
    seen: list[str] = []
    if sync:

        @task("o.sees", registry=registry)
        def sees_sync() -> None:
            seen.append(_SPAN.get())
    else:

        @task("o.sees", registry=registry)
        async def sees() -> None:
            seen.append(_SPAN.get())

    observer = _Scoped()
    async with QueueService(make_config(registry, observers=[observer])) as service, service.worker():
        handles = [await service.enqueue("o.sees") for _ in range(3)]
        for handle in handles:
            await handle.wait(timeout=10)
    assert sorted(seen) == sorted(f"span-of-{h.id}" for h in handles)
    assert sorted(observer.reset) == sorted(str(h.id) for h in handles) and not observer.tokens


@pytest.mark.anyio
async def test_immediate_runs_and_unknown_tasks_are_observed(registry: TaskRegistry) -> None:
    @task("o.inline", registry=registry, retries=1, backoff=NO_WAIT)
    async def inline(fail: bool) -> None:
        if fail:
            raise RuntimeError("no")

    elsewhere = TaskRegistry()

    @task("o.elsewhere", registry=elsewhere)
    async def not_here() -> None:
        return None

    observer = RecordingObserver()
    async with QueueService(make_config(registry, observers=[observer])) as service:
        handle = await service.enqueue(inline, True, execution_backend="immediate")
        assert handle.status == "failed"
        orphan = await service.enqueue(not_here)
        (claimed,) = await service.attempts.claim(queues=None, worker_id="w", limit=1, lease_seconds=30)
        await service.attempts.run(claimed, "w")
    inline_kinds = [o.kind for o in observer.of("finished") if o.task_id == str(handle.id)]
    assert inline_kinds == ["retry", "fail"]
    assert [o.details["worker_id"] for o in observer.of("started") if o.task_id == str(handle.id)] == [
        None
    ] * 2
    assert observer.hooks(orphan.id) == ["enqueuing", "enqueued", "started", "finished"]
    (orphan_end,) = [o for o in observer.of("finished") if o.task_id == str(orphan.id)]
    assert orphan_end.kind == "fail" and type(orphan_end.details["error"]).__name__ == "UnknownTaskError"


@pytest.mark.anyio
async def test_a_cancelled_running_task_finishes_without_outcome_and_is_told_cancelled_once(
    registry: TaskRegistry,
) -> None:
    started = anyio.Event()

    @task("o.long", registry=registry)
    async def long() -> None:
        started.set()
        await anyio.sleep(30)

    @task("o.waiting", registry=registry)
    async def waiting() -> None:
        return None

    observer = RecordingObserver()
    async with QueueService(make_config(registry, observers=[observer])) as service:
        queued = await service.enqueue(waiting, run_after=60)
        await service.cancel(queued.id)
        await service.cancel(queued.id)  # already cancelled: not told again
        async with service.worker():
            running = await service.enqueue(long)
            await started.wait()
            await service.cancel(running.id)
            await wait_until(lambda: _has(observer, "finished"))
    assert [o.task_id for o in observer.of("cancelled")] == [str(queued.id), str(running.id)]
    (end,) = observer.of("finished")
    assert end.task_id == str(running.id) and end.kind is None and end.details["error"] is None


def _kinds(observer: RecordingObserver, task_id: object) -> list[str | None]:
    return [o.kind for o in observer.of("finished") if o.task_id == str(task_id)]


async def _has(observer: RecordingObserver, hook: str) -> bool:
    return bool(observer.of(hook))


@pytest.mark.anyio
async def test_a_reclaim_is_told_with_the_record_after_the_sweep(registry: TaskRegistry) -> None:
    @task("o.stalls", registry=registry)
    async def stalls() -> None:
        return None

    clock = ManualClock()
    observer = RecordingObserver()
    config = make_config(registry, observers=[observer], clock=clock, max_reclaims=1)
    async with QueueService(config) as service:
        handle = await service.enqueue(stalls)
        for _ in range(2):
            await service.attempts.claim(queues=None, worker_id="dead", limit=1, lease_seconds=5)
            clock.advance(6)
            await service.attempts.reclaim_expired()
    statuses = [(o.task_id, o.details["status"]) for o in observer.of("reclaimed")]
    assert statuses == [(str(handle.id), "pending"), (str(handle.id), "failed")]


@pytest.mark.anyio
async def test_a_schedule_fire_is_observed_as_an_enqueue(registry: TaskRegistry) -> None:
    @task("o.tick", registry=registry)
    async def tick() -> None:
        return None

    clock = ManualClock()
    observer = RecordingObserver()
    schedule = Schedule(name="o.every-minute", task="o.tick", interval=60)
    config = make_config(registry, observers=[observer], clock=clock, schedules=[schedule])
    async with QueueService(config) as service:
        scheduler = service.scheduler()
        await scheduler.tick(clock.now())  # first seen: stores the first due time, fires nothing
        assert observer.observations == []
        clock.advance(61)
        (fire,) = await scheduler.tick(clock.now())
    assert observer.hooks() == ["enqueuing", "enqueued"]
    assert observer.of("enqueued")[0].task_id == str(fire.task_id)
    assert observer.of("enqueued")[0].details == {"created": True, "error": None}


class _Watching(QueueObserver):
    def __init__(self) -> None:
        self.ticks = 0
        self.stopped = False

    async def watch(self, service: QueueService) -> None:
        try:
            while True:
                self.ticks += 1
                await anyio.sleep(0.01)
        finally:
            self.stopped = True


@pytest.mark.anyio
async def test_watch_runs_while_a_worker_serves(registry: TaskRegistry) -> None:
    observer = _Watching()
    async with QueueService(make_config(registry, observers=[observer])) as service:
        assert observer.ticks == 0  # a service alone runs no watch
        async with service.worker(scheduler=False):
            await wait_until(_ticked(observer))
        assert observer.stopped


def _ticked(observer: _Watching) -> Any:
    async def check() -> bool:
        return observer.ticks >= 3

    return check


class _Incomplete:
    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        return None


def test_the_configuration_refuses_an_observer_that_lacks_a_hook() -> None:
    with pytest.raises(QueueConfigurationError) as caught:
        QueueConfig(observers=[_Incomplete()])  # type: ignore[list-item]
    message = str(caught.value)
    assert "cancelled, enqueued, enqueuing, finished, reclaimed, watch" in message
    assert "subclass litestar_queues.observability.observer.QueueObserver" in message
    with pytest.raises(QueueConfigurationError, match="observers must be a list"):
        QueueConfig(observers=RecordingObserver())  # type: ignore[arg-type]


def test_without_observers_the_driver_has_none_to_call() -> None:
    assert QueueService(QueueConfig()).attempts.observers is None
    assert QueueService(QueueConfig(observers=[RecordingObserver()])).attempts.observers is not None
