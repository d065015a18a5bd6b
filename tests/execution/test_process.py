"""The ``process`` execution backend with real child processes and a SQLite queue they share."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, WorkerConfig
from litestar_queues.exceptions import QueueConfigurationError
from tests.execution import app
from tests.execution.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


def make_config(url: str, extra: dict[str, dict[str, Any]] | None = None, **profile: Any) -> QueueConfig:
    profiles = {"isolated": {"backend": "process", "concurrency": 2, "cwd": ROOT, **profile}}
    for name, settings in (extra or {}).items():
        profiles[name] = {"backend": "process", "cwd": ROOT, **settings}
    return QueueConfig(
        queue_backend=url,
        app=app.APP,
        worker=WorkerConfig(lease_seconds=5, poll_interval=0.2),
        execution_profiles=profiles,
    )


async def test_a_task_runs_in_a_child_process_and_its_result_is_stored(queue_url: str) -> None:
    async with QueueService(make_config(queue_url)) as service, service.worker():
        result = await service.enqueue(app.where, 7, execution_profile="isolated")
        assert result.record.execution_backend == "process"
        await result.wait(timeout=60)
    assert result.status == "completed", result.error
    assert result.result["value"] == 7
    assert result.result["pid"] != os.getpid()


@pytest.mark.slow
async def test_a_child_killed_by_sigkill_fails_its_attempt_and_the_worker_keeps_serving(
    queue_url: str,
) -> None:
    async with QueueService(make_config(queue_url)) as service, service.worker():
        always = await service.enqueue(app.kill_self, execution_profile="isolated")
        once = await service.enqueue(app.kill_first_attempt, execution_profile="isolated")
        await always.wait(timeout=60)
        await once.wait(timeout=60)
        # the same worker serves on after its children were killed
        later = await service.enqueue(app.where, 1, execution_profile="isolated")
        await later.wait(timeout=60)
    assert always.status == "failed"
    assert always.record.attempts == 2
    assert "killed by SIGKILL" in (always.error or "")
    assert once.status == "completed"
    assert once.result == 2
    assert later.status == "completed"


@pytest.mark.slow
async def test_a_child_over_its_memory_limit_fails_its_attempt_and_retries(queue_url: str) -> None:
    async with QueueService(make_config(queue_url, memory_limit_mb=512)) as service, service.worker():
        hog = await service.enqueue(app.hog_memory, 4096, execution_profile="isolated")
        small = await service.enqueue(app.hog_memory, 16, execution_profile="isolated")
        await hog.wait(timeout=60)
        await small.wait(timeout=60)
    assert hog.status == "failed"
    assert hog.record.attempts == 2
    assert "MemoryError" in (hog.error or "")
    assert small.status == "completed"
    assert small.result == 16 * 1024 * 1024


@pytest.mark.slow
async def test_timeouts_fail_the_attempt_whether_the_child_or_the_worker_enforces_them(
    queue_url: str,
) -> None:
    # the hard limit counts from the child's start: "hasty" kills it before its own timeout can
    # fire, "patient" leaves room for a slow start, so the child's own timeout ends the attempt
    profiles = {"hasty": {"kill_grace": 0.5}, "patient": {"kill_grace": 60}}
    async with QueueService(make_config(queue_url, profiles)) as service, service.worker():
        # blocks the child's event loop: only the worker's hard limit (timeout + kill_grace) stops it
        blocked = await service.enqueue(app.block_loop, 60, execution_profile="hasty")
        # sleeps in a thread: the child's own timeout ends the attempt and the child reports it
        sleeping = await service.enqueue(app.sleep, 60, execution_profile="patient")
        await blocked.wait(timeout=60)
        await sleeping.wait(timeout=60)
        later = await service.enqueue(app.where, 2, execution_profile="isolated")
        await later.wait(timeout=60)
    assert blocked.status == "failed"
    assert blocked.record.attempts == 2
    assert "TimeoutError" in (blocked.error or "")
    assert "hard limit" in (blocked.error or "")
    assert sleeping.status == "failed"
    assert sleeping.record.attempts == 2
    assert sleeping.error == "TimeoutError: task timed out after 1.0 s"
    assert later.status == "completed"


@pytest.mark.slow
async def test_a_worker_shutting_down_stops_its_children_and_releases_their_tasks(
    queue_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    async with QueueService(make_config(queue_url)) as service:
        async with service.worker(shutdown_grace=0):
            result = await service.enqueue(app.wait_long, 60, str(pid_file), execution_profile="isolated")
            with anyio.fail_after(60):
                while not pid_file.exists() or not pid_file.read_text():
                    await anyio.sleep(0.05)
        await result.refresh()
    assert result.status == "pending"
    assert result.record.attempts == 0
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_process_placement_is_validated_when_the_config_is_built(queue_url: str) -> None:
    with pytest.raises(QueueConfigurationError, match="memory_limit_mb"):
        QueueService(make_config(queue_url, memory_limit_mb="lots"))
    with pytest.raises(QueueConfigurationError, match="unknown_setting"):
        QueueService(make_config(queue_url, unknown_setting=1))
    with pytest.raises(QueueConfigurationError, match="app"):
        QueueService(QueueConfig(queue_backend=queue_url, execution_profiles={"p": {"backend": "process"}}))
    with pytest.raises(QueueConfigurationError, match="app"):
        QueueService(QueueConfig(queue_backend=queue_url, execution_backend="process"))
    with pytest.raises(QueueConfigurationError, match="unknown execution backend 'gpu'"):
        QueueConfig(queue_backend=queue_url, execution_profiles={"p": {"backend": "gpu"}})


async def test_an_enqueue_with_a_bad_placement_stores_nothing(queue_url: str) -> None:
    config = QueueConfig(queue_backend=queue_url, execution_profiles={"plain": {}})
    async with QueueService(config) as service:
        with pytest.raises(QueueConfigurationError, match="app"):
            await service.enqueue(app.where, 1, execution_backend="process")
        with pytest.raises(QueueConfigurationError, match="unknown execution profile"):
            await service.enqueue(app.where, 1, execution_profile="missing")
        assert (await service.stats()).total == 0
    async with QueueService(make_config("memory://")) as service:
        with pytest.raises(QueueConfigurationError, match="shared between processes"):
            await service.enqueue(app.where, 1, execution_profile="isolated")
        assert (await service.stats()).total == 0
    async with QueueService(make_config(queue_url)) as service:
        with pytest.raises(QueueConfigurationError, match="belongs to execution backend 'process'"):
            await service.enqueue(app.where, 1, execution_backend="local", execution_profile="isolated")
        assert (await service.stats()).total == 0
