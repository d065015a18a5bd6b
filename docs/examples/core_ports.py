"""The ports: implement Clock, EventSink and ExecutionBackend with small classes (docs/ports.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from litestar_queues import (
    Clock,
    EventSink,
    ExecutionBackend,
    MemoryQueueBackend,
    QueueBackend,
    QueueConfig,
    QueueService,
    TaskRecord,
    task,
)
from litestar_queues.events import QueueEvent, QueueEventConfig, encode_event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence


class SteppingClock:
    """A Clock whose time moves only when told to: tests of delays need no sleeping."""

    def __init__(self) -> None:
        self.current = datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class PrintingSink:
    """An EventSink: one method, ``publish(event, channels)``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        self.lines.append(f"{event.type} -> {', '.join(channels)}")
        encode_event(event)  # what a real sink sends: the JSON wire form


class TimedExecution(ExecutionBackend):
    """An ExecutionBackend that runs tasks in this process and records how long each took.

    Subclassing the port inherits its declared capabilities (``writes_outcomes = False``,
    ``needs_shared_queue = False``, no-op ``configure`` and ``check``).
    """

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        started = anyio.current_time()
        try:
            return await run_here()
        finally:
            self.durations[str(record.id)] = anyio.current_time() - started


@task("ports.greet", retries=1)
async def greet(name: str) -> str:
    return f"hello {name}"


async def main() -> None:
    clock, sink, timed = SteppingClock(), PrintingSink(), TimedExecution()
    assert isinstance(clock, Clock) and isinstance(sink, EventSink)
    assert isinstance(timed, ExecutionBackend) and isinstance(MemoryQueueBackend(), QueueBackend)

    config = QueueConfig(
        queue_backend=MemoryQueueBackend(),
        clock=clock,
        execution_backend="timed",
        execution_backends={"timed": timed},
        event_config=QueueEventConfig(enabled=True, sink=sink),
    )
    async with QueueService(config) as service:
        later = await service.enqueue(greet, "later", run_after=60)
        async with service.worker(poll_interval=0.05):
            now = await service.enqueue(greet, "now")
            await now.wait(timeout=30)
            await anyio.sleep(0.2)
            assert (await later.refresh()).status == "scheduled"  # not due on this clock
            clock.advance(60)
            await later.wait(timeout=30)
    print("\n".join(sink.lines))
    print(f"timed {len(timed.durations)} runs; {later.result!r} ran at {later.record.started_at}")
    assert later.record.started_at == clock.now()


if __name__ == "__main__":
    anyio.run(main)
