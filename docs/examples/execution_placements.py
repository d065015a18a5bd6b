"""Placements: where a claimed task runs (docs/execution.md).

Run it from this directory (the child processes import this module as ``execution_placements``):

    QUEUE_URL=sqlite+aiosqlite:///queue.db python execution_placements.py
"""

from __future__ import annotations

import os

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.task import EnqueueOptions
from litestar_queues_cloudrun import CloudRunExecutionBackend


@task("reports.render", retries=2, timeout=300)
def render_report(report_id: str) -> dict[str, object]:
    # CPU-heavy, sync: in a child process it cannot stall the worker's event loop
    total = sum(i * i for i in range(200_000))
    return {"report": report_id, "checksum": total % 997, "pid": os.getpid()}


config = QueueConfig(
    # a durable backend: the worker and its child processes (or containers) share it
    queue_backend=os.environ.get("QUEUE_URL", "sqlite+aiosqlite:///queue.db"),
    # where run-task (in a child process or a container) imports this configuration from
    app="execution_placements:config",
    execution_backends={"cloudrun": CloudRunExecutionBackend()},
    execution_profiles={
        "isolated": {
            "backend": "process",
            "concurrency": 2,  # children of this profile at once, per worker
            "memory_limit_mb": 1024,  # RLIMIT_AS of each child
            "env": {"OMP_NUM_THREADS": "1"},
        },
        "heavy": {
            "backend": "cloudrun",
            "project": "acme-prod",
            "region": "europe-west1",
            "job": "reports-8cpu",  # the job's resources are the CPU/memory class
            "task_timeout": 3600,
        },
    },
)


async def main() -> None:
    async with QueueService(config) as service, service.worker():
        handle = await service.enqueue(render_report, "r-1", execution_profile="isolated")
        await handle.wait(timeout=60)
        print(handle.status, handle.result)
        assert handle.status == "completed"
        assert handle.record.execution_backend == "process"
        assert handle.result["pid"] != os.getpid()

        # the same task placed on Cloud Run (needs the job and Google credentials, so only
        # validated here: build_record checks the placement and stores nothing)
        on_cloud_run = render_report.using(execution_profile="heavy")
        record = service.build_record(on_cloud_run, ["r-2"], {}, EnqueueOptions())
        assert (record.execution_backend, record.execution_profile) == ("cloudrun", "heavy")


if __name__ == "__main__":
    anyio.run(main)
