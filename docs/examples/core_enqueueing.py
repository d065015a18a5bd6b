"""Enqueueing: handles, overrides, using(), dedup keys, bulk enqueue (docs/enqueueing.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio

from litestar_queues import QueueConfig, QueueService, TaskCall, WorkerConfig, task
from litestar_queues.execution.local import LocalExecutionBackend


@task("reports.render", queue="reports", priority=10, retries=2, timeout=120)
async def render_report(report_id: str) -> str:
    return f"rendered {report_id}"


# The overrides below name an execution backend "cloudrun" and a profile "heavy". Here "cloudrun"
# is the in-process backend registered under that name, so this file runs anywhere; see the
# Execution page for backends that run tasks elsewhere.
config = QueueConfig(
    execution_backends={"cloudrun": LocalExecutionBackend()},
    execution_profiles={"heavy": {}},
    worker=WorkerConfig(poll_interval=0.1),
)


async def main() -> None:
    async with QueueService(config) as queue_service, queue_service.worker():
        # enqueue, then wait for the outcome
        result = await queue_service.enqueue(render_report, "report-1")
        await result.wait(timeout=30)
        print(result.id, result.status, result.result)
        assert (result.status, result.result) == ("completed", "rendered report-1")

        # per-enqueue overrides
        result = await queue_service.enqueue(
            render_report,
            "report-1",
            queue="slow-reports",
            priority=1,
            retries=5,
            timeout=600,
            run_after=30,
            execution_backend="cloudrun",
            execution_profile="heavy",
            metadata={"requested_by": "user-123"},
        )
        record = result.record
        print(result.status, record.queue, record.priority, record.max_retries, record.run_at)
        assert result.status == "scheduled" and record.metadata == {"requested_by": "user-123"}

        # run_after also takes a timedelta or an aware datetime
        later = await queue_service.enqueue(render_report, "r", run_after=timedelta(minutes=5))
        at_noon = await queue_service.enqueue(
            render_report, "r", run_after=datetime(2030, 1, 1, 12, tzinfo=UTC)
        )
        assert later.status == at_noon.status == "scheduled"

        # a configured copy
        heavy_render = render_report.using(execution_backend="cloudrun", execution_profile="heavy")
        await queue_service.enqueue(heavy_render, "report-1")

        # deduplication keys
        first = await queue_service.enqueue(render_report, "report-9", key="report:report-9")
        again = await queue_service.enqueue(render_report, "report-9", key="report:report-9")
        assert again.id == first.id and not again.created
        await first.wait(timeout=30)
        fresh = await queue_service.enqueue(render_report, "report-9", key="report:report-9")
        assert fresh.id != first.id and fresh.created  # the first one is terminal: the key is free

        # bulk: validated first, stored together; one bad call stores nothing
        handles = await queue_service.enqueue_many(
            [TaskCall(render_report, ("a",)), TaskCall("reports.render", ("b",), {})]
        )

        # Task.enqueue goes through the active service (the most recently opened one)
        via_task = await render_report.enqueue("report-7")

        for handle in [*handles, via_task]:
            await handle.wait(timeout=30)

        # look up, cancel, retry, count
        looked_up = await queue_service.get_task(str(via_task.id))
        assert looked_up.result == "rendered report-7"
        cancelled = await queue_service.cancel(result.id)
        assert cancelled.status == "cancelled"
        retried = await queue_service.retry(result.id)
        assert retried.id == result.id and retried.status == "pending"  # the same record, requeued
        assert (await queue_service.retry(result.id)).status == "pending"  # a second retry: no-op
        page = await queue_service.list_tasks(statuses=["pending"], limit=50)
        assert result.id in {handle.id for handle in page.tasks}
        stats = await queue_service.stats()
        print(stats.queues)
        for handle in (later, at_noon, retried):
            await queue_service.cancel(handle.id)


if __name__ == "__main__":
    anyio.run(main)
