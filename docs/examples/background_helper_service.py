"""Background tasks, helper form with the injected QueueService passed explicitly."""

import anyio
from litestar import Litestar, Response, post
from litestar.di import NamedDependency
from litestar.testing import TestClient

from litestar_queues import QueuedBackgroundTask, QueuePlugin, QueueService, QueueStats, task


@task("tasks.background_process")
async def background_process(value: int) -> None:
    pass


@post("/trigger")
async def trigger(queue_service: NamedDependency[QueueService]) -> Response[dict[str, str]]:
    return Response(
        {"status": "queued"},
        background=QueuedBackgroundTask(background_process, 42, service=queue_service)
    )


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


if __name__ == "__main__":
    main()
