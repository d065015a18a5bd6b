"""Teardown of stream_queue_events under cancellation, on a real ChannelsPlugin and memory backend.

Litestar's ``ChannelsPlugin.subscribe`` registers the subscriber before it awaits the backend, so
a cancellation at that await would leave a subscriber nobody removes. The backend below holds
``subscribe`` open until the test cancels the stream (fault injection around the real backend).
"""

from functools import partial
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import WebSocket

from litestar_queues.events import stream_queue_events
from litestar_queues_litestar import _streams

pytestmark = pytest.mark.anyio


class GatedSubscribeBackend(MemoryChannelsBackend):
    def __init__(self) -> None:
        super().__init__()
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    async def subscribe(self, channels: Any) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().subscribe(channels)


def make_socket(app: Litestar, messages: list[dict[str, Any]]) -> WebSocket[Any, Any, Any]:
    """A Litestar WebSocket on a minimal ASGI transport that never receives and records what is sent."""

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "websocket", "litestar_app": app, "path": "/", "headers": [], "query_string": b""}
    return WebSocket(scope, receive, send)  # type: ignore[arg-type]


async def test_cancelled_while_subscribing_leaves_no_subscriber() -> None:
    backend = GatedSubscribeBackend()
    plugin = ChannelsPlugin(backend, arbitrary_channels_allowed=True)
    app = Litestar([])
    sent: list[dict[str, Any]] = []
    async with plugin:
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                partial(stream_queue_events, make_socket(app, sent), "gated", channels_plugin=plugin)
            )
            await backend.entered.wait()
            tg.cancel_scope.cancel()  # the stream is cancelled while the backend subscribes
            backend.gate.set()
        assert plugin._channels == {}
        assert backend._channels == set()
        assert _streams.open_count(app) == 0
        assert sent == []  # never accepted


async def test_cancelled_while_streaming_unsubscribes() -> None:
    backend = GatedSubscribeBackend()
    backend.gate.set()
    plugin = ChannelsPlugin(backend, arbitrary_channels_allowed=True)
    app = Litestar([])
    sent: list[dict[str, Any]] = []
    socket = make_socket(app, sent)
    socket.connection_state = "connect"  # as if the route had accepted it already
    async with plugin:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(stream_queue_events, socket, ["a", "b"], channels_plugin=plugin))
            with anyio.fail_after(10):
                while _streams.open_count(app) == 0 or len(plugin._channels) < 2:
                    await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
        assert plugin._channels == {}
        assert backend._channels == set()
        assert _streams.open_count(app) == 0


async def test_needs_at_least_one_channel() -> None:
    sent: list[dict[str, Any]] = []
    plugin = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)
    with pytest.raises(ValueError, match="at least one channel"):
        await stream_queue_events(make_socket(Litestar([]), sent), [], channels_plugin=plugin)
    assert sent == []
