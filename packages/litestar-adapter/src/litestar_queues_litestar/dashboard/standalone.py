"""The dashboard without an app of your own: ``litestar-queues dashboard QUEUE_URL`` serves it with uvicorn.

The same pages as the plugin's, in a small Litestar app that opens the queue service and runs
no worker. Bound to a loopback address it may go without a password; bound to any other
address it needs one (HTTP basic auth), given with ``--password`` or the
``LITESTAR_QUEUES_DASHBOARD_PASSWORD`` environment variable.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import uvicorn
from litestar import Litestar
from litestar.channels import ChannelsPlugin

from litestar_queues import QueueConfig, QueueService, WorkerConfig
from litestar_queues.cli import load_service
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.ports import BackendReach
from litestar_queues_litestar.dashboard.access import BasicAuthGuard, is_loopback_address
from litestar_queues_litestar.dashboard.config import DashboardConfig
from litestar_queues_litestar.dashboard.redaction import redact_url
from litestar_queues_litestar.plugin import QueuePlugin

if TYPE_CHECKING:
    from litestar.types import Guard

__all__ = ("PASSWORD_ENV", "queue_config", "serve", "standalone_app")

logger = logging.getLogger("litestar_queues.litestar")

PASSWORD_ENV = "LITESTAR_QUEUES_DASHBOARD_PASSWORD"
"""The environment variable the password may come from (kept out of ``ps`` listings)."""


def queue_config(target: str) -> QueueConfig:
    """The queue configuration of ``target``: a backend URL, or ``MODULE:ATTR`` of a config or service.

    The dashboard's service runs no worker, whatever the configuration says.

    Raises:
        QueueConfigurationError: The target names nothing usable, or a backend that lives in
            one process (``memory://``): another process cannot see its tasks.
    """
    if "://" in target:
        config = QueueConfig(queue_backend=target, worker=WorkerConfig(in_app=False))
    else:
        loaded = load_service(target).config
        config = dataclasses.replace(loaded, worker=dataclasses.replace(loaded.worker, in_app=False))
    if QueueService(config).backend.reach is BackendReach.PROCESS:
        raise QueueConfigurationError(
            f"{target} keeps its tasks in the memory of one process, so a dashboard in another process "
            "sees none of them: mount it in the app instead "
            "(QueuePlugin(config, dashboard=DashboardConfig())) "
            "or use a shared backend (sqlite:///queue.db, redis://, postgresql://)"
        )
    return config


def standalone_app(
    target: str,
    *,
    host: str = "127.0.0.1",
    username: str = "admin",
    password: str | None = None,
    poll_interval: float = 2.0,
) -> Litestar:
    """The Litestar app of the standalone dashboard, mounted at ``/``.

    Args:
        target: A queue backend URL, or ``MODULE:ATTR`` of a ``QueueConfig`` or ``QueueService``.
        host: The address the server binds to: any but a loopback one needs ``password``.
        username: The user name of basic auth.
        password: Require basic auth with this password (``None``: loopback requests only).
        poll_interval: Seconds between refreshes of the live parts.

    Raises:
        QueueConfigurationError: No password for a non-loopback host, or a bad target.
    """
    if not password and not is_loopback_address(host):
        raise QueueConfigurationError(
            f"serving the dashboard on {host} lets other machines reach it, so it needs a password: "
            f"--password or the {PASSWORD_ENV} environment variable (basic auth; put it behind HTTPS), "
            "or bind it to 127.0.0.1"
        )
    guards: list[Guard] = [BasicAuthGuard(username, password)] if password else []
    dashboard = DashboardConfig(path="/", guards=guards, poll_interval=poll_interval)
    config = queue_config(target)
    plugin = QueuePlugin(config, dashboard=dashboard)
    events = config.event_config
    channels = events.channels_backend if events is not None and events.enabled else None
    if isinstance(channels, ChannelsPlugin):
        # a MODULE:ATTR whose events go to a ChannelsPlugin: started here, so that running tasks
        # show their progress (when its backend is shared, such as Redis, with the workers)
        return Litestar(plugins=[channels, plugin], logging_config=None)
    return Litestar(plugins=[plugin], logging_config=None)


def serve(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    username: str = "admin",
    password: str | None = None,
    poll_interval: float = 2.0,
) -> None:
    """Serve the standalone dashboard with uvicorn until SIGINT or SIGTERM.

    Raises:
        QueueConfigurationError: As :func:`standalone_app`.
    """
    app = standalone_app(target, host=host, username=username, password=password, poll_interval=poll_interval)
    config = app.plugins.get(QueuePlugin).config
    backend = config.queue_backend
    shown = redact_url(backend) if isinstance(backend, str) else type(backend).__name__
    where = f"[{host}]" if ":" in host else host
    logger.warning(
        "dashboard of %s on http://%s:%d/ (%s)",
        shown,
        where,
        port,
        "basic auth" if password else "loopback requests only",
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", ws="none", lifespan="on")
