import itertools
import uuid

import pytest
from hypothesis import settings

from litestar_queues.testing import QueueBackendContract
from litestar_queues_sql import SQLQueueBackend


class TestThoroughPG(QueueBackendContract):
    hypothesis_settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
    @pytest.fixture(autouse=True)
    def _server(self, postgres_server):
        self.server = postgres_server
    async def make_backend(self):
        return SQLQueueBackend(f"{self.server.url}?table_prefix=c{uuid.uuid4().hex[:12]}_")

class TestThoroughSQLite(QueueBackendContract):
    hypothesis_settings = settings(max_examples=500, stateful_step_count=40, deadline=None)
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.files = (tmp_path / f"queue-{n}.db" for n in itertools.count())
    async def make_backend(self):
        return SQLQueueBackend(f"sqlite:///{next(self.files)}")
