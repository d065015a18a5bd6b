"""A Litestar app with litestar-queues: a route enqueues a report, a WebSocket streams its progress.

Run it with ``litestar --app examples.litestar_app:app run`` and try::

    curl -X POST localhost:8000/reports/q3          # -> {"task_id": "...", "status": "pending"}
    curl localhost:8000/tasks/<task_id>             # -> status, result, attempts

or open a WebSocket to ``/tasks/<task_id>/events``. ``examples/litestar_demo.py`` does all of
this in-process (``bash scripts/demo.sh``).

The default ``QueueConfig()`` keeps tasks in memory and runs the worker inside the app. For
durable work set ``queue_backend="sqlite:///queue.db"`` (the worker still runs in the app), or
``redis://...`` / ``postgresql://...`` and run ``litestar --app examples.litestar_app:app queues
worker`` next to the web server.
"""

from typing import Any

import anyio
from litestar import Litestar, get, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import WebSocket
from litestar.di import NamedDependency
from litestar.params import FromPath

from litestar_queues import QueueConfig, QueuePlugin, QueueService, task
from litestar_queues.events import (
    QueueChannels,
    QueueEventConfig,
    publish_task_log,
    publish_task_progress,
    stream_queue_events,
)


@task("demo.build_report", retries=1)
async def build_report(report_id: str, pages: int = 4) -> dict[str, Any]:
    await publish_task_log(f"building report {report_id}", payload={"report_id": report_id})
    for page in range(1, pages + 1):
        await anyio.sleep(0.05)  # the real work
        await publish_task_progress(current=page, total=pages, message=f"page {page} of {pages}")
    return {"report_id": report_id, "pages": pages}


@post("/reports/{report_id:str}")
async def create_report(
    report_id: FromPath[str], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    # the key makes a second POST for the same report return the job already queued
    result = await queue_service.enqueue(build_report, report_id, key=f"report:{report_id}")
    return {"task_id": str(result.id), "status": result.status}


@get("/tasks/{task_id:str}")
async def task_status(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    result = await queue_service.get_task(task_id)
    return {
        "task_id": str(result.id),
        "status": result.status,
        "result": result.result,
        "error": result.error,
        "attempts": result.record.attempts,
    }


@websocket("/tasks/{task_id:str}/events")
async def task_events(socket: WebSocket, task_id: FromPath[str]) -> None:
    # history replays what happened before the client connected; each event arrives once
    await stream_queue_events(socket, [QueueChannels.task(task_id)], history=100)


# the app owns its Channels; per-task channels need arbitrary_channels_allowed
channels = ChannelsPlugin(MemoryChannelsBackend(history=100), arbitrary_channels_allowed=True)

app = Litestar(
    [create_report, task_status, task_events],
    plugins=[
        channels,  # before QueuePlugin: channels start first and stop after the worker drained
        QueuePlugin(QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels))),
    ],
)
