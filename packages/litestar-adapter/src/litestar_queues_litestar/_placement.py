"""Where the worker runs by default: in the app for backends on this machine, elsewhere for shared ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues._loading import reach_of
from litestar_queues.ports import BackendReach

if TYPE_CHECKING:
    from litestar_queues import QueueConfig


def runs_in_app(config: QueueConfig) -> bool:
    """Whether the Litestar plugin runs a worker inside the app for ``config``.

    ``WorkerConfig.in_app`` decides when set. When it is ``None`` the queue backend's declared
    :class:`~litestar_queues.ports.BackendReach` does: yes for ``PROCESS`` (the memory backend:
    no other process can reach its records) and ``HOST`` (a SQLite file: one machine); no for
    ``NETWORK`` (Redis, PostgreSQL), whose workers run as ``litestar queues worker`` processes.
    """
    if config.worker.in_app is not None:
        return config.worker.in_app
    return reach_of(config.queue_backend) is not BackendReach.NETWORK
