"""Prometheus metrics of a mixed run: the script behind docs/observability.md's first example."""

from __future__ import annotations

import os

import anyio
from prometheus_client import CollectorRegistry, generate_latest

from litestar_queues import Backoff, QueueConfig, QueueService, task
from litestar_queues.observability import PrometheusObserver

attempts: dict[str, int] = {}


@task("emails.send", retries=2, backoff=Backoff(initial=0, jitter=0))
async def send_email(to: str) -> None:
    attempts[to] = attempts.get(to, 0) + 1
    if to == "flaky@example.com" and attempts[to] == 1:
        raise ConnectionError("SMTP server busy")
    if to == "nobody@example.com":
        raise ValueError("no such mailbox")


registry = CollectorRegistry()  # leave it out to use prometheus-client's global REGISTRY
config = QueueConfig(
    queue_backend=os.environ.get("QUEUE_URL", "memory://"),
    observers=[PrometheusObserver(registry=registry)],
)


async def main() -> None:
    async with QueueService(config) as service, service.worker():
        for to in ("ada@example.com", "flaky@example.com", "nobody@example.com"):
            await (await service.enqueue(send_email, to)).wait(timeout=30)
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("litestar_queues_tasks_") and "_created" not in line:
            print(line)


if __name__ == "__main__":
    anyio.run(main)
