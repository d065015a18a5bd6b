"""Tasks: registering, calling directly, task context, retries (docs/tasks.md)."""

from __future__ import annotations

import anyio
import anyio.from_thread

from litestar_queues import Backoff, NonRetryableError, QueueConfig, QueueService, non_retryable, task
from litestar_queues.events import TaskExecutionContext, publish_task_log, publish_task_progress


@task("reports.render", queue="reports", priority=10, retries=2, timeout=120)
async def render_report(report_id: str) -> str:
    return report_id


@task("images.resize")
def resize(width: int, height: int) -> dict[str, int]:
    # a sync task: the worker runs it in its bounded thread pool, never on the event loop
    return {"width": width // 2, "height": height // 2}


@task("images.thumbnail")
def thumbnail(path: str) -> str:
    # a sync task publishes events by handing the helper to the worker's event loop
    anyio.from_thread.run(publish_task_log, f"thumbnailing {path}")
    return f"{path}.thumb"


@task("imports.run")
async def run_import(path: str, _job_id: object, _task_context: TaskExecutionContext) -> None:
    await _task_context.progress(current=1, total=10, message=f"Started {_job_id}")


@task("imports.process")
async def process_import(path: str) -> None:
    await publish_task_log("Import started")
    await publish_task_progress(current=5, total=10)


@task("payments.charge", retries=3, backoff=Backoff(initial=0.01, multiplier=2, maximum=1, jitter=0.1))
async def charge(order_id: str, amount_cents: int) -> str:
    if amount_cents <= 0:
        # a bad request never gets better: fail now instead of using the retries
        raise NonRetryableError(f"order {order_id}: amount must be positive")
    if order_id == "blocked":
        non_retryable(f"order {order_id} is blocked")  # the same, as a helper
    return f"charged {order_id}"


async def main() -> None:
    # a task is still a plain function
    value = await render_report("report-1")
    assert value == "report-1"
    assert resize(640, 480) == {"width": 320, "height": 240}

    async with QueueService(QueueConfig()) as service, service.worker():
        handles = [
            await service.enqueue(render_report, "report-2"),
            await service.enqueue(resize, 800, height=600),
            await service.enqueue(thumbnail, "cat.png"),
            await service.enqueue(run_import, "data.csv"),
            await service.enqueue(process_import, "data.csv"),
            await service.enqueue(charge, "o-1", 500),
            await service.enqueue(charge, "o-2", 0),
            await service.enqueue(charge, "blocked", 100),
        ]
        for handle in handles:
            await handle.wait(timeout=30)
            print(
                f"{handle.task_name:16} {handle.status:9} attempts={handle.record.attempts} "
                f"result={handle.result!r} error={handle.error!r}"
            )

    assert [h.status for h in handles] == ["completed"] * 6 + ["failed"] * 2
    assert handles[6].record.attempts == 1  # NonRetryableError: no retries used


if __name__ == "__main__":
    anyio.run(main)
