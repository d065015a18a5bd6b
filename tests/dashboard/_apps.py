"""Small apps for the dashboard's unit tests: the memory backend, an in-app worker, TestClient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Litestar

from litestar_queues import QueueConfig, TaskRegistry, WorkerConfig, task
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import DashboardConfig

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

LOOPBACK = "http://127.0.0.1:8000"
"""A base URL whose requests reach a loopback server socket under a loopback host name."""

registry = TaskRegistry()


@task("unit.fail", registry=registry)
async def fail(**kwargs: Any) -> None:
    raise RuntimeError("broken on purpose")


@task("unit.ok", registry=registry)
async def ok(**kwargs: Any) -> str:
    return "fine"


def allow_all(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard that admits every request (the loopback rule is then off)."""


def make_app(dashboard: DashboardConfig | None = None, **config: Any) -> Litestar:
    """An app with the dashboard at /queues (unguarded unless ``dashboard`` says otherwise)."""
    queue_config = QueueConfig(
        registry=registry, worker=WorkerConfig(in_app=True, poll_interval=0.05), **config
    )
    plugin = QueuePlugin(queue_config, dashboard=dashboard or DashboardConfig())
    return Litestar(plugins=[plugin], logging_config=None)  # records reach caplog
