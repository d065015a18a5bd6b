"""Workers: in the background of the app's event loop, or as a deployment of their own (docs/workers.md).

Run a worker process for this module with the console script:

    litestar-queues worker core_workers:config

It runs until SIGTERM or SIGINT, then stops claiming, lets running tasks finish within
``shutdown_grace`` and puts the rest back in the queue.
"""

from __future__ import annotations

import os

import anyio

from litestar_queues import QueueConfig, QueueService, Worker, WorkerConfig, task


@task("emails.send", queue="emails", retries=3)
async def send_email(to: str) -> str:
    await anyio.sleep(0.05)
    return f"sent to {to}"


config = QueueConfig(
    # a durable backend shared by the web app and the worker processes
    queue_backend=os.environ.get("QUEUE_URL", "sqlite+aiosqlite:///queue.db"),
    worker=WorkerConfig(
        concurrency=20,  # tasks one worker runs at the same time
        queues=["emails"],  # None: every queue
        lease_seconds=30,  # a dead worker's tasks go back to the queue after this long
        shutdown_grace=30,  # on SIGTERM running tasks get this long to finish
    ),
)


async def main() -> None:
    async with QueueService(config) as service:
        handles = [await send_email.enqueue(f"user{i}@example.com") for i in range(5)]

        # a worker in the background of this event loop; leaving the block drains it
        async with Worker(service) as worker:
            for handle in handles:
                await handle.wait(timeout=30)
        print(f"{worker.worker_id}: completed={worker.completed} failed={worker.failed}")
        assert [h.status for h in handles] == ["completed"] * 5

        # in the foreground: run() returns after SIGTERM/SIGINT or stop(), once drained
        foreground = service.worker(concurrency=5)
        async with anyio.create_task_group() as tg:
            tg.start_soon(foreground.run)
            last = await send_email.enqueue("last@example.com")
            await last.wait(timeout=30)
            foreground.stop()  # what SIGTERM does
        print(last.status, last.result)


if __name__ == "__main__":
    anyio.run(main)
