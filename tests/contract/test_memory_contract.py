"""The memory backend, the reference implementation, passes the whole contract kit."""

from __future__ import annotations

from litestar_queues import MemoryQueueBackend, QueueBackend
from litestar_queues.testing import QueueBackendContract


class TestMemoryBackendContract(QueueBackendContract):
    async def make_backend(self) -> QueueBackend:
        return MemoryQueueBackend()
