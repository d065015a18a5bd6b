"""Enqueue inside the route when the job must be saved before the response is sent."""

from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.testing import TestClient

from litestar_queues import QueuePlugin, QueueService, task


@task("tasks.background_process")
async def background_process(value: int) -> int:
    return value * 2


@post("/trigger")
async def trigger(queue_service: NamedDependency[QueueService]) -> dict[str, str]:
    result = await queue_service.enqueue(background_process, 42)
    return {"task_id": str(result.id)}


app = Litestar([trigger], plugins=[QueuePlugin()])


def main() -> None:
    with TestClient(app=app) as client:
        task_id = client.post("/trigger").json()["task_id"]
        service = app.plugins.get(QueuePlugin).service
        with client.portal() as portal:
            handle = portal.call(service.get_task, task_id)
            portal.call(handle.wait, 10)
        print(f"task {task_id}: {handle.status}, result {handle.result}")


if __name__ == "__main__":
    main()
