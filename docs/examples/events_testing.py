"""Testing events with InMemoryQueueEventSink: the spec's example as a runnable script (docs/events.md)."""

from __future__ import annotations

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.events import InMemoryQueueEventSink, QueueEventConfig


@task("reports.render")
async def render_report(report_id: str) -> str:
    return report_id


async def main() -> None:
    sink = InMemoryQueueEventSink()
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as service, service.worker():
        await (await service.enqueue(render_report, "report-1")).wait(timeout=30)

    # After task execution:
    assert [event.type for event in sink.events] == ["task.started", "task.completed"]
    print([event.type for event in sink.events])


if __name__ == "__main__":
    anyio.run(main)
