"""Queue events on an app-owned Litestar Channels plugin, streamed to a WebSocket route."""

from litestar import Litestar, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import WebSocket
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, QueueService, WorkerConfig, task
from litestar_queues.events import (
    QueueChannels,
    QueueEventConfig,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
    stream_queue_events,
)

# the application owns its Channels; per-task channels need arbitrary_channels_allowed
channels = ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True)

config = QueueConfig(
    event_config=QueueEventConfig(
        enabled=True,
        channels_backend=channels,
        publish_global_lifecycle=True,
    ),
)


@websocket("/jobs/{task_id:str}/events")
async def task_events(socket: WebSocket, task_id: str) -> None:
    await stream_queue_events(socket, [QueueChannels.task(task_id)])


@task("videos.transcode")
async def transcode_video(video_id: str) -> None:
    await publish_task_log("Transcode started", payload={"video_id": video_id})
    await publish_task_progress(current=1, total=4, message="Fetched source")
    await publish_task_event("task.event", message="Preview ready", payload={"video_id": video_id})


@post("/videos/{video_id:str}/transcode")
async def start_transcode(
    video_id: FromPath[str], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(transcode_video, video_id)
    return {"task_id": str(result.id)}


# the worker runs elsewhere here (as with Redis or PostgreSQL); main() starts one by hand
config.worker = WorkerConfig(in_app=False)
app = Litestar([task_events, start_transcode], plugins=[channels, QueuePlugin(config)])


async def run_worker_until_done(task_id: str) -> str:
    service = app.plugins.get(QueuePlugin).service
    async with service.worker():
        result = await (await service.get_task(task_id)).wait(timeout=30)
    return result.status


def main() -> None:
    with TestClient(app=app) as client:
        task_id = client.post("/videos/v1/transcode").json()["task_id"]
        with client.websocket_connect(f"/jobs/{task_id}/events") as ws:
            # the socket is subscribed once accepted: now a worker may run the task
            with client.portal() as portal:
                print("task", portal.call(run_worker_until_done, task_id))
            events = [ws.receive_json(timeout=10) for _ in range(5)]
    for event in events:
        print(f"{event['type']:<15} {event['message'] or ''}")


if __name__ == "__main__":
    main()
