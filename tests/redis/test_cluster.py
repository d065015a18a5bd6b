"""The backend on Redis Cluster (a one-node cluster): cluster client, one hash tag per backend."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from redis.asyncio.cluster import RedisCluster

from litestar_queues import QueueConfig, QueueService, TaskCall, TaskRegistry, task
from litestar_queues.testing import QueueBackendContract
from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    from litestar_queues import QueueBackend
    from tests.servers import RedisServer

registry = TaskRegistry()


@task("cluster.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


class TestRedisClusterContract(QueueBackendContract):
    """The contract's example tests through a ``RedisCluster`` client.

    The state machine runs against the standalone server (test_contract.py); here one of its
    runs hung inside the cluster client's connection setup, which is not investigated yet.
    """

    hypothesis_settings = settings(max_examples=25)
    port: int
    clients: dict[int, RedisCluster]

    @pytest.fixture(autouse=True)
    def _use_cluster(self, redis_cluster_server: RedisServer) -> None:
        self.port = redis_cluster_server.port
        self.clients = {}

    async def make_backend(self) -> QueueBackend:
        client = RedisCluster(host="127.0.0.1", port=self.port)
        backend = RedisQueueBackend(client=client, key_prefix=f"c{uuid.uuid4().hex[:12]}")
        self.clients[id(backend)] = client
        return backend

    async def teardown_backend(self, backend: QueueBackend) -> None:
        await self.clients.pop(id(backend)).aclose()


@pytest.mark.anyio
async def test_service_and_worker_on_a_cluster(redis_cluster_server: RedisServer) -> None:
    client = RedisCluster(host="127.0.0.1", port=redis_cluster_server.port)
    backend = RedisQueueBackend(client=client, key_prefix=f"s{uuid.uuid4().hex[:12]}")
    try:
        async with QueueService(QueueConfig(queue_backend=backend, registry=registry)) as service:
            # more than one enqueue chunk: cluster pipelines refuse EVALSHA, so chunks go in order
            handles = await service.enqueue_many(TaskCall(add, (i, 1)) for i in range(1200))
            async with service.worker():
                for handle in (handles[0], handles[-1]):
                    await handle.wait(timeout=30)
            first, last = handles[0], handles[-1]
            assert (first.status, first.result, last.status, last.result) == (
                "completed",
                1,
                "completed",
                1200,
            )
    finally:
        await client.aclose()
