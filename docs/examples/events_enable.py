"""Enabling events: a sink, several sinks, or an app-owned Litestar Channels backend (docs/events.md)."""

from __future__ import annotations

import anyio
from litestar.channels.backends.memory import MemoryChannelsBackend

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueChannels,
    QueueEventConfig,
    decode_event,
)


@task("videos.thumbnail")
async def make_thumbnail(video_id: str) -> str:
    return f"{video_id}.jpg"


async def main() -> None:
    # the application owns its Channels backend (here Litestar's in-memory one)
    channels = MemoryChannelsBackend()
    await channels.on_startup()
    await channels.subscribe([QueueChannels.global_channel()])

    config = QueueConfig(
        event_config=QueueEventConfig(
            enabled=True,
            channels_backend=channels,
            publish_global_lifecycle=True,
        ),
    )
    async with QueueService(config) as service, service.worker():
        await (await service.enqueue(make_thumbnail, "v1")).wait(timeout=30)

    received = []
    with anyio.move_on_after(5):
        async for _channel, data in channels.stream_events():
            received.append(decode_event(data).type)
            if len(received) == 2:
                break
    await channels.on_shutdown()
    print("global channel:", received)
    assert received == ["task.started", "task.completed"]

    # several sinks at once; strict=True would fail the attempt when a publish fails
    audit, live = InMemoryQueueEventSink(), InMemoryQueueEventSink()
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=[audit, live], strict=False))
    async with QueueService(config) as service, service.worker():
        await (await service.enqueue(make_thumbnail, "v2")).wait(timeout=30)
    assert (
        [e.type for e in audit.events] == [e.type for e in live.events] == ["task.started", "task.completed"]
    )


if __name__ == "__main__":
    anyio.run(main)
