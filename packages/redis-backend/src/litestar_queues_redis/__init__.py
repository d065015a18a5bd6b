"""Redis / Valkey queue backend for litestar-queues.

Install ``litestar-queues-redis`` and configure ``QueueConfig(queue_backend="redis://host:6379/0")``:
the ``redis://``, ``rediss://`` and ``unix://`` URL schemes resolve to :class:`RedisQueueBackend`.
"""

from __future__ import annotations

from litestar_queues_redis.backend import DEFAULT_RESULT_TTL, RedisQueueBackend

__all__ = ("DEFAULT_RESULT_TTL", "RedisQueueBackend")
