"""QueuePlugin through a real Litestar app: lifespan, DI, the in-app worker, worker placement."""

from typing import Any

import anyio.lowlevel
import pytest
from litestar import Litestar, get, post
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import TestClient

from litestar_queues import (
    MemoryQueueBackend,
    NoActiveServiceError,
    QueueConfig,
    QueueConfigurationError,
    QueuePlugin,
    QueueService,
    WorkerConfig,
    task,
)
from litestar_queues._active import active_service
from litestar_queues.events import QueueEventConfig
from litestar_queues_litestar._placement import runs_in_app


@task("lt.plugin.double")
async def double(value: int) -> int:
    await anyio.lowlevel.checkpoint()
    return value * 2


@task("lt.plugin.sync_shout")
def shout(text: str) -> str:
    return text.upper()


@post("/double/{value:int}")
async def enqueue_double(
    value: FromPath[int], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(double, value)
    return {"task_id": str(result.id)}


@get("/tasks/{task_id:str}")
async def read_task(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    result = await queue_service.get_task(task_id)
    return {"status": result.status, "result": result.result}


@get("/wait/{task_id:str}")
async def wait_task(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    result = await (await queue_service.get_task(task_id)).wait(timeout=10)
    return {"status": result.status, "result": result.result}


def make_app(config: QueueConfig | None = None, **plugin_kwargs: Any) -> Litestar:
    return Litestar([enqueue_double, read_task, wait_task], plugins=[QueuePlugin(config, **plugin_kwargs)])


def test_default_config_enqueues_and_in_app_worker_runs_the_task() -> None:
    app = make_app()
    with TestClient(app=app) as client:
        response = client.post("/double/21")
        assert response.status_code == 201
        task_id = response.json()["task_id"]
        assert client.get(f"/wait/{task_id}").json() == {"status": "completed", "result": 42}
        plugin = app.plugins.get(QueuePlugin)
        assert plugin.worker is not None
        assert plugin.worker.completed == 1


def test_service_is_active_only_while_the_app_runs() -> None:
    app = make_app()
    plugin = app.plugins.get(QueuePlugin)
    with pytest.raises(NoActiveServiceError):
        _ = plugin.service
    with TestClient(app=app):
        service = plugin.service
        assert service.is_open
        assert active_service() is service
    assert not service.is_open
    assert plugin.worker is None
    with pytest.raises(NoActiveServiceError):
        _ = plugin.service


def test_task_enqueue_uses_the_plugin_service() -> None:
    @post("/shout")
    async def shout_route() -> dict[str, str]:
        result = await shout.enqueue("hi")
        return {"task_id": str(result.id)}

    app = Litestar([shout_route, wait_task], plugins=[QueuePlugin()])
    with TestClient(app=app) as client:
        task_id = client.post("/shout").json()["task_id"]
        assert client.get(f"/wait/{task_id}").json() == {"status": "completed", "result": "HI"}


def test_custom_dependency_key() -> None:
    @get("/key")
    async def route(jobs: NamedDependency[QueueService]) -> dict[str, bool]:
        return {"open": jobs.is_open}

    app = Litestar([route], plugins=[QueuePlugin(dependency_key="jobs")])
    with TestClient(app=app) as client:
        assert client.get("/key").json() == {"open": True}


def test_no_in_app_worker_when_disabled() -> None:
    app = make_app(QueueConfig(worker=WorkerConfig(in_app=False)))
    with TestClient(app=app) as client:
        task_id = client.post("/double/1").json()["task_id"]
        assert app.plugins.get(QueuePlugin).worker is None
        assert client.get(f"/tasks/{task_id}").json() == {"status": "pending", "result": None}


def test_each_lifespan_opens_a_fresh_service() -> None:
    backend = MemoryQueueBackend()
    app = make_app(QueueConfig(queue_backend=backend))
    plugin = app.plugins.get(QueuePlugin)
    with TestClient(app=app) as client:
        first = plugin.service
        task_id = client.post("/double/2").json()["task_id"]
        client.get(f"/wait/{task_id}")
    with TestClient(app=app) as client:
        assert plugin.service is not first
        assert client.get(f"/tasks/{task_id}").json() == {"status": "completed", "result": 4}


@pytest.mark.parametrize(
    ("backend", "in_app", "expected"),
    [
        ("memory://", None, True),
        ("sqlite:///queue.db", None, True),
        ("sqlite+aiosqlite:///queue.db", None, True),
        ("redis://localhost:6379/0", None, False),
        ("postgresql://localhost/db", None, False),
        ("redis://localhost:6379/0", True, True),
        ("memory://", False, False),
    ],
)
def test_worker_placement_defaults(backend: str, in_app: bool | None, expected: bool) -> None:
    config = QueueConfig(queue_backend=backend, worker=WorkerConfig(in_app=in_app))
    assert runs_in_app(config) is expected


def test_memory_backend_instance_runs_in_app() -> None:
    assert runs_in_app(QueueConfig(queue_backend=MemoryQueueBackend()))


def test_channels_plugin_must_be_registered_before_queue_plugin() -> None:
    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels))
    with pytest.raises(QueueConfigurationError, match="before QueuePlugin"):
        Litestar([], plugins=[QueuePlugin(config), channels])
    Litestar([], plugins=[channels, QueuePlugin(config)])


def test_rejects_a_config_of_the_wrong_type() -> None:
    with pytest.raises(QueueConfigurationError):
        QueuePlugin({"queue_backend": "memory://"})  # type: ignore[arg-type]
