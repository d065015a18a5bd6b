"""Your own observer: subclass QueueObserver and override the hooks you need."""

import anyio

from litestar_queues import Outcome, QueueConfig, QueueObserver, QueueService, TaskRecord, task


class SlowTaskLog(QueueObserver):
    """Reports attempts slower than a threshold (send them to your alerting instead)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.slow: list[str] = []

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        if duration > self.threshold:
            self.slow.append(f"{record.task_name} attempt {record.attempts} took {duration:.1f} s")


@task("reports.build")
async def build_report(seconds: float) -> None:
    await anyio.sleep(seconds)


async def main() -> None:
    slow = SlowTaskLog(threshold=0.2)
    async with QueueService(QueueConfig(observers=[slow])) as service, service.worker():
        for seconds in (0.01, 0.3):
            await (await service.enqueue(build_report, seconds)).wait(timeout=30)
    print(slow.slow)


if __name__ == "__main__":
    anyio.run(main)
