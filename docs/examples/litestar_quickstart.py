"""Litestar quickstart: QueuePlugin, a task, and routes that use the injected QueueService."""

from typing import Any

from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, QueueService, task


@task("reports.render", queue="reports", priority=10, retries=2, timeout=120)
async def render_report(report_id: str) -> str:
    return report_id


@post("/reports/{report_id:str}")
async def create_report(
    report_id: FromPath[str], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(render_report, report_id)
    return {"task_id": str(result.id)}


@post("/reports/{report_id:str}/now")
async def render_now(
    report_id: FromPath[str], queue_service: NamedDependency[QueueService]
) -> dict[str, Any]:
    result = await queue_service.enqueue(render_report, report_id)
    await result.wait(timeout=30)
    return {"status": result.status, "result": result.result}


@get("/tasks/{task_id:str}")
async def task_status(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    result = await queue_service.get_task(task_id)
    return {"status": result.status, "result": result.result, "error": result.error}


# QueueConfig() keeps tasks in memory and runs the worker inside the app
app = Litestar([create_report, render_now, task_status], plugins=[QueuePlugin(QueueConfig())])


def main() -> None:
    with TestClient(app=app) as client:
        print("render now:", client.post("/reports/report-1/now").json())
        task_id = client.post("/reports/report-2").json()["task_id"]
        print("enqueued:", task_id)


if __name__ == "__main__":
    main()
