"""The ``cloudrun`` execution backend against a local stand-in of the Cloud Run Admin API v2.

The stand-in (``cloudrun_standin.py``) starts the job's container command as a local process, so
each task truly runs through ``litestar-queues run-task`` against the shared SQLite queue. This
verifies the backend against the stand-in, not against Google Cloud.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import anyio
import google.oauth2.credentials
import pytest

from litestar_queues import QueueConfig, QueueService, WorkerConfig
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues_cloudrun import CloudRunExecutionBackend
from tests.execution import app
from tests.execution.cloudrun_standin import CloudRunStandIn, Job
from tests.execution.conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JOB = "projects/acme/locations/local1/jobs/tasks"


@pytest.fixture
def standin(queue_url: str) -> Iterator[CloudRunStandIn]:
    command = [sys.executable, "-m", "litestar_queues.cli"]
    job = Job(command=command, env={app.URL_VARIABLE: queue_url}, cwd=ROOT)
    server = CloudRunStandIn({JOB: job})
    server.start()
    yield server
    server.stop()


def make_config(url: str, standin: CloudRunStandIn, **profile: Any) -> QueueConfig:
    # a ready-made token through google-auth's own credentials class (the application default
    # credentials are covered by test_cloudrun_credentials.py)
    token = google.oauth2.credentials.Credentials(standin.token)  # type: ignore[no-untyped-call]
    backend = CloudRunExecutionBackend(api_base_url=standin.url, credentials=token)
    settings = {"backend": "cloudrun", "project": "acme", "region": "local1", "job": "tasks"}
    settings["poll_interval"] = 0.2
    return QueueConfig(
        queue_backend=url,
        app=app.APP,
        worker=WorkerConfig(lease_seconds=3, poll_interval=0.2),
        execution_backends={"cloudrun": backend},
        execution_profiles={"remote": {**settings, **profile}},
    )


def run_requests(standin: CloudRunStandIn) -> list[dict[str, Any]]:
    return [body or {} for method, path, body in standin.requests if path.endswith(":run")]


async def test_a_task_runs_as_a_cloud_run_execution(queue_url: str, standin: CloudRunStandIn) -> None:
    config = make_config(queue_url, standin, env={"FEATURE": "on"}, task_timeout=120)
    async with QueueService(config) as service, service.worker():
        result = await service.enqueue(app.where, 7, execution_profile="remote")
        assert result.record.execution_backend == "cloudrun"
        await result.wait(timeout=60)
    assert result.status == "completed", result.error
    assert result.result["value"] == 7
    assert result.result["pid"] != os.getpid()
    (request,) = run_requests(standin)
    overrides = request["overrides"]
    assert overrides["taskCount"] == 1
    assert overrides["timeout"] == "120s"
    (container,) = overrides["containerOverrides"]
    assert container["args"][:3] == ["run-task", f"--app={app.APP}", str(result.id)]
    assert any(arg.startswith("--lease=") for arg in container["args"])
    assert "--exit-zero-when-recorded" in container["args"]
    assert container["env"] == [{"name": "FEATURE", "value": "on"}]
    assert [e.outcome for e in standin.executions.values()] == ["succeeded"]


async def test_a_failing_task_is_retried_in_a_new_execution(queue_url: str, standin: CloudRunStandIn) -> None:
    async with QueueService(make_config(queue_url, standin)) as service, service.worker():
        result = await service.enqueue(app.fail, "boom", execution_profile="remote")
        await result.wait(timeout=60)
    assert result.status == "failed"
    assert result.error == "RuntimeError: boom"
    assert result.record.attempts == 2
    # the container wrote each outcome itself, so each execution succeeded from Cloud Run's view
    assert [e.outcome for e in standin.executions.values()] == ["succeeded", "succeeded"]


async def test_a_cancelled_or_failed_execution_fails_the_attempt(
    queue_url: str, standin: CloudRunStandIn
) -> None:
    async with QueueService(make_config(queue_url, standin)) as service, service.worker():
        standin.misbehave = ["cancel"]  # as an operator cancelling the execution
        first = await service.enqueue(app.where, 1, retries=1, execution_profile="remote")
        await first.wait(timeout=60)
        standin.misbehave = ["fail"]  # as an out-of-memory kill of the container
        second = await service.enqueue(app.where, 2, retries=1, execution_profile="remote")
        await second.wait(timeout=60)
        standin.misbehave = ["fail"]  # no retries left
        lost = await service.enqueue(app.where, 3, execution_profile="remote")
        await lost.wait(timeout=60)
    assert first.status == "completed", first.error
    assert first.record.attempts == 2
    assert second.status == "completed", second.error
    assert second.record.attempts == 2
    assert lost.status == "failed"
    assert "CloudRunError" in (lost.error or "")
    outcomes = [e.outcome for e in standin.executions.values()]
    assert outcomes == ["cancelled", "succeeded", "failed", "succeeded", "failed"]


async def test_cancelling_the_task_stops_its_execution(queue_url: str, standin: CloudRunStandIn) -> None:
    async with QueueService(make_config(queue_url, standin)) as service, service.worker():
        result = await service.enqueue(app.wait_long, 60, execution_profile="remote")
        while not standin.executions:
            await anyio.sleep(0.05)
        await service.cancel(result.id)
        (execution,) = standin.executions.values()
        with anyio.fail_after(50):  # far less than the task's 60 s
            while execution.resource()["runningCount"]:
                await anyio.sleep(0.05)
        await result.refresh()
    assert result.status == "cancelled"
    # the container saw its lease gone and stopped the task, or the worker cancelled the execution
    assert execution.outcome in ("succeeded", "cancelled")


async def test_a_worker_shutting_down_cancels_the_execution_and_releases_the_task(
    queue_url: str, standin: CloudRunStandIn
) -> None:
    async with QueueService(make_config(queue_url, standin)) as service:
        async with service.worker(shutdown_grace=0):
            result = await service.enqueue(app.wait_long, 60, execution_profile="remote")
            while not standin.executions:
                await anyio.sleep(0.05)
        await result.refresh()
    (execution,) = standin.executions.values()
    assert execution.outcome == "cancelled"
    assert ("POST", f"/v2/{execution.name}:cancel", {}) in standin.requests
    assert result.status == "pending"
    assert result.record.attempts == 0


async def test_a_cloudrun_placement_is_validated(queue_url: str, standin: CloudRunStandIn) -> None:
    with pytest.raises(QueueConfigurationError, match="job"):
        QueueService(make_config(queue_url, standin, job=""))
    with pytest.raises(QueueConfigurationError, match="cpu"):
        QueueService(make_config(queue_url, standin, cpu="4"))
    async with QueueService(make_config(queue_url, standin)) as service:
        with pytest.raises(QueueConfigurationError, match="needs a cloudrun execution profile"):
            await service.enqueue(app.where, 1, execution_backend="cloudrun")
        assert (await service.stats()).total == 0
