"""stream_queue_events and ChannelsQueueEventSink through a real app with the memory Channels backend."""

import asyncio
import json
import uuid
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import WebSocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, QueueService, task
from litestar_queues.events import (
    QueueChannels,
    QueueEvent,
    QueueEventConfig,
    decode_event,
    encode_event,
    publish_task_progress,
    stream_queue_events,
)
from litestar_queues_litestar import _streams
from litestar_queues_litestar._dedup import Deduplicator
from tests.litestar.conftest import wait_until

gate: dict[str, anyio.Event] = {}


@task("lt.stream.steps")
async def steps(count: int) -> int:
    for step in range(1, count + 1):
        await publish_task_progress(current=step, total=count, message=f"step {step}")
    return count


@post("/steps/{count:int}")
async def enqueue_steps(count: FromPath[int], queue_service: NamedDependency[QueueService]) -> dict[str, str]:
    result = await queue_service.enqueue(steps, count)
    return {"task_id": str(result.id)}


@websocket("/tasks/{task_id:str}/events")
async def task_events(socket: WebSocket, task_id: FromPath[str]) -> None:
    await stream_queue_events(socket, [QueueChannels.task(task_id)], history=100)


@websocket("/channels/{name:str}")
async def raw_channel(socket: WebSocket, name: FromPath[str]) -> None:
    await stream_queue_events(socket, name)


@websocket("/history/{name:str}")
async def history_channel(socket: WebSocket, name: FromPath[str]) -> None:
    await stream_queue_events(socket, name, history=10)


def make_app(history: int = 100) -> tuple[Litestar, ChannelsPlugin]:
    channels = ChannelsPlugin(MemoryChannelsBackend(history=history), arbitrary_channels_allowed=True)
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels))
    app = Litestar(
        [enqueue_steps, task_events, raw_channel, history_channel], plugins=[channels, QueuePlugin(config)]
    )
    return app, channels


def subscriber_count(channels: ChannelsPlugin) -> int:
    return sum(len(subscribers) for subscribers in channels._channels.values())


def assert_no_leaks(app: Litestar, channels: ChannelsPlugin) -> None:
    wait_until(lambda: _streams.open_count(app) == 0, what="streams to end")
    wait_until(lambda: subscriber_count(channels) == 0, what="subscribers to go")
    assert channels._channels == {}
    assert channels._backend._channels == set()  # type: ignore[attr-defined]


def test_streams_a_task_lifecycle_and_progress_as_json() -> None:
    app, channels = make_app()
    with TestClient(app=app) as client:
        task_id = client.post("/steps/3").json()["task_id"]
        with client.websocket_connect(f"/tasks/{task_id}/events") as ws:
            received: list[dict[str, Any]] = []
            while not received or received[-1]["type"] != "task.completed":
                received.append(ws.receive_json(timeout=10))
        assert [e["type"] for e in received] == [
            "task.started",
            "task.progress",
            "task.progress",
            "task.progress",
            "task.completed",
        ]
        assert [e["progressCurrent"] for e in received if e["type"] == "task.progress"] == [1, 2, 3]
        assert {e["taskId"] for e in received} == {task_id}
        progress = decode_event(json.dumps(received[1]))
        assert (progress.progress_total, progress.message) == (3, "step 1")
        assert received[1]["occurredAt"].endswith("Z")
        assert_no_leaks(app, channels)


def _publish(client: TestClient[Any], channels: ChannelsPlugin, channel: str, *events: QueueEvent) -> None:
    with client.portal() as portal:
        for event in events:
            portal.call(channels.wait_published, encode_event(event), [channel])


def test_dedups_on_event_key_then_id_per_connection() -> None:
    app, channels = make_app()
    channel = QueueChannels.custom("dedup")
    first = QueueEvent(type="a", scope="custom", scope_key="dedup", event_key="k1")
    same_key = QueueEvent(type="b", scope="custom", scope_key="dedup", event_key="k1")
    no_key = QueueEvent(type="c", scope="custom", scope_key="dedup")
    other = QueueEvent(type="d", scope="custom", scope_key="dedup", event_key="k2")
    end = QueueEvent(type="end", scope="custom", scope_key="dedup")
    with TestClient(app=app) as client:
        with client.websocket_connect(f"/channels/{channel}") as ws:
            wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
            _publish(client, channels, channel, first, same_key, no_key, no_key, other, first, end)
            types = []
            while not types or types[-1] != "end":
                types.append(ws.receive_json(timeout=10)["type"])
            assert types == ["a", "c", "d", "end"]
        # a new connection has its own memory: the same key is delivered again
        with client.websocket_connect(f"/channels/{channel}") as ws:
            wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
            _publish(client, channels, channel, same_key)
            assert ws.receive_json(timeout=10)["type"] == "b"
        assert_no_leaks(app, channels)


def test_two_streams_on_one_channel_both_receive_and_leave_nothing_behind() -> None:
    app, channels = make_app()
    channel = QueueChannels.custom("shared")
    event = QueueEvent(type="x", scope="custom", scope_key="shared")
    with TestClient(app=app) as client:
        with client.websocket_connect(f"/channels/{channel}") as one:
            with client.websocket_connect(f"/channels/{channel}") as two:
                wait_until(lambda: subscriber_count(channels) == 2, what="subscriptions")
                _publish(client, channels, channel, event)
                assert one.receive_json(timeout=10)["id"] == event.id
                assert two.receive_json(timeout=10)["id"] == event.id
            wait_until(lambda: subscriber_count(channels) == 1, what="one subscription left")
            assert channel in channels._channels
        assert_no_leaks(app, channels)


def test_many_task_channels_leave_no_empty_entries() -> None:
    app, channels = make_app()
    with TestClient(app=app) as client:
        for _ in range(5):
            with client.websocket_connect(f"/tasks/{uuid.uuid4()}/events"):
                wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
        assert_no_leaks(app, channels)


def test_app_shutdown_ends_open_streams_and_unsubscribes() -> None:
    app, channels = make_app()
    client = TestClient(app=app)
    with client:
        ws = client.websocket_connect(f"/channels/{QueueChannels.custom('shutdown')}").__enter__()
        wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
        assert _streams.open_count(app) == 1
    # the lifespan has ended: the stream was cancelled, closed with 1001 and unsubscribed
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=10)
    assert closed.value.code == 1001
    assert _streams.open_count(app) == 0
    assert subscriber_count(channels) == 0
    assert channels._channels == {}


def test_skips_messages_that_are_not_events() -> None:
    app, channels = make_app()
    channel = QueueChannels.custom("noise")
    event = QueueEvent(type="real", scope="custom", scope_key="noise")
    with TestClient(app=app) as client, client.websocket_connect(f"/channels/{channel}") as ws:
        wait_until(lambda: subscriber_count(channels) == 1, what="subscription")
        with client.portal() as portal:
            portal.call(channels.wait_published, b"not json", [channel])
        _publish(client, channels, channel, event)
        assert ws.receive_json(timeout=10)["type"] == "real"


def test_needs_a_channels_plugin() -> None:
    @websocket("/ws")
    async def handler(socket: WebSocket) -> None:
        await stream_queue_events(socket, "x")

    app = Litestar([handler])
    # Litestar turns the handler's ImproperlyConfiguredException into a close frame with its text
    with (
        TestClient(app=app) as client,
        pytest.raises(WebSocketDisconnect, match="needs a ChannelsPlugin"),
        client.websocket_connect("/ws") as ws,
    ):
        ws.receive_json(timeout=10)


def test_explicit_channels_plugin_argument() -> None:
    channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)

    @websocket("/ws")
    async def handler(socket: WebSocket) -> None:
        await stream_queue_events(socket, "explicit", channels_plugin=channels)

    app = Litestar([handler], lifespan=[channels])
    event = QueueEvent(type="hi", scope="custom", scope_key="explicit")
    with TestClient(app=app) as client, client.websocket_connect("/ws") as ws:
        # accepted means subscribed: an event published right after the connect arrives
        _publish(client, channels, "explicit", event)
        assert ws.receive_json(timeout=10)["type"] == "hi"


keys = st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"]))
ids = st.sampled_from(["i1", "i2", "i3", "i4"])


@given(st.lists(st.tuples(ids, keys), max_size=30))
def test_dedup_delivers_the_first_event_of_each_key(pairs: list[tuple[str, str | None]]) -> None:
    dedup = Deduplicator()
    delivered = [
        (event_id, key)
        for event_id, key in pairs
        if dedup.first_time(encode_event(QueueEvent(type="t", scope="global", id=event_id, event_key=key)))
    ]
    expected: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for event_id, key in pairs:
        dedup_key = key if key is not None else event_id
        if dedup_key not in seen:
            seen.add(dedup_key)
            expected.append((event_id, key))
    assert delivered == expected


def test_dedup_forgets_the_oldest_keys_beyond_its_limit() -> None:
    dedup = Deduplicator(max_keys=2)
    assert [dedup.first_time(f'{{"id": "{i}"}}') for i in ("a", "b", "c", "a", "c")] == [
        True,
        True,
        True,
        True,
        False,
    ]


def test_history_is_sent_first_in_order_then_live_events() -> None:
    app, channels = make_app()
    channel = QueueChannels.custom("replay")
    past = [QueueEvent(type=f"past.{i}", scope="custom", scope_key="replay") for i in range(3)]
    live = QueueEvent(type="live", scope="custom", scope_key="replay")
    with TestClient(app=app) as client:
        _publish(client, channels, channel, *past)  # nobody listens yet: only the history keeps them
        with client.websocket_connect(f"/history/{channel}") as ws:
            _publish(client, channels, channel, past[1], live)
            types = [ws.receive_json(timeout=10)["type"] for _ in range(4)]
        assert types == ["past.0", "past.1", "past.2", "live"]
        assert_no_leaks(app, channels)


def test_no_task_left_behind_after_shutdown() -> None:
    """After the lifespan ends, no worker, stream or Channels task of the app is still alive."""
    left: list[str] = []

    def record_tasks() -> None:  # on_shutdown hooks run after every lifespan context has exited
        current = asyncio.current_task()
        left.extend(
            task.get_coro().__qualname__  # type: ignore[union-attr]
            for task in asyncio.all_tasks()
            if task is not current and not task.done()
        )

    channels = ChannelsPlugin(MemoryChannelsBackend(history=10), arbitrary_channels_allowed=True)
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels))
    app = Litestar(
        [enqueue_steps, task_events, raw_channel],
        plugins=[channels, QueuePlugin(config)],
        on_shutdown=[record_tasks],
    )
    with TestClient(app=app) as client:
        task_id = client.post("/steps/2").json()["task_id"]
        ws = client.websocket_connect(f"/tasks/{task_id}/events").__enter__()
        assert ws.receive_json(timeout=10)["type"] == "task.started"
        assert app.plugins.get(QueuePlugin).worker is not None
    ours = [name for name in left if any(s in name for s in ("Worker", "_relay", "stream_queue", "Channels"))]
    assert ours == [], left
    with pytest.raises(WebSocketDisconnect):
        while True:
            ws.receive_json(timeout=10)
