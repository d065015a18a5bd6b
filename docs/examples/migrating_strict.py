"""Migrating from 0.1: strict publishing raises ``EventPublishError`` (docs/migrating-from-0.1.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.events import QueueEventConfig, publish_task_log
from litestar_queues.exceptions import EventPublishError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.events import QueueEvent

causes: list[str] = []


class AuditSink:
    """An audit trail that must record every step; its database is down."""

    async def publish(self, event: QueueEvent, *, channels: Sequence[str]) -> None:
        if event.type == "task.log":
            raise ConnectionError("audit database is down")


@task("payments.refund")
async def refund(order_id: str) -> str:
    try:
        await publish_task_log(f"refunding {order_id}")
    except EventPublishError as exc:  # 0.1.0: except ConnectionError
        causes.append(repr(exc.__cause__))
        raise
    return f"refunded {order_id}"


async def main() -> None:
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=AuditSink(), strict=True))
    async with QueueService(config) as service, service.worker():
        result = await (await service.enqueue(refund, "o-7")).wait(timeout=30)
    print("status:", result.status)
    print("error:", result.error)
    print("cause:", causes[0])
    assert result.status == "failed" and causes == ["ConnectionError('audit database is down')"]


if __name__ == "__main__":
    anyio.run(main)
