"""The app of the schedule fault test: ``litestar-queues worker tests.acceptance.schedule_app:config``.

Environment: ``LQ_SCHEDULE_URL``, the queue backend URL. Every worker runs the scheduler; the
one schedule fires every second, and its scheduler looks every 50 ms.
"""

from __future__ import annotations

import os

from litestar_queues import QueueConfig, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()


@task("faults.beat", registry=registry, interval=1)
async def beat() -> None:
    """Enqueued once a second by the schedule named after it."""


config = QueueConfig(
    queue_backend=os.environ.get("LQ_SCHEDULE_URL", "memory://"),
    registry=registry,
    worker=WorkerConfig(scheduler_interval=0.05, poll_interval=0.2, lease_seconds=5, shutdown_grace=2),
)
