"""Background tasks, helper form: QueuedBackgroundTask finds the app's active QueueService."""

import anyio
from litestar import Litestar, Response, post
from litestar.testing import TestClient

from litestar_queues import QueuedBackgroundTask, QueuePlugin, QueueService, QueueStats, task


@task("tasks.background_process")
async def background_process(value: int) -> None:
    pass


@post("/trigger")
async def trigger() -> Response[dict[str, str]]:
    return Response(
        {"status": "queued"},
        background=QueuedBackgroundTask(background_process, 42)
    )


# QueuePlugin opens the QueueService that the helper finds
app = Litestar([trigger], plugins=[QueuePlugin()])


async def wait_for_completed(service: QueueService, count: int) -> QueueStats:
    """Poll the counts until ``count`` tasks completed (the in-app worker runs them)."""
    for _ in range(1000):
        stats = await service.stats()
        if stats.count("completed") >= count:
            return stats
        await anyio.sleep(0.01)
    raise TimeoutError("the task did not complete")


def main() -> None:
    with TestClient(app=app) as client:
        response = client.post("/trigger")
        print(response.status_code, response.json())
        with client.portal() as portal:
            stats = portal.call(wait_for_completed, app.plugins.get(QueuePlugin).service, 1)
        print("counts:", stats.queues)

    # without QueuePlugin the helper raises NoActiveServiceError in the route: the client gets
    # a 500 instead of a 201 for a job that was never queued
    bare = Litestar([trigger])
    with TestClient(app=bare, raise_server_exceptions=False) as client:
        print("without QueuePlugin:", client.post("/trigger").status_code)


if __name__ == "__main__":
    main()
