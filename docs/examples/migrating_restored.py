"""Migrating from 0.1: 0.1.0 code that works as before (docs/migrating-from-0.1.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.events import QueueChannels, QueueEventConfig, publish_task_progress

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.events import QueueEvent


class PrintSink:
    # channels keyword-only, as 0.1.0's own sinks declared it: the core passes channels= by keyword
    async def publish(self, event: QueueEvent, *, channels: Sequence[str]) -> None:
        print(f"{event.type:14} {event.progress_percent!s:6} {', '.join(channels)}")


@task("videos.upload", queue="media")
async def upload_video(video_id: str) -> None:
    await publish_task_progress(current=None, total=10, message="waiting for the source")
    await publish_task_progress(percent=40)
    progress_channel = QueueChannels.custom(f"video-{video_id}", topic="progress")
    await publish_task_progress(current=10, total=10, channels=[progress_channel])


async def main() -> None:
    # task events also go to their queue's channel (publish_queue_channel=True, the default)
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=PrintSink()))
    async with QueueService(config) as service, service.worker():
        result = await (await service.enqueue(upload_video, "v1")).wait(timeout=30)
    assert result.status == "completed"
    assert QueueChannels.custom("video-v1", topic="progress") == "litestar_queues:custom:video-v1:progress"


if __name__ == "__main__":
    anyio.run(main)
