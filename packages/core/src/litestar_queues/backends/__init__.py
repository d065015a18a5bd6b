"""Queue backends that ship with the core."""

from __future__ import annotations

from litestar_queues.backends.memory import MemoryQueueBackend

__all__ = ("MemoryQueueBackend",)
