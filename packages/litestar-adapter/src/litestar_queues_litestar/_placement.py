"""Where the worker runs by default: in the app for process-local backends, elsewhere for shared ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues import MemoryQueueBackend

if TYPE_CHECKING:
    from litestar_queues import QueueConfig

IN_APP_SCHEMES = frozenset({"memory", "sqlite", "sqlite+aiosqlite"})
"""URL schemes whose worker runs inside the app unless ``WorkerConfig.in_app`` says otherwise."""


def runs_in_app(config: QueueConfig) -> bool:
    """Whether the Litestar plugin runs a worker inside the app for ``config``.

    ``WorkerConfig.in_app`` decides when set. When it is ``None``: yes for the in-process memory
    backend (no other process can reach its records) and for SQLite files (one machine); no for
    shared backends (Redis, PostgreSQL, custom instances), whose workers run as
    ``litestar queues worker`` processes.
    """
    if config.worker.in_app is not None:
        return config.worker.in_app
    backend = config.queue_backend
    if isinstance(backend, str):
        return backend.split("://", 1)[0].lower() in IN_APP_SCHEMES
    return isinstance(backend, MemoryQueueBackend)
