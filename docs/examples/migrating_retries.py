"""Migrating from 0.1: retry backoff, error texts, ``task.retrying`` (docs/migrating-from-0.1.md)."""

from __future__ import annotations

import anyio

from litestar_queues import Backoff, QueueConfig, QueueService, task
from litestar_queues.events import InMemoryQueueEventSink, QueueEvent, QueueEventConfig

calls = {"feeds.fetch": 0, "feeds.fetch_now": 0}


async def flaky(name: str) -> str:
    calls[name] += 1
    if calls[name] == 1:
        raise ConnectionError("feed unreachable")
    return "fetched"


@task("feeds.fetch", retries=2)
async def fetch_feed() -> str:
    # the default backoff: the retry waits about 1 s, the record is "scheduled" meanwhile
    return await flaky("feeds.fetch")


@task("feeds.fetch_now", retries=2, backoff=Backoff(initial=0, jitter=0))  # retry at once, as 0.1.0 did
async def fetch_feed_now() -> str:
    return await flaky("feeds.fetch_now")


def failed_for_good(event: QueueEvent) -> bool:
    # 0.1.0: event.type == "task.failed" and not event.payload["will_retry"]
    return event.type == "task.failed"


def attempt_failed(event: QueueEvent) -> bool:
    # 0.1.0: event.type == "task.failed"
    return event.type in ("task.failed", "task.retrying")


async def main() -> None:
    sink = InMemoryQueueEventSink()
    config = QueueConfig(event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as service, service.worker():
        waiting = await service.enqueue(fetch_feed)
        while (await waiting.refresh()).status != "scheduled":  # noqa: ASYNC110 (polls the stored record)
            await anyio.sleep(0.01)
        print("after the first failure:", waiting.status, "|", waiting.error)
        # 0.1.0 stored str(exc): "feed unreachable"
        message = waiting.error.partition(": ")[2] if waiting.error else None
        print("message:", message)
        assert message == "feed unreachable"

        now = await (await service.enqueue(fetch_feed_now)).wait(timeout=30)
        await waiting.wait(timeout=30)

    types = [e.type for e in sink.for_task(now.id)]
    print("events:", types)
    assert types == ["task.started", "task.retrying", "task.started", "task.completed"]
    assert [e.type for e in sink.for_task(waiting.id) if attempt_failed(e)] == ["task.retrying"]
    assert not any(failed_for_good(e) for e in sink.events)
    assert (now.status, waiting.status) == ("completed", "completed")


if __name__ == "__main__":
    anyio.run(main)
