"""A deployment's shape: the app on Redis (queue and Channels), a ``litestar queues worker`` process.

The app runs no worker (a Redis queue defaults to ``in_app=False``); the CLI worker process loads
the same app, starts its Redis Channels backend itself and publishes the task's events, which the
app streams to a WebSocket.
"""

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from litestar.testing import TestClient

from litestar_queues import QueuePlugin
from tests.litestar._cli_tasks import announce
from tests.output_process import litestar_worker

pytestmark = pytest.mark.slow

APP = """
from litestar import Litestar, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.connection import WebSocket
from litestar.params import FromPath
from redis.asyncio import Redis

import tests.litestar._cli_tasks  # registers the tasks
from litestar_queues import QueueConfig, QueuePlugin
from litestar_queues.events import QueueChannels, QueueEventConfig, stream_queue_events

redis = Redis.from_url({channels_url!r})
channels = ChannelsPlugin(RedisChannelsPubSubBackend(redis=redis), arbitrary_channels_allowed=True)


@websocket("/tasks/{{task_id:str}}/events")
async def task_events(socket: WebSocket, task_id: FromPath[str]) -> None:
    await stream_queue_events(socket, [QueueChannels.task(task_id)])


app = Litestar(
    [task_events],
    plugins=[
        channels,
        QueuePlugin(
            QueueConfig(
                queue_backend={queue_url!r},
                event_config=QueueEventConfig(enabled=True, channels_backend=channels, strict=True),
            )
        ),
    ],
    on_shutdown=[redis.aclose],
)
"""


@pytest.fixture
def app_module(tmp_path: Path, redis_url: str, litestar_redis_url: str) -> Iterator[ModuleType]:
    name = f"lq_deploy_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(APP.format(channels_url=litestar_redis_url, queue_url=redis_url))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(name, None)


def test_cli_worker_events_reach_the_apps_websocket(app_module: ModuleType, tmp_path: Path) -> None:
    app = app_module.app
    plugin = app.plugins.get(QueuePlugin)
    with TestClient(app=app) as client:
        assert plugin.worker is None  # Redis queue: no worker in the app
        with client.portal() as portal:
            handle = portal.call(plugin.service.enqueue, announce, "ada")
        with client.websocket_connect(f"/tasks/{handle.id}/events") as ws:
            worker = litestar_worker(f"{app_module.__name__}:app", tmp_path, "--concurrency", "2")
            try:
                events = []
                while not events or events[-1]["type"] != "task.completed":
                    events.append(ws.receive_json(timeout=60))
                assert worker.stop() == 0, worker.lines
            finally:
                worker.kill()
        assert [e["type"] for e in events] == ["task.started", "task.log", "task.completed"]
        assert events[1]["message"] == "hello ada"
        assert {e["workerId"] for e in events} == {events[0]["workerId"]}
        assert events[0]["workerId"] != f"worker-{os.getpid()}"  # published by the worker process
        with client.portal() as portal:
            assert portal.call(plugin.service.get_task, handle.id).result == "ada"
