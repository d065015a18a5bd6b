"""Operating a queue from code: pause and resume, live workers, recent finishes, retention, purge.

See docs/operations.md.
"""

from __future__ import annotations

import os
from datetime import timedelta

import anyio

from litestar_queues import QueueConfig, QueueService, Retention, task


@task("reports.render", queue="reports")
async def render(n: int) -> int:
    if n < 0:
        raise ValueError(f"cannot render {n}")
    return n


config = QueueConfig(
    queue_backend=os.environ.get("QUEUE_URL", "sqlite+aiosqlite:///queue.db"),
    # keep completed tasks 6 hours, failed ones 30 days, cancelled ones forever
    retention=Retention(completed=timedelta(hours=6), failed=timedelta(days=30), cancelled=None),
)


async def main() -> None:
    async with QueueService(config) as service:
        # pause: the state lives in the backend; no worker claims from the queue until resumed
        await service.pause("reports")
        handles = [await render.enqueue(n) for n in (1, -2, 3)]
        async with service.worker(poll_interval=0.05):
            await anyio.sleep(0.3)
            print("while paused:", (await service.stats()).queues, sorted(await service.paused_queues()))
            await service.resume("reports")
            for handle in handles:
                await handle.wait(timeout=30)
        print("after resume:", (await service.stats()).queues)

        # the workers sweep old finished tasks on their own; prune() does it now
        print("pruned:", await service.prune())  # nothing is old enough yet

        # purge: delete by filter (statuses required; running tasks cannot be purged)
        deleted = await service.purge(statuses=["failed"], queues=["reports"])
        print("purged:", deleted, (await service.stats()).queues)

        # who serves now, and what finished lately (the CLIs' `workers` and `status` print them)
        async with service.worker(worker_id="reporter", queues=["reports"]):
            for live in await service.workers():
                print("live:", live.worker_id, live.queues, f"running {live.running}/{live.concurrency}")
        print("after a clean stop:", await service.workers())
        print("finished in the last hour:", await service.finished_counts())


if __name__ == "__main__":
    anyio.run(main)
