"""``stream_queue_events``: relay queue events from Channels to one WebSocket."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from litestar.channels import ChannelsPlugin
from litestar.exceptions import ImproperlyConfiguredException, WebSocketDisconnect

from litestar_queues.events import decode_event
from litestar_queues_litestar import _streams
from litestar_queues_litestar._dedup import Deduplicator
from litestar_queues_litestar._subscription import subscribe_shielded, unsubscribe

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.channels.subscriber import Subscriber
    from litestar.connection import WebSocket

__all__ = ("stream_queue_events",)

logger = logging.getLogger("litestar_queues.litestar")


async def stream_queue_events(
    socket: WebSocket[Any, Any, Any],
    channels: str | Iterable[str],
    *,
    channels_plugin: ChannelsPlugin | None = None,
    history: int = 0,
) -> None:
    """Subscribe to ``channels``, accept ``socket`` and send it every queue event as JSON text.

    Only queue events are forwarded: a message that does not decode as a
    :class:`~litestar_queues.events.QueueEvent` (other JSON published on the same channel,
    anything else) is dropped, and the first one dropped is logged once per stream (logger
    ``litestar_queues.litestar``). Each event is sent at most once per connection: events are
    deduplicated on ``eventKey``, or on ``id`` when no key is set. The stream ends when the
    client disconnects or the app shuts down (``QueuePlugin`` ends open streams before it closes
    the service); the subscription is always removed, including the Channels plugin's entry for
    a channel nobody listens to any more.

    Args:
        socket: The WebSocket of the route. It is accepted once the subscription is in place
            (unless the route accepted it already), so every event published after the client's
            connect completes reaches it.
        channels: Channel names, such as ``QueueChannels.task(task_id)``.
        channels_plugin: The Channels plugin (default: the one registered on ``socket.app``;
            it needs ``arbitrary_channels_allowed=True`` for per-task channels).
        history: First send up to this many past events per channel, in order, then the live
            ones (needs a backend with history, such as ``MemoryChannelsBackend(history=...)``
            or the Redis stream backend); an event both in the history and live is sent once.

    Raises:
        ImproperlyConfiguredException: No Channels plugin was given or registered on the app.
        ValueError: ``channels`` is empty.
    """
    names = [channels] if isinstance(channels, str) else list(dict.fromkeys(channels))
    if not names:
        raise ValueError("stream_queue_events needs at least one channel")
    plugin = channels_plugin if channels_plugin is not None else _app_channels(socket)
    app = socket.app
    with anyio.CancelScope() as scope:
        _streams.register(app, scope)
        try:
            await _relay(socket, plugin, names, history)
        finally:
            _streams.unregister(app, scope)
    if scope.cancel_called and socket.connection_state in ("connect", "receive"):
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            await socket.close(code=1001, reason="server shutting down")


def _app_channels(socket: WebSocket[Any, Any, Any]) -> ChannelsPlugin:
    try:
        return socket.app.plugins.get(ChannelsPlugin)
    except KeyError:
        raise ImproperlyConfiguredException(
            "stream_queue_events needs a ChannelsPlugin: register one on the app "
            "(ChannelsPlugin(backend, arbitrary_channels_allowed=True)) or pass channels_plugin="
        ) from None


async def _relay(
    socket: WebSocket[Any, Any, Any], plugin: ChannelsPlugin, names: list[str], history: int
) -> None:
    subscriber: Subscriber | None = None
    try:
        # subscribe() registers the subscriber before it awaits the backend: shielded, a
        # cancellation cannot leave a registered subscriber that nobody unsubscribes
        subscriber = await subscribe_shielded(plugin, names)
        # accepted only once subscribed: a client sees every event published after its connect
        if socket.connection_state == "init":
            await socket.accept()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_until_disconnect, socket, tg.cancel_scope)
            await _send_events(socket, plugin, subscriber, names, history)
            tg.cancel_scope.cancel()
    finally:
        if subscriber is not None:
            with anyio.CancelScope(shield=True):
                await unsubscribe(plugin, subscriber, names)


async def _until_disconnect(socket: WebSocket[Any, Any, Any], scope: anyio.CancelScope) -> None:
    try:
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
    except WebSocketDisconnect:
        pass
    scope.cancel()


class _Outbox:
    """What one stream has sent: dedup keys, and whether it has logged a dropped message yet."""

    __slots__ = ("dedup", "dropped", "names")

    def __init__(self, names: list[str]) -> None:
        self.dedup = Deduplicator()
        self.dropped = 0
        self.names = names

    def admits(self, data: bytes | str) -> bool:
        """Whether ``data`` is a queue event this connection has not been sent yet."""
        try:
            event = decode_event(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self.dropped += 1
            if self.dropped == 1:
                # once per stream: a channel shared with other publishers would flood the log
                logger.warning(
                    "dropping a message on %s that is not a queue event (%d bytes: %s); "
                    "further ones on this stream are dropped without a log",
                    ", ".join(self.names),
                    len(data),
                    exc,
                )
            return False
        return self.dedup.first_time_key(event.dedup_key)


async def _send_events(
    socket: WebSocket[Any, Any, Any],
    plugin: ChannelsPlugin,
    subscriber: Subscriber,
    names: list[str],
    history: int,
) -> None:
    outbox = _Outbox(names)
    if history > 0:
        # the history goes out first, in order; live events that arrived meanwhile wait in the
        # subscriber's queue, and those also in the history are dropped by the dedup
        for name in names:
            for data in await plugin._backend.get_history(name, history):
                if not await _send(socket, outbox, data):
                    return
    async for data in subscriber.iter_events():
        if not await _send(socket, outbox, data):
            return


async def _send(socket: WebSocket[Any, Any, Any], outbox: _Outbox, data: bytes) -> bool:
    """Send ``data`` if it is a queue event not sent before; return ``False`` once the client is gone."""
    if not outbox.admits(data):
        return True
    try:
        await socket.send_text(data.decode() if isinstance(data, bytes) else str(data))
    except WebSocketDisconnect:
        return False
    return True
