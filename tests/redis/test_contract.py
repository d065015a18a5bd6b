"""The Redis backend passes the whole contract kit against a real redis-server."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from litestar_queues.testing import QueueBackendContract
from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    from litestar_queues import QueueBackend
    from tests.servers import RedisServer


class TestRedisBackendContract(QueueBackendContract):
    # each state-machine step reads every record back over the network: fewer examples than
    # the in-memory reference keeps this test short
    hypothesis_settings = settings(max_examples=60)
    server_url: str

    @pytest.fixture(autouse=True)
    def _use_server(self, redis_server: RedisServer) -> None:
        self.server_url = redis_server.url

    async def make_backend(self) -> QueueBackend:
        return RedisQueueBackend(url=self.server_url, key_prefix=f"c{uuid.uuid4().hex[:12]}")
