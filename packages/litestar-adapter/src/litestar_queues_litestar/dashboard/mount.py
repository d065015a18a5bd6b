"""Mounting a dashboard on an app: its router, and a lifespan that follows task events and warns if open."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar.channels import ChannelsPlugin

from litestar_queues_litestar.dashboard._state import Dashboard
from litestar_queues_litestar.dashboard.actions import ACTIONS
from litestar_queues_litestar.dashboard.progress import ProgressWatch
from litestar_queues_litestar.dashboard.router import build_router, static_version
from litestar_queues_litestar.dashboard.templates import load_templates

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from litestar import Litestar, Router

    from litestar_queues import QueueConfig, QueueService
    from litestar_queues_litestar.dashboard.config import DashboardConfig

__all__ = ("DashboardMount",)

logger = logging.getLogger("litestar_queues.litestar")

EVENTS_OFF = (
    "live progress needs task events: QueueEventConfig(enabled=True, channels_backend=<the app's "
    "ChannelsPlugin>) publishes them where the dashboard can follow them"
)
NOT_CHANNELS = (
    "live progress reads task events from the app's ChannelsPlugin, and events go elsewhere: set "
    "QueueEventConfig(channels_backend=<the app's ChannelsPlugin>)"
)


class DashboardMount:
    """One dashboard on one app, built by ``QueuePlugin`` from a :class:`DashboardConfig`.

    Args:
        config: The dashboard's configuration.
        queue_config: The queue configuration (where events go, the backend shown in the header).
        service: Returns the app's open queue service.

    Raises:
        ExtraNotInstalledError: Jinja2 (the ``dashboard`` extra) is not installed.
    """

    __slots__ = ("config", "dashboard", "queue_config")

    def __init__(
        self, config: DashboardConfig, queue_config: QueueConfig, service: Callable[[], QueueService]
    ) -> None:
        self.config = config
        self.queue_config = queue_config
        self.dashboard = Dashboard(
            config,
            load_templates({"actions": ACTIONS}),
            ProgressWatch(keep_events=config.progress_events),
            service,
            queue_config.queue_backend,
            static_version(),
        )

    def router(self) -> Router:
        """The router to register on the app."""
        return build_router(self.config, self.dashboard)

    def event_channels(self, app: Litestar) -> tuple[ChannelsPlugin | None, str | None]:
        """The Channels plugin task events reach this app through, or ``None`` and why not."""
        events = self.queue_config.event_config
        if events is None or not events.enabled:
            return None, EVENTS_OFF
        target = events.channels_backend
        if isinstance(target, ChannelsPlugin):
            return target, None
        try:
            plugin = app.plugins.get(ChannelsPlugin)
        except KeyError:
            return None, NOT_CHANNELS
        return (plugin, None) if target is not None and plugin._backend is target else (None, NOT_CHANNELS)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Warn when unguarded; follow the event channels of open task pages while the app runs."""
        if not self.config.guarded:
            logger.warning(
                "the queue dashboard at %s has no guards: it serves only requests to a server bound to "
                "127.0.0.1 or ::1 and refuses every other one with 403; add "
                "DashboardConfig(guards=[...]) to serve it to others",
                self.config.url(),
            )
        channels, unavailable = self.event_channels(app)
        async with self.dashboard.progress.running(channels, unavailable):
            yield
