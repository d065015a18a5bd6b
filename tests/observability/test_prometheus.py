"""PrometheusObserver with a real CollectorRegistry: a mixed run on SQLite, labels, multiprocess mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import anyio
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from litestar_queues import (
    Backoff,
    ExtraNotInstalledError,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    TaskRegistry,
    task,
)
from litestar_queues.observability import PrometheusObserver
from litestar_queues.observability.prometheus import OTHER_LABEL, forget_process
from litestar_queues_litestar import _supervisor
from tests.core._support import fast_worker, wait_until

if TYPE_CHECKING:
    from pathlib import Path

NO_WAIT = Backoff(initial=0, jitter=0)
ID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}|\d{3,}|^worker-|:")


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _mixed_tasks(registry: TaskRegistry) -> None:
    attempts: dict[int, int] = {}

    @task("m.ok", registry=registry)
    async def ok(i: int) -> int:
        return i

    @task("m.flaky", retries=2, backoff=NO_WAIT, registry=registry)
    async def flaky(i: int) -> str:
        attempts[i] = attempts.get(i, 0) + 1
        if attempts[i] == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    @task("m.broken", retries=1, backoff=NO_WAIT, registry=registry)
    async def broken() -> None:
        raise ValueError("always")

    @task("m.later", registry=registry)
    async def later() -> None:
        return None


@pytest.mark.anyio
async def test_counters_match_the_outcomes_of_a_mixed_run_on_sqlite(sqlite_url: str) -> None:
    tasks = TaskRegistry()
    _mixed_tasks(tasks)
    metrics = CollectorRegistry()
    observer = PrometheusObserver(registry=metrics, depth_interval=None)
    config = QueueConfig(
        queue_backend=sqlite_url,
        registry=tasks,
        observers=[observer],
        worker=fast_worker(queues=["default"]),
    )
    async with QueueService(config) as service:
        handles = [await service.enqueue("m.ok", i) for i in range(3)]
        handles += [await service.enqueue("m.flaky", i) for i in range(2)]
        handles.append(await service.enqueue("m.broken"))
        await service.enqueue("m.ok", 0, key="once")
        await service.enqueue("m.ok", 0, key="once")  # deduplicated: not counted
        waiting = await service.enqueue("m.later", run_after=3600)
        await service.cancel(waiting.id)
        # a claim whose lease runs out: the sweep takes it back
        stalled = await service.enqueue("m.later", queue="side")
        await service.attempts.claim(queues=["side"], worker_id="gone", limit=1, lease_seconds=0.05)
        await anyio.sleep(0.1)
        assert [r.id for r in await service.attempts.reclaim_expired()] == [stalled.id]
        async with service.worker():
            for handle in handles:
                await handle.wait(timeout=20)
            await wait_until(lambda: _completed(service, 6))
        await observer.refresh_depth(service)
    statuses = sorted(h.status for h in handles)
    assert statuses == ["completed"] * 5 + ["failed"]

    def count(metric: str, name: str, queue: str = "default") -> float:
        return _value(metrics, f"litestar_queues_tasks_{metric}_total", queue=queue, task=name)

    assert [count("enqueued", n) for n in ("m.ok", "m.flaky", "m.broken", "m.later")] == [4, 2, 1, 1]
    assert count("enqueued", "m.later", "side") == 1
    assert [count("started", n) for n in ("m.ok", "m.flaky", "m.broken")] == [4, 4, 2]
    assert [count("completed", n) for n in ("m.ok", "m.flaky", "m.broken")] == [4, 2, 0]
    assert [count("retried", n) for n in ("m.ok", "m.flaky", "m.broken")] == [0, 2, 1]
    assert [count("failed", n) for n in ("m.ok", "m.flaky", "m.broken")] == [0, 0, 1]
    assert count("cancelled", "m.later") == 1
    assert count("reclaimed", "m.later", "side") == 1
    for name, attempts in (("m.ok", 4), ("m.flaky", 4), ("m.broken", 2)):
        labels = {"queue": "default", "task": name}
        assert _value(metrics, "litestar_queues_task_duration_seconds_count", **labels) == attempts
        assert _value(metrics, "litestar_queues_task_lag_seconds_count", **labels) == attempts
        assert _value(metrics, "litestar_queues_tasks_running", **labels) == 0
    depth = {
        status: _value(metrics, "litestar_queues_queue_tasks", queue="default", status=status)
        for status in ("pending", "running", "completed", "failed", "cancelled")
    }
    assert depth == {"pending": 0, "running": 0, "completed": 6, "failed": 1, "cancelled": 1}
    assert _value(metrics, "litestar_queues_queue_tasks", queue="side", status="pending") == 1


async def _completed(service: QueueService, count: int) -> bool:
    return (await service.stats()).count("completed") >= count


@pytest.mark.anyio
async def test_no_metric_carries_an_id_or_another_unbounded_label(registry: TaskRegistry) -> None:
    @task("b.job", registry=registry)
    async def job() -> None:
        return None

    metrics = CollectorRegistry()
    observer = PrometheusObserver(registry=metrics, depth_interval=None, max_label_values=3)
    config = QueueConfig(registry=registry, observers=[observer], worker=fast_worker())
    async with QueueService(config) as service, service.worker():
        # one queue per tenant: an unbounded set of names
        handles = [await service.enqueue(job, queue=f"tenant-{i}") for i in range(8)]
        for handle in handles:
            await handle.wait(timeout=10)
        await observer.refresh_depth(service)
    names: set[str] = set()
    queues: set[str] = set()
    for family in metrics.collect():
        for sample in family.samples:
            names.update(sample.labels)
            queues.add(sample.labels.get("queue", ""))
            for label, value in sample.labels.items():
                assert label == "le" or not ID_LIKE.search(value), (sample.name, sample.labels)
    assert names <= {"queue", "task", "status", "le"}
    assert queues - {""} == {"tenant-0", "tenant-1", "tenant-2", OTHER_LABEL}
    completed = _value(metrics, "litestar_queues_tasks_completed_total", queue=OTHER_LABEL, task="b.job")
    assert completed == 5
    other_depth = _value(metrics, "litestar_queues_queue_tasks", queue=OTHER_LABEL, status="completed")
    assert other_depth == 5


@pytest.mark.anyio
async def test_the_worker_refreshes_the_depth_gauges_on_its_timer(registry: TaskRegistry) -> None:
    @task("d.wait", registry=registry)
    async def wait() -> None:
        return None

    metrics = CollectorRegistry()
    observer = PrometheusObserver(registry=metrics, depth_interval=0.05)
    config = QueueConfig(registry=registry, observers=[observer], worker=fast_worker(queues=["busy"]))
    async with QueueService(config) as service:
        for _ in range(3):
            await service.enqueue(wait, queue="idle")
        async with service.worker():

            async def counted() -> bool:
                return _value(metrics, "litestar_queues_queue_tasks", queue="idle", status="pending") == 3

            await wait_until(counted)


def test_two_observers_on_one_registry_share_its_metrics() -> None:
    metrics = CollectorRegistry()
    first = PrometheusObserver(registry=metrics)
    second = PrometheusObserver(registry=metrics)
    assert first.metrics is second.metrics
    with pytest.raises(QueueConfigurationError, match="other buckets"):
        PrometheusObserver(registry=metrics, lag_buckets=(1.0, 2.0))
    assert PrometheusObserver(registry=metrics, prefix="other").metrics is not first.metrics


def test_a_missing_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ExtraNotInstalledError) as caught:
        PrometheusObserver(registry=CollectorRegistry())
    assert str(caught.value).endswith('pip install "litestar-queues[prometheus]"')
    assert isinstance(caught.value, ImportError) and caught.value.name == "prometheus_client"


_WORKER_PROCESS = textwrap.dedent(
    """
    import anyio
    from prometheus_client import CollectorRegistry
    from litestar_queues import QueueConfig, QueueService, TaskRegistry, task
    from litestar_queues.observability import PrometheusObserver

    registry = TaskRegistry()

    @task("mp.job", registry=registry)
    async def job() -> None:
        return None

    async def main() -> None:
        observer = PrometheusObserver(registry=CollectorRegistry(), depth_interval=None)
        config = QueueConfig(registry=registry, observers=[observer], execution_backend="immediate")
        async with QueueService(config) as service:
            for _ in range(3):
                await service.enqueue(job)
            await observer.refresh_depth(service)

    anyio.run(main)
    """
)


def test_multiprocess_mode_adds_up_the_processes_and_forgets_an_exited_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", _WORKER_PROCESS], env=env, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        pids.append(proc.pid)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=str(tmp_path))  # type: ignore[no-untyped-call]
    labels = {"queue": "default", "task": "mp.job"}
    assert merged.get_sample_value("litestar_queues_tasks_completed_total", labels) == 6
    assert merged.get_sample_value("litestar_queues_task_duration_seconds_count", labels) == 6
    running = "litestar_queues_tasks_running"
    assert [merged.get_sample_value(running, {**labels, "pid": str(p)}) for p in pids] == [0, 0]
    # the latest refresh of either process: each saw its own three records
    depth = {"queue": "default", "status": "completed"}
    assert merged.get_sample_value("litestar_queues_queue_tasks", depth) == 3

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    forget_process(pids[0])
    after = CollectorRegistry()
    MultiProcessCollector(after, path=str(tmp_path))  # type: ignore[no-untyped-call]
    assert after.get_sample_value(running, {**labels, "pid": str(pids[0])}) is None
    assert after.get_sample_value(running, {**labels, "pid": str(pids[1])}) == 0
    assert after.get_sample_value("litestar_queues_tasks_completed_total", labels) == 6


def test_forget_process_is_a_no_op_outside_multiprocess_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "prometheus_client.multiprocess", None)  # would fail if imported
    forget_process(12345)


def test_the_worker_supervisor_forgets_each_exited_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forgotten: list[int] = []
    monkeypatch.setattr(_supervisor, "forget_process", forgotten.append)
    _supervisor.supervise([sys.executable, "-c", "pass"], 2, tmp_path)
    assert len(forgotten) == 2 and all(pid > 0 for pid in forgotten)
