"""Litestar apps written against litestar-queues 0.1.0 keep working (issue 15, items 4 and 5).

The module is written as a 0.1.0 user's app module: ``from __future__ import annotations`` and
names used only in annotations imported under ``TYPE_CHECKING`` (what ruff's TC rules ask for).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from litestar import Litestar, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, task
from litestar_queues.events import (
    QueueChannels,
    QueueEvent,
    QueueEventConfig,
    encode_event,
    publish_task_progress,
    stream_queue_events,
)
from tests.litestar.conftest import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    from litestar.connection import WebSocket
    from litestar.di import NamedDependency
    from litestar.params import FromPath

    from litestar_queues import QueueService


@task("lt.compat.render", queue="reports")
async def render(report_id: str) -> str:
    await publish_task_progress(current=1, total=1)
    return report_id


@post("/reports/{report_id:str}")
async def create_report(
    report_id: FromPath[str], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(render, report_id)
    return {"task_id": str(result.id)}


@websocket("/channels/{name:str}")
async def raw_channel(socket: WebSocket[Any, Any, Any], name: FromPath[str]) -> None:
    await stream_queue_events(socket, name)


def make_app(*handlers: Any, **event_options: Any) -> tuple[Litestar, ChannelsPlugin]:
    channels = ChannelsPlugin(MemoryChannelsBackend(history=10), arbitrary_channels_allowed=True)
    config = QueueConfig(
        event_config=QueueEventConfig(enabled=True, channels_backend=channels, **event_options)
    )
    return Litestar([*handlers, raw_channel], plugins=[channels, QueuePlugin(config)]), channels


def subscriber_count(channels: ChannelsPlugin) -> int:
    return sum(len(subscribers) for subscribers in channels._channels.values())


def test_named_dependency_needs_no_registration_by_the_user() -> None:
    # NamedDependency and QueueService are not importable at runtime from this module:
    # Litestar resolves the handler's string annotations through the signature namespace
    app, _ = make_app(create_report)
    with TestClient(app=app) as client:
        response = client.post("/reports/r-1")
        assert response.status_code == 201, response.text
        assert set(response.json()) == {"task_id"}


class Records(logging.Handler):
    """Collects log records; attached to the logger itself, since Litestar reconfigures the root."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def adapter_log() -> Iterator[Records]:
    logger = logging.getLogger("litestar_queues.litestar")
    records = Records()
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)


def test_stream_forwards_only_queue_events(adapter_log: Records) -> None:
    app, channels = make_app()
    channel = QueueChannels.custom("chat")
    not_events = [
        b'{"hello": "world"}',
        b'{"type": "chat.message", "text": "hi"}',  # no scope
        b'{"type": "x", "scope": "somewhere"}',  # not a scope of ours
        b'{"id": "abc", "eventKey": "k"}',
        b"[1, 2, 3]",
    ]
    event = QueueEvent(type="video.ready", scope="custom", scope_key="chat")
    with TestClient(app=app) as client, client.websocket_connect(f"/channels/{channel}") as ws:
        wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
        with client.portal() as portal:
            for data in not_events:
                portal.call(channels.wait_published, data, [channel])
            portal.call(channels.wait_published, encode_event(event), [channel])
        received = ws.receive_json(timeout=10)
        assert (received["type"], received["id"]) == ("video.ready", event.id)
    dropped = [message for message in adapter_log.messages if "not a queue event" in message]
    assert len(dropped) == 1, dropped  # once per stream, not once per message


def test_queue_channel_streams_the_tasks_of_the_queue() -> None:
    app, channels = make_app()
    with TestClient(app=app) as client:
        with client.websocket_connect(f"/channels/{QueueChannels.queue('reports')}") as ws:
            wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
            with client.portal() as portal:
                service = app.plugins.get(QueuePlugin).service
                task_id = str(portal.call(service.enqueue, render, "r-2").id)
            received: list[dict[str, Any]] = []
            while not received or received[-1]["type"] != "task.completed":
                received.append(ws.receive_json(timeout=10))
        assert [e["type"] for e in received] == ["task.started", "task.progress", "task.completed"]
        assert {e["taskId"] for e in received} == {task_id}
