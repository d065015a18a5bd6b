"""``DashboardConfig``: where the dashboard is mounted, who may see it, what it hides."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues_litestar.dashboard.redaction import default_redact

if TYPE_CHECKING:
    from litestar.types import Guard

    from litestar_queues_litestar.dashboard.redaction import Redactor

__all__ = ("DashboardConfig",)


@dataclass(kw_only=True, slots=True)
class DashboardConfig:
    """The web dashboard that ``QueuePlugin(config, dashboard=DashboardConfig(...))`` mounts.

    With ``guards`` the dashboard serves whoever passes them (Litestar guards, as on any
    route). Without guards it serves only requests that reach the server on a loopback address
    (``127.0.0.1``, ``::1``) under a loopback host name, and refuses every other one with 403
    and a message naming the fix; the app logs a warning at start-up.

    Attributes:
        path: Where the pages are mounted (``/queues``: ``/queues/``, ``/queues/tasks``...).
        guards: Litestar guards every page, fragment and action goes through.
        redact: Hook that hides secrets in arguments, metadata, results and event payloads
            before they are shown (default: values under secret-looking keys and passwords in
            URLs; ``None`` shows everything as stored).
        poll_interval: Seconds between two refreshes of the live parts of a page.
        page_size: Tasks per page of the task list (1 to 1000).
        title: Shown in the header and the browser tab.
        trusted_origins: Origins (``https://admin.example.com``) allowed to post actions
            besides the dashboard's own host, for a proxy that rewrites the ``Host`` header.
        progress_events: Events kept per running task for its page (latest last).
    """

    path: str = "/queues"
    guards: Sequence[Guard] = ()
    redact: Redactor | None = default_redact
    poll_interval: float = 2.0
    page_size: int = 50
    title: str = "litestar-queues"
    trusted_origins: Sequence[str] = ()
    progress_events: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise QueueConfigurationError(f"DashboardConfig.path must start with '/', got {self.path!r}")
        self.path = self.path.rstrip("/") or "/"
        guards: object = self.guards
        if isinstance(guards, str | bytes) or not isinstance(guards, Sequence):
            raise QueueConfigurationError("DashboardConfig.guards must be a list of Litestar guards")
        for guard in self.guards:
            if not callable(guard):
                raise QueueConfigurationError(
                    f"DashboardConfig.guards holds {guard!r}, which is not callable"
                )
        self.guards = tuple(self.guards)
        if self.redact is not None and not callable(self.redact):
            raise QueueConfigurationError("DashboardConfig.redact must be a function (field, value) -> value")
        poll = self.poll_interval
        if (
            isinstance(poll, bool)
            or not isinstance(poll, int | float)
            or not math.isfinite(poll)
            or poll <= 0
        ):
            raise QueueConfigurationError(f"DashboardConfig.poll_interval must be > 0 seconds, got {poll!r}")
        size = self.page_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
            raise QueueConfigurationError(f"DashboardConfig.page_size must be 1 to 1000, got {size!r}")
        if isinstance(self.progress_events, bool) or not isinstance(self.progress_events, int):
            raise QueueConfigurationError("DashboardConfig.progress_events must be a whole number")
        self.trusted_origins = tuple(o.rstrip("/").lower() for o in self.trusted_origins)

    @property
    def guarded(self) -> bool:
        """Whether guards decide access (else only loopback requests are served)."""
        return bool(self.guards)

    def url(self, suffix: str = "") -> str:
        """The absolute path of ``suffix`` under the dashboard (``url("tasks")`` is ``/queues/tasks``)."""
        base = "" if self.path == "/" else self.path
        return f"{base}/{suffix.lstrip('/')}"
