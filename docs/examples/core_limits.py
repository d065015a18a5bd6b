"""Global limits: a cap per queue, a rate, one import per customer at a time (docs/limits.md)."""

from __future__ import annotations

import os

import anyio

from litestar_queues import QueueConfig, QueueLimit, QueueService, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()
sending = {"now": 0, "most": 0}


@task("mail.send", queue="emails", registry=registry)
async def send_email(to: str) -> None:
    sending["now"] += 1
    sending["most"] = max(sending["most"], sending["now"])
    await anyio.sleep(0.02)
    sending["now"] -= 1


@task("imports.run", queue="imports", registry=registry)
async def run_import(customer: str, part: int) -> str:
    return f"{customer} part {part}"


config = QueueConfig(
    queue_backend=os.environ.get("QUEUE_URL", "memory://"),
    registry=registry,
    limits={
        "emails": QueueLimit(concurrency=5),  # at most 5 emails at a time, across all workers
        "api": QueueLimit(rate=100, per=60.0),  # at most 100 starts a minute
        "imports": QueueLimit(key_concurrency=1),  # one import per customer at a time
    },
    worker=WorkerConfig(concurrency=20, poll_interval=0.1),
)


async def main() -> None:
    async with QueueService(config) as service:
        emails = [await service.enqueue(send_email, f"user{n}@example.com") for n in range(30)]
        # the partition key of the queue's limit, given at enqueue
        imports = [
            await service.enqueue(run_import, customer, part, limit_key=f"customer:{customer}")
            for customer in ("42", "43")
            for part in range(3)
        ]
        async with service.worker(worker_id="a"), service.worker(worker_id="b"):  # 40 slots
            for handle in [*emails, *imports]:
                await handle.wait(timeout=30)
        print("emails sent at once, at most:", sending["most"])

        # the store holds the effective limits: a change made now holds for every worker until
        # one starts with a configuration that says otherwise
        await service.set_limit("emails", QueueLimit(concurrency=10, rate=600, per=60.0))
        await service.set_limit("api", None)  # removed
        for queue, limit in (await service.limits()).items():
            print(f"{queue}: {limit.describe()}")


if __name__ == "__main__":
    anyio.run(main)
