"""The three background-task forms of the spec, through a real app, and the error without the plugin."""

from typing import Any

import pytest
from litestar import Litestar, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import LitestarException
from litestar.testing import TestClient

from litestar_queues import (
    NoActiveServiceError,
    QueueConfig,
    QueuedBackgroundTask,
    QueuePlugin,
    QueueService,
    WorkerConfig,
    task,
)

received: list[int] = []


@task("lt.background.record")
async def record_value(value: int) -> int:
    received.append(value)
    return value


@post("/native")
async def native() -> Response[dict[str, str]]:
    return Response({"status": "queued"}, background=BackgroundTask(record_value.enqueue, 1))


@post("/helper")
async def helper() -> Response[dict[str, str]]:
    return Response({"status": "queued"}, background=QueuedBackgroundTask(record_value, 2))


@post("/helper-service")
async def helper_service(queue_service: NamedDependency[QueueService]) -> Response[dict[str, str]]:
    return Response(
        {"status": "queued"}, background=QueuedBackgroundTask(record_value, 3, service=queue_service)
    )


@post("/helper-overrides")
async def helper_overrides() -> Response[dict[str, str]]:
    return Response(
        {"status": "queued"},
        background=QueuedBackgroundTask(record_value, value=4, key="only-once", queue="other"),
    )


@get("/stats")
async def stats(queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    return (await queue_service.stats()).queues


ROUTES = [native, helper, helper_service, helper_overrides, stats]


@pytest.mark.parametrize(("path", "value"), [("/native", 1), ("/helper", 2), ("/helper-service", 3)])
def test_background_forms_enqueue_after_the_response(path: str, value: int) -> None:
    # no in-app worker: the record stays pending, so the test sees exactly what was enqueued
    app = Litestar(ROUTES, plugins=[QueuePlugin(QueueConfig(worker=WorkerConfig(in_app=False)))])
    with TestClient(app=app) as client:
        response = client.post(path)
        assert response.status_code == 201
        assert response.json() == {"status": "queued"}
        assert client.get("/stats").json() == {"default": {"pending": 1}}
        service = app.plugins.get(QueuePlugin).service
        with client.portal() as portal:
            assert portal.call(_pending_args, service) == [[value]]


async def _pending_args(service: QueueService) -> list[list[Any]]:
    claimed = await service.backend.claim(
        queues=None,
        worker_id="test",
        limit=10,
        now=service.config.clock.now(),
        lease_until=service.config.clock.now(),
    )
    return [record.args for record in claimed]


def test_background_forms_run_through_the_in_app_worker() -> None:
    received.clear()
    app = Litestar(ROUTES, plugins=[QueuePlugin()])
    with TestClient(app=app) as client:
        for path in ("/native", "/helper", "/helper-service"):
            assert client.post(path).status_code == 201
        deadline_stats: dict[str, Any] = {}
        for _ in range(500):
            deadline_stats = client.get("/stats").json()
            if deadline_stats.get("default", {}).get("completed") == 3:
                break
        assert deadline_stats == {"default": {"completed": 3}}
    assert sorted(received) == [1, 2, 3]


def test_helper_passes_enqueue_overrides_and_task_kwargs() -> None:
    app = Litestar(ROUTES, plugins=[QueuePlugin(QueueConfig(worker=WorkerConfig(in_app=False)))])
    with TestClient(app=app) as client:
        client.post("/helper-overrides")
        client.post("/helper-overrides")
        assert client.get("/stats").json() == {"other": {"pending": 1}}


def test_helper_without_plugin_fails_in_the_route_naming_queue_plugin() -> None:
    app = Litestar([native, helper])
    with TestClient(app=app, raise_server_exceptions=False) as client:
        assert client.post("/helper").status_code == 500
    with pytest.raises(NoActiveServiceError, match="QueuePlugin"):
        QueuedBackgroundTask(record_value, 1)


def test_native_background_task_without_plugin_raises_naming_queue_plugin() -> None:
    # the native form fails after the response was sent: the server sees (and logs) the error
    app = Litestar([native, helper])
    with TestClient(app=app) as client, pytest.raises(LitestarException) as caught:
        client.post("/native")
    assert isinstance(caught.value.__cause__, NoActiveServiceError)
    assert "QueuePlugin" in str(caught.value.__cause__)


def test_helper_with_explicit_service_needs_no_plugin() -> None:
    service = QueueService(QueueConfig())

    @post("/explicit")
    async def explicit() -> Response[None]:
        return Response(None, background=QueuedBackgroundTask(record_value, 5, service=service))

    app = Litestar([explicit], lifespan=[service])
    with TestClient(app=app) as client:
        assert client.post("/explicit").status_code == 201
        with client.portal() as portal:
            assert portal.call(service.stats).count("pending") == 1
