"""The dashboard's shared state, reached by every handler through its route's ``opt``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Response
from litestar.exceptions import ClientException

from litestar_queues_litestar.dashboard.redaction import mask_url_passwords, redact_field, redact_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar import Request

    from litestar_queues import QueueService
    from litestar_queues_litestar.dashboard.config import DashboardConfig
    from litestar_queues_litestar.dashboard.progress import ProgressWatch
    from litestar_queues_litestar.dashboard.templates import Templates

STATE_KEY = "litestar_queues_dashboard"
"""The key of :class:`Dashboard` in the ``opt`` of every dashboard route."""

FETCH_HEADER = "x-dashboard-fetch"
"""Sent by the dashboard's script: the answer is an HTML fragment, not a page."""

NO_STORE = {"Cache-Control": "no-store"}


class Dashboard:
    """What the handlers share: config, templates, progress watch and the way to the service."""

    __slots__ = ("_service", "backend_label", "config", "progress", "static_version", "templates")

    def __init__(
        self,
        config: DashboardConfig,
        templates: Templates,
        progress: ProgressWatch,
        service: Callable[[], QueueService],
        backend: object,
        static_version: str,
    ) -> None:
        self.config = config
        self.templates = templates
        self.progress = progress
        self._service = service
        self.backend_label = redact_url(backend) if isinstance(backend, str) else type(backend).__name__
        self.static_version = static_version

    def __deepcopy__(self, memo: dict[int, Any]) -> Dashboard:
        # Litestar deep-copies a Router when it is registered: one state per dashboard, never copied
        return self

    @property
    def service(self) -> QueueService:
        """The open queue service (raises ``NoActiveServiceError`` outside the app's lifespan)."""
        return self._service()

    def redact(self, field: str, value: Any) -> Any:
        """``value`` as the redact hook lets it be shown."""
        return redact_field(self.config.redact, field, value)

    def text(self, value: str | None) -> str:
        """An error, traceback or message as shown: passwords in URLs masked (unless redaction is off)."""
        if value is None:
            return ""
        return value if self.config.redact is None else mask_url_passwords(value)

    def context(self, request: Request[Any, Any, Any], **values: Any) -> dict[str, Any]:
        """The variables every template gets, plus ``values``."""
        return {
            "base": self.config.url().rstrip("/"),
            "title": self.config.title,
            "poll_ms": int(self.config.poll_interval * 1000),
            "backend": self.backend_label,
            "static_version": self.static_version,
            "now": datetime.now(UTC),
            "redact": self.redact,
            "text": self.text,
            "progress_unavailable": self.progress.unavailable,
            "nav": None,
            **values,
        }

    def page(
        self, request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **values: Any
    ) -> Response[str]:
        """Render ``template`` as an HTML response (never cached)."""
        html = self.templates.render(template, **self.context(request, **values))
        return Response(html, media_type=MediaType.HTML, status_code=status_code, headers=NO_STORE)


def dashboard_of(request: Request[Any, Any, Any]) -> Dashboard:
    """The dashboard serving ``request``."""
    dashboard: Dashboard = request.route_handler.opt[STATE_KEY]
    return dashboard


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """Whether the dashboard's script sent the request (it wants a fragment back)."""
    return request.headers.get(FETCH_HEADER) == "1"


def parse_task_id(value: str | None) -> uuid.UUID:
    """A task id from a URL or a form.

    Raises:
        ClientException: It is missing or not a UUID (400, nothing is read or changed).
    """
    if not value:
        raise ClientException(
            detail="a task id is needed (a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e)"
        )
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        shown = value if len(value) <= 60 else f"{value[:60]}..."
        raise ClientException(
            detail=f"malformed task id {shown!r}: a task id is a UUID such as "
            "0f8fad5b-d9cb-469f-a165-70867728950e"
        ) from None
