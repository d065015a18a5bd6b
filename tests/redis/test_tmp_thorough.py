import uuid

import pytest
from hypothesis import settings

from litestar_queues.testing import QueueBackendContract
from litestar_queues_redis import RedisQueueBackend


class TestThorough(QueueBackendContract):
    hypothesis_settings = settings(max_examples=1500, stateful_step_count=50, deadline=None)
    @pytest.fixture(autouse=True)
    def _use_server(self, redis_server):
        self.server_url = redis_server.url
    async def make_backend(self):
        return RedisQueueBackend(url=self.server_url, key_prefix=f"c{uuid.uuid4().hex[:12]}")
