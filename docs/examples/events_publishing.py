"""Publishing from tasks: helpers, the task context, channels and the wire form (docs/events.md)."""

from __future__ import annotations

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueChannels,
    QueueEvent,
    QueueEventConfig,
    TaskExecutionContext,
    encode_event,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
)
from litestar_queues.exceptions import NoTaskContextError


@task("videos.transcode")
async def transcode_video(video_id: str) -> None:
    await publish_task_log("Transcode started", payload={"video_id": video_id})
    await publish_task_progress(current=1, total=4, message="Fetched source")
    await publish_task_event("task.event", message="Preview ready", payload={"video_id": video_id})


@task("videos.publish")
async def publish_video(video_id: str, _task_context: TaskExecutionContext) -> None:
    # the same through the injected context, plus an explicit channel and a dedup key
    await _task_context.log(f"publishing {video_id}", level="info")
    await _task_context.event(
        "video.published",
        payload={"video_id": video_id},
        channels=[QueueChannels.custom(f"video-{video_id}")],
        event_key=f"video.published:{video_id}",
    )


async def main() -> None:
    sink = InMemoryQueueEventSink()
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as service, service.worker():
        first = await service.enqueue(transcode_video, "v1")
        await first.wait(timeout=30)
        second = await service.enqueue(publish_video, "v1")
        await second.wait(timeout=30)

    for event, channels in sink.published:
        print(f"{event.sequence:>9} {event.type:16} {event.message or '':20} {channels}")
    assert [e.type for e in sink.for_task(first.id)] == [
        "task.started",
        "task.log",
        "task.progress",
        "task.event",
        "task.completed",
    ]
    progress = sink.for_task(first.id)[2]
    assert progress.progress_percent == 25.0
    published = sink.for_task(second.id)[2]
    assert published.dedup_key == "video.published:v1"
    assert sink.published[-2][1] == [
        QueueChannels.task(second.id),
        QueueChannels.queue("default"),
        "litestar_queues:custom:video-v1:events",
    ]

    # the wire form: camelCase names, nulls kept, payload verbatim, occurredAt in UTC with Z
    print(encode_event(progress).decode())
    print(encode_event(QueueEvent(type="deploy.finished", scope="custom", scope_key="ops")).decode())

    # outside a running task the helpers raise
    try:
        await publish_task_log("nobody is listening")
    except NoTaskContextError as exc:
        print("outside a task:", exc)
    else:
        raise AssertionError("expected NoTaskContextError")


if __name__ == "__main__":
    anyio.run(main)
