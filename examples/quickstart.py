"""Quickstart without a web framework: enqueue a few tasks, run a worker, print each outcome.

Run it with ``bash scripts/demo.sh`` (or ``uv run python examples/quickstart.py``).
"""

from __future__ import annotations

import anyio

from litestar_queues import Backoff, QueueConfig, QueueService, non_retryable, task
from litestar_queues.events import InMemoryQueueEventSink, QueueEventConfig, publish_task_progress

attempts: dict[str, int] = {}


@task("demo.render_report", queue="reports", priority=10, retries=2, timeout=120)
async def render_report(report_id: str) -> str:
    for step in range(1, 4):
        await publish_task_progress(current=step, total=3, message=f"rendering {report_id}")
        await anyio.sleep(0.01)
    return f"report {report_id} rendered"


@task("demo.resize", retries=1)
def resize(width: int, height: int) -> dict[str, int]:
    """A sync task: it runs in the worker's thread pool, never on the event loop."""
    return {"width": width // 2, "height": height // 2}


@task("demo.flaky", retries=3, backoff=Backoff(initial=0.05, jitter=0))
async def flaky(name: str) -> str:
    attempts[name] = attempts.get(name, 0) + 1
    if attempts[name] < 3:
        raise ConnectionError(f"upstream unavailable (attempt {attempts[name]})")
    return f"{name} succeeded on attempt {attempts[name]}"


@task("demo.reject")
async def reject(order_id: int) -> None:
    non_retryable(f"order {order_id} is invalid")


async def main() -> None:
    sink = InMemoryQueueEventSink()
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as queue_service, queue_service.worker():
        handles = [
            await queue_service.enqueue(render_report, "report-1"),
            await queue_service.enqueue(resize, 640, 480),
            await queue_service.enqueue(flaky, "payment-sync"),
            await queue_service.enqueue(reject, 42),
            await queue_service.enqueue(render_report, "report-2", key="report:2"),
        ]
        duplicate = await queue_service.enqueue(render_report, "report-2", key="report:2")
        for handle in handles:
            await handle.wait(timeout=30)
            shown = handle.result if handle.status == "completed" else handle.error
            print(f"{handle.task_name:<20} {handle.status:<10} attempts={handle.record.attempts} -> {shown}")
        print(f"dedup key 'report:2' returned the same record: {duplicate.id == handles[-1].id}")
        progress = [e.progress_percent for e in sink.for_task(handles[0].id) if e.type == "task.progress"]
        print(f"progress events of report-1: {[round(p or 0) for p in progress]}")
        stats = await queue_service.stats()
        print(f"queue counts: {stats.queues}")


if __name__ == "__main__":
    anyio.run(main)
