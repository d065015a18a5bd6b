"""Where the dashboard reads a running task's progress from, and what it shows without it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task
from litestar_queues.events import InMemoryQueueEventSink, QueueEvent, QueueEventConfig
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import DashboardConfig
from litestar_queues_litestar.dashboard.mount import EVENTS_OFF, NOT_CHANNELS, DashboardMount
from litestar_queues_litestar.dashboard.progress import TaskProgress
from tests.dashboard._apps import LOOPBACK

if TYPE_CHECKING:
    from litestar_queues.events.config import QueueEventConfig as EventConfig

registry = TaskRegistry()
release = threading.Event()


@task("unit.hold", registry=registry)
async def hold() -> str:
    await anyio.to_thread.run_sync(release.wait, 10)
    return "released"


def _mount(events: EventConfig | None, app_plugins: list[Any]) -> tuple[Any, str | None]:
    config = QueueConfig(event_config=events)
    mount = DashboardMount(DashboardConfig(), config, QueueService)
    return mount.event_channels(Litestar(plugins=app_plugins))


def test_the_channels_progress_is_read_from() -> None:
    backend = MemoryChannelsBackend()
    plugin = ChannelsPlugin(backend, arbitrary_channels_allowed=True)
    assert _mount(None, []) == (None, EVENTS_OFF)
    assert _mount(QueueEventConfig(enabled=True, channels_backend=plugin), []) == (plugin, None)
    assert _mount(QueueEventConfig(enabled=True, channels_backend=backend), [plugin]) == (plugin, None)
    assert _mount(QueueEventConfig(enabled=True, channels_backend=backend), []) == (None, NOT_CHANNELS)
    sink_only = QueueEventConfig(enabled=True, sink=InMemoryQueueEventSink())
    assert _mount(sink_only, [plugin]) == (None, NOT_CHANNELS)


def test_a_new_attempt_starts_its_progress_afresh() -> None:
    progress = TaskProgress()
    progress.take(
        QueueEvent(type="task.progress", scope="task", attempt=1, progress_percent=80.0, message="m")
    )
    assert (progress.percent, progress.message) == (80.0, "m")
    progress.take(QueueEvent(type="task.started", scope="task", attempt=2))
    assert (progress.percent, progress.message, progress.attempt) == (None, None, 2)
    assert [e.type for e in progress.events] == ["task.progress", "task.started"]


def test_without_events_a_running_task_shows_the_records_fallback() -> None:
    config = QueueConfig(registry=registry, worker=WorkerConfig(in_app=True, poll_interval=0.05))
    app = Litestar(plugins=[QueuePlugin(config, dashboard=DashboardConfig())])
    release.clear()
    with TestClient(app, base_url=LOOPBACK) as client:
        service = client.app.plugins.get(QueuePlugin).service
        with client.portal() as portal:
            handle = portal.call(lambda: service.enqueue(hold))

            deadline = time.monotonic() + 10
            while handle.status != "running":
                assert time.monotonic() < deadline, "the task did not start"
                time.sleep(0.02)
                portal.call(handle.refresh)
            page = client.get(f"/queues/tasks/{handle.id}").text
            release.set()
            portal.call(lambda: handle.wait(timeout=10))
    assert "running for" in page and "live progress needs task events" in page
    assert "lease until" in page and '<progress class="task-progress"></progress>' in page
