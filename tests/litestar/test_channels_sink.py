"""ChannelsQueueEventSink with Litestar's memory backend and with its Redis backends on a real Redis."""

from typing import Any

import anyio
import pytest
from litestar import Litestar, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend, RedisChannelsStreamBackend
from litestar.connection import WebSocket
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import TestClient
from redis.asyncio import Redis

from litestar_queues import QueueConfig, QueueConfigurationError, QueuePlugin, QueueService, task
from litestar_queues.events import (
    ChannelsQueueEventSink,
    QueueChannels,
    QueueEvent,
    QueueEventConfig,
    decode_event,
    publish_task_log,
)
from tests.litestar.conftest import wait_until

pytestmark = pytest.mark.redis


@task("lt.sink.hello")
async def hello(name: str) -> str:
    await publish_task_log(f"hello {name}", payload={"name": name})
    return name


@post("/hello/{name:str}")
async def enqueue_hello(name: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, str]:
    return {"task_id": str((await queue_service.enqueue(hello, name)).id)}


@websocket("/tasks/{task_id:str}/events")
async def task_events(socket: WebSocket, task_id: FromPath[str]) -> None:
    from litestar_queues.events import stream_queue_events

    await stream_queue_events(socket, [QueueChannels.task(task_id)], history=50)


@pytest.mark.anyio
async def test_bare_memory_backend_receives_the_wire_form() -> None:
    backend = MemoryChannelsBackend()
    sink = ChannelsQueueEventSink(backend)
    event = QueueEvent(type="custom.thing", scope="custom", scope_key="k", payload={"camel_case": 1})
    async with sink.started():
        await backend.subscribe(["c1", "c2"])
        await sink.publish(event, ["c1", "c2"])
        received: list[tuple[str, bytes]] = []
        async for channel, data in backend.stream_events():
            received.append((channel, data))
            if len(received) == 2:
                break
    assert [channel for channel, _ in received] == ["c1", "c2"]
    assert all(decode_event(data) == event for _, data in received)
    assert b'"scopeKey":"k"' in received[0][1]
    assert b'"camel_case":1' in received[0][1]


def test_rejects_something_that_is_not_channels() -> None:
    with pytest.raises(QueueConfigurationError, match="ChannelsPlugin or ChannelsBackend"):
        ChannelsQueueEventSink(object())  # type: ignore[arg-type]
    with pytest.raises(QueueConfigurationError):
        QueueService(QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend="redis://")))


def _redis_app(redis_url: str, backend_kind: str) -> tuple[Litestar, ChannelsPlugin]:
    redis = Redis.from_url(redis_url)
    backend: Any
    if backend_kind == "stream":
        backend = RedisChannelsStreamBackend(history=50, redis=redis, key_prefix="LQ_TEST_STREAM")
    else:
        backend = RedisChannelsPubSubBackend(redis=redis, key_prefix="LQ_TEST_PUBSUB")
    channels = ChannelsPlugin(backend, arbitrary_channels_allowed=True)
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels, strict=True))
    app = Litestar(
        [enqueue_hello, task_events], plugins=[channels, QueuePlugin(config)], on_shutdown=[redis.aclose]
    )
    return app, channels


def test_task_events_through_the_redis_stream_backend(litestar_redis_url: str) -> None:
    """The in-app worker publishes to Redis streams; the WebSocket replays and follows them."""
    app, channels = _redis_app(litestar_redis_url, "stream")
    with TestClient(app=app) as client:
        task_id = client.post("/hello/ada").json()["task_id"]
        with client.websocket_connect(f"/tasks/{task_id}/events") as ws:
            types: list[str] = []
            while not types or types[-1] != "task.completed":
                event = ws.receive_json(timeout=10)
                types.append(event["type"])
                if event["type"] == "task.log":
                    assert event["payload"] == {"name": "ada"}
        assert types == ["task.started", "task.log", "task.completed"]
        wait_until(lambda: not channels._channels, what="channel entries to go")


def test_events_published_by_another_event_loop_reach_the_websocket(litestar_redis_url: str) -> None:
    """A publisher with its own Redis connection and loop (as a separate worker process has)."""
    app, channels = _redis_app(litestar_redis_url, "pubsub")
    channel = QueueChannels.custom("remote")
    events = [QueueEvent(type=f"remote.{i}", scope="custom", scope_key="remote") for i in range(3)]
    end = QueueEvent(type="remote.end", scope="custom", scope_key="remote")

    @websocket("/remote")
    async def remote(socket: WebSocket) -> None:
        from litestar_queues.events import stream_queue_events

        await stream_queue_events(socket, channel)

    app.register(remote)

    async def publish_from_elsewhere() -> None:
        redis = Redis.from_url(litestar_redis_url)
        sink = ChannelsQueueEventSink(RedisChannelsPubSubBackend(redis=redis, key_prefix="LQ_TEST_PUBSUB"))
        async with sink.started():
            # the app's SUBSCRIBE is confirmed asynchronously: wait until Redis counts the subscriber
            with anyio.fail_after(10):
                while (await redis.pubsub_numsub(channel))[0][1] < 1:
                    await anyio.sleep(0.01)
            for event in [*events, events[0], end]:
                await sink.publish(event, [channel])
        await redis.aclose()

    with TestClient(app=app) as client, client.websocket_connect("/remote") as ws:
        wait_until(lambda: len(channels._channels.get(channel, ())) == 1, what="subscription")
        anyio.run(publish_from_elsewhere)
        # the repeated first event is not delivered again: the next one after the three is the end
        received = [ws.receive_json(timeout=10)["type"] for _ in range(4)]
        assert received == [*(e.type for e in events), end.type]
