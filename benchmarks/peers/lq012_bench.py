"""The published litestar-queues 0.12.0 (PyPI) with its Redis backend (pub/sub worker wake-ups on,
its default). One-by-one ``QueueService.enqueue``; 0.12 has no batch-enqueue API. Its worker runs
the way ``litestar queues run`` runs one (``worker.runtime.run_worker``), at ``max_concurrency``.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from importlib.metadata import version
from typing import Any

import bench_signal
from litestar_queues.worker.runtime import run_worker as lq_run_worker

from litestar_queues import QueueConfig, QueueService, WorkerConfig, task

BATCH = False


@task("bench.noop")
async def noop(i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    return {"litestar-queues": version("litestar-queues"), "redis": version("redis")}


def make_config(url: str, concurrency: int = 10) -> QueueConfig:
    from litestar_queues.backends.redis import RedisBackendConfig

    return QueueConfig(
        queue_backend=RedisBackendConfig(url=url),
        worker=WorkerConfig(placement="external", max_concurrency=concurrency),
        initialize_schedules=False,
    )


async def setup(url: str) -> None:
    return None


class Client:
    def __init__(self, service: QueueService) -> None:
        self.service = service

    async def enqueue(self, i: int) -> None:
        await self.service.enqueue(noop, i)

    async def outstanding(self) -> int:
        stats = await self.service.get_statistics()
        return stats.pending + stats.scheduled + stats.running

    async def close(self) -> None:
        await self.service.close()


async def open_client_for(config: QueueConfig) -> Client:
    service = QueueService(config)
    await service.open()
    return Client(service)


async def open_client(url: str) -> Client:
    return await open_client_for(make_config(url))


def run_worker_for(config: QueueConfig, ready: Any) -> None:
    async def main() -> None:
        graceful, force = asyncio.Event(), asyncio.Event()  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, graceful.set)
        config_ = replace(config, worker=replace(config.worker, graceful_shutdown_timeout=10))
        ready()
        await lq_run_worker(QueueService(config_), config_, graceful_stop=graceful, force_stop=force)

    asyncio.run(main())


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    run_worker_for(make_config(url, concurrency), ready)
