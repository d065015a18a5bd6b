"""Redis backend: web processes enqueue, worker processes on other machines run (docs/redis.md).

Run workers for this module with ``litestar-queues worker redis_quickstart:config``.
"""

from __future__ import annotations

import os

from litestar_queues import QueueConfig, QueueService, TaskCall, WorkerConfig, task
from litestar_queues_redis import RedisQueueBackend


@task("reports.render", queue="reports", retries=2)
async def render_report(report_id: int) -> str:
    return f"report {report_id} rendered"


REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

config = QueueConfig(
    # key_prefix is an option of the backend (so is result_ttl); other query parameters go to redis-py
    queue_backend=f"{REDIS_URL}?key_prefix=myapp",
    worker=WorkerConfig(concurrency=50, lease_seconds=30),
)


async def main() -> None:
    async with QueueService(config) as service:
        handles = await service.enqueue_many(TaskCall(render_report, (i,)) for i in range(3))
        async with service.worker():  # in production: `litestar-queues worker` processes
            for handle in handles:
                await handle.wait(timeout=10)
                print(handle.status, handle.result)
        backend = service.backend
        assert isinstance(backend, RedisQueueBackend)
        print("dead letters:", await backend.dead_letters())


if __name__ == "__main__":
    import anyio

    anyio.run(main)
