"""The app of the multiprocess metrics test: a web process and worker processes, one ``/metrics``.

``create_app`` (a Litestar app factory, for uvicorn and ``litestar queues worker``) reads the
queue URL from ``LQ_METRICS_TEST_URL``; prometheus-client's multiprocess mode is on when the
process starts with ``PROMETHEUS_MULTIPROC_DIR`` set (the test sets it for every process).
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, get, post
from litestar.di import NamedDependency  # noqa: TC002 - Litestar reads handler annotations at run time
from litestar.plugins.prometheus import PrometheusController

from litestar_queues import QueueConfig, QueuePlugin, QueueService, WorkerConfig, task
from litestar_queues.observability import PrometheusObserver

URL_VARIABLE = "LQ_METRICS_TEST_URL"


@task("metrics_tests.ok")
async def ok() -> None:
    """Completes."""
    return None


@task("metrics_tests.broken")
async def broken() -> None:
    """Fails for good (no retries)."""
    raise RuntimeError("broken on purpose")


@post("/batch")
async def enqueue_batch(
    ok_count: int, broken_count: int, queue_service: NamedDependency[QueueService]
) -> list[str]:
    """Enqueues ``ok_count`` tasks that complete and ``broken_count`` that fail."""
    handles = [await queue_service.enqueue(ok) for _ in range(ok_count)]
    handles += [await queue_service.enqueue(broken) for _ in range(broken_count)]
    return [str(handle.id) for handle in handles]


@get("/outstanding")
async def outstanding(queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    """How many tasks are not finished yet."""
    stats = await queue_service.stats()
    return {"outstanding": sum(stats.count(s) for s in ("pending", "scheduled", "running"))}


def create_app() -> Litestar:
    """The web app (enqueues, serves ``/metrics``) and, under ``queues worker``, its workers."""
    queues = QueueConfig(
        queue_backend=os.environ[URL_VARIABLE],
        worker=WorkerConfig(poll_interval=0.05),
        observers=[PrometheusObserver(depth_interval=0.2)],  # prometheus-client's global REGISTRY
    )
    return Litestar([enqueue_batch, outstanding, PrometheusController], plugins=[QueuePlugin(queues)])
