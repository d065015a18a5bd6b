"""Subscribing to Channels safely: a subscribe that cancellation cannot leak, an unsubscribe that cleans up.

Litestar's ``ChannelsPlugin.subscribe`` registers the subscriber before it awaits the backend,
and with arbitrary channels the plugin keeps an empty entry per channel ever used: both are
handled here, once, for every stream (``stream_queue_events``, the dashboard's progress).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from litestar.channels import ChannelsPlugin
    from litestar.channels.subscriber import Subscriber


async def subscribe_shielded(plugin: ChannelsPlugin, names: list[str]) -> Subscriber:
    """Subscribe to ``names``; shielded, so a cancellation cannot leave a registered subscriber behind."""
    with anyio.CancelScope(shield=True):
        subscriber = await plugin.subscribe(names)
    return subscriber


async def unsubscribe(plugin: ChannelsPlugin, subscriber: Subscriber, names: list[str]) -> None:
    """Unsubscribe, then drop the plugin's entries of the channels this left empty."""
    try:
        await plugin.unsubscribe(subscriber, names)
    finally:
        # with arbitrary channels the plugin keeps an empty entry per channel ever used: drop
        # the ones this subscriber left empty (checked and removed without awaiting in between)
        entries = plugin._channels
        for name in names:
            if name in entries and not entries[name] and plugin._arbitrary_channels_allowed:
                del entries[name]
