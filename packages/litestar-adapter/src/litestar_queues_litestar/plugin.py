"""The Litestar plugin: opens the queue service in the app's lifespan and injects it."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency, Provide
from litestar.plugins import CLIPlugin, InitPlugin

from litestar_queues import QueueConfig, QueueService, Task, TaskResult, Worker
from litestar_queues.exceptions import NoActiveServiceError, QueueConfigurationError
from litestar_queues.ports import BackendReach
from litestar_queues_litestar import _streams
from litestar_queues_litestar._observability import follow_opentelemetry
from litestar_queues_litestar._placement import runs_in_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from click import Group
    from litestar import Litestar
    from litestar.config.app import AppConfig

    from litestar_queues_litestar.dashboard.config import DashboardConfig
    from litestar_queues_litestar.dashboard.mount import DashboardMount

__all__ = ("QueuePlugin",)

logger = logging.getLogger("litestar_queues.litestar")

STREAM_SHUTDOWN_TIMEOUT = 5.0
"""Seconds the lifespan waits for open event streams to unsubscribe on shutdown."""


class QueuePlugin(InitPlugin, CLIPlugin):
    """Runs litestar-queues inside a Litestar app.

    On startup the app's lifespan opens a :class:`~litestar_queues.QueueService` for ``config``
    (making it the process's active service, the one ``Task.enqueue`` and
    ``QueuedBackgroundTask`` use) and, when the config places the worker in the app, starts a
    :class:`~litestar_queues.Worker`. On shutdown it ends open event streams, drains the worker and
    closes the service. Handlers receive the service by declaring
    ``queue_service: NamedDependency[QueueService]``.

    Worker placement follows ``config.worker.in_app``; when it is ``None`` the worker runs in the
    app for the memory backend and SQLite files, and in ``litestar queues worker`` processes for
    shared backends (Redis, PostgreSQL).

    With ``dashboard`` the app also serves the web dashboard (off by default; see
    :class:`~litestar_queues_litestar.dashboard.DashboardConfig`).

    Args:
        config: The queue configuration (default: ``QueueConfig()``, the in-memory backend).
        dependency_key: Name under which handlers receive the service.
        dashboard: Mount the dashboard with this configuration (needs the ``dashboard`` extra).

    Raises:
        QueueConfigurationError: ``config`` is not a ``QueueConfig``, or the dashboard's extra
            (Jinja2) is not installed.
    """

    __slots__ = ("_dashboard", "_service", "_worker", "config", "dependency_key")

    def __init__(
        self,
        config: QueueConfig | None = None,
        *,
        dependency_key: str = "queue_service",
        dashboard: DashboardConfig | None = None,
    ) -> None:
        if config is not None and not isinstance(config, QueueConfig):
            raise QueueConfigurationError(f"config must be a QueueConfig, got {type(config).__name__}")
        self.config = config if config is not None else QueueConfig()
        self.dependency_key = dependency_key
        self._service: QueueService | None = None
        self._worker: Worker | None = None
        self._dashboard: DashboardMount | None = None
        if dashboard is not None:
            self._dashboard = _mount(dashboard, self)

    @property
    def runs_worker_in_app(self) -> bool:
        """Whether the app's lifespan starts a worker (see :attr:`WorkerConfig.in_app`)."""
        return runs_in_app(self.config)

    @property
    def service(self) -> QueueService:
        """The service opened by the running app.

        Raises:
            NoActiveServiceError: The app is not running (its lifespan has not started or has ended).
        """
        if self._service is None:
            raise NoActiveServiceError(
                "QueuePlugin's QueueService is open only while the app runs: use the app inside its "
                "lifespan (with TestClient(app=app) as client: ...)"
            )
        return self._service

    @property
    def worker(self) -> Worker | None:
        """The in-app worker while the app runs, else ``None``."""
        return self._worker

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Wire the plugin into the app: lifespan, dependency and signature namespace."""
        _check_channels_order(self, app_config)
        follow_opentelemetry(self.config, app_config)
        app_config.lifespan.append(self._lifespan)
        if self._dashboard is not None:
            app_config.route_handlers.append(self._dashboard.router())
            # after the service's lifespan: it stops following task events before the service closes
            app_config.lifespan.append(self._dashboard.lifespan)
        app_config.dependencies[self.dependency_key] = Provide(self._provide_service, sync_to_thread=False)
        # NamedDependency too: handler modules that import it only for type checking (ruff's TC
        # rules) still declare `queue_service: NamedDependency[QueueService]`
        app_config.signature_namespace.update(
            {
                "NamedDependency": NamedDependency,
                "QueueService": QueueService,
                "QueueConfig": QueueConfig,
                "Task": Task,
                "TaskResult": TaskResult,
            }
        )
        return app_config

    def on_cli_init(self, cli: Group) -> None:
        """Add nothing: ``litestar queues`` comes from the ``litestar.commands`` entry point."""
        return None

    def _provide_service(self) -> QueueService:
        return self.service

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        service = QueueService(self.config)
        async with service:
            self._service = service
            try:
                if self.runs_worker_in_app:
                    async with service.worker() as worker:
                        self._worker = worker
                        logger.info("in-app worker %s started", worker.worker_id)
                        try:
                            yield
                        finally:
                            await _streams.close_all(app, STREAM_SHUTDOWN_TIMEOUT)
                else:
                    _log_how_to_run_a_worker(service)
                    try:
                        yield
                    finally:
                        await _streams.close_all(app, STREAM_SHUTDOWN_TIMEOUT)
            finally:
                self._worker = None
                self._service = None


def _mount(config: DashboardConfig, plugin: QueuePlugin) -> DashboardMount:
    # imported here: apps without a dashboard never load it (nor need its Jinja2 extra)
    from litestar_queues_litestar.dashboard.config import DashboardConfig
    from litestar_queues_litestar.dashboard.mount import DashboardMount

    if not isinstance(config, DashboardConfig):
        raise QueueConfigurationError(f"dashboard must be a DashboardConfig, got {type(config).__name__}")
    return DashboardMount(config, plugin.config, lambda: plugin.service)


def _log_how_to_run_a_worker(service: QueueService) -> None:
    """Say once, at start-up, that this app runs no worker and how to run one."""
    backend = type(service.backend).__name__
    if service.backend.reach is BackendReach.PROCESS:
        logger.warning(
            "the queue backend (%s) lives in this process and WorkerConfig(in_app=False) starts no "
            "worker here, so nothing will ever run its tasks: set WorkerConfig(in_app=True) or use a "
            "shared backend (sqlite:///queue.db, redis://, postgresql://)",
            backend,
        )
        return
    logger.info(
        "this app runs no queue worker: tasks enqueued to the shared queue backend (%s) wait until a "
        "worker runs; start one with `litestar --app MODULE:APP queues worker` (or "
        "`litestar-queues worker MODULE:CONFIG`), or run one in the app with WorkerConfig(in_app=True)",
        backend,
    )


def _check_channels_order(plugin: QueuePlugin, app_config: AppConfig) -> None:
    """Fail when the ChannelsPlugin events go to starts after this plugin (its lifespan would stop first)."""
    event_config = plugin.config.event_config
    target = event_config.channels_backend if event_config is not None and event_config.enabled else None
    if target is None:
        return
    plugins = list(app_config.plugins)
    ours = next((i for i, p in enumerate(plugins) if p is plugin), None)
    if ours is None:
        return
    for index, other in enumerate(plugins):
        if (
            isinstance(other, ChannelsPlugin)
            and (other is target or other._backend is target)
            and index > ours
        ):
            raise QueueConfigurationError(
                "register the ChannelsPlugin that queue events go to before QueuePlugin "
                "(plugins=[channels, QueuePlugin(...)]), so the channels start before the worker "
                "publishes and stop after it has drained"
            )
