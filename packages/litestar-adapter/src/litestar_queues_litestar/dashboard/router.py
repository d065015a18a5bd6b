"""The dashboard's Litestar router: pages, fragments, actions and static files behind the guards."""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Request, Response, Router, get
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath  # noqa: TC002 - Litestar reads handler annotations at run time

from litestar_queues.exceptions import (
    QueueConfigurationError,
    QueueError,
    ScheduleNotFoundError,
    TaskNotFoundError,
)
from litestar_queues_litestar.dashboard import actions, fragments, views
from litestar_queues_litestar.dashboard._state import (
    NO_STORE,
    STATE_KEY,
    Dashboard,
    dashboard_of,
    wants_fragment,
)
from litestar_queues_litestar.dashboard.access import loopback_guard

if TYPE_CHECKING:
    from litestar_queues_litestar.dashboard.config import DashboardConfig

__all__ = ("STATIC_FILES", "build_router", "static_version")

logger = logging.getLogger("litestar_queues.litestar")

STATIC_FILES = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
"""The files under ``/static/``: plain JavaScript and CSS shipped in the package (no build step, no CDN)."""

_STATIC: dict[str, bytes] = {}

SECURITY_HEADERS = (
    # scripts and styles from the dashboard only; no framing (clickjacking of the confirm pages);
    # a Referer on same-origin requests, which the action check falls back on
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
)


def _static(name: str) -> bytes:
    if name not in _STATIC:
        _STATIC[name] = (
            resources.files("litestar_queues_litestar.dashboard").joinpath("static", name).read_bytes()
        )
    return _STATIC[name]


def static_version() -> str:
    """A short hash of the static files, appended to their URLs so a new release is fetched anew."""
    digest = hashlib.sha256()
    for name in sorted(STATIC_FILES):
        digest.update(_static(name))
    return digest.hexdigest()[:12]


@get("/static/{name:str}", include_in_schema=False)
async def static_file(name: FromPath[str]) -> Response[bytes]:
    """One of :data:`STATIC_FILES`."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFoundException(detail=f"no static file {name!r}")
    return Response(_static(name), media_type=media_type, headers={"Cache-Control": "max-age=86400"})


def _error_response(
    request: Request[Any, Any, Any], status_code: int, message: str, headers: Any
) -> Response[str]:
    dashboard = dashboard_of(request)
    if wants_fragment(request):
        html = dashboard.templates.render("_flash.html", message=message, kind="error")
        response = Response(html, media_type=MediaType.HTML, status_code=status_code, headers=NO_STORE)
    else:
        response = dashboard.page(request, "error.html", status_code=status_code, message=message)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    if exc.status_code >= 500:
        logger.error("dashboard: %s %s failed: %s", request.method, request.url.path, exc.detail)
    return _error_response(request, exc.status_code, str(exc.detail), exc.headers)


def _queue_error(request: Request[Any, Any, Any], exc: QueueError) -> Response[str]:
    if isinstance(exc, TaskNotFoundError | ScheduleNotFoundError):
        return _error_response(request, 404, str(exc), None)
    if isinstance(exc, QueueConfigurationError):
        return _error_response(request, 400, str(exc), None)
    logger.error("dashboard: %s %s failed: %r", request.method, request.url.path, exc)
    return _error_response(request, 503, f"the queue backend failed: {exc}", None)


def build_router(config: DashboardConfig, dashboard: Dashboard) -> Router:
    """The router of one dashboard: every route behind ``config.guards`` (else the loopback rule)."""
    guards = list(config.guards) if config.guarded else [loopback_guard]
    return Router(
        path=config.path,
        route_handlers=[
            views.queues_page,
            views.tasks_page,
            views.task_page,
            views.schedules_page,
            fragments.queues_fragment,
            fragments.tasks_fragment,
            fragments.task_fragment,
            fragments.schedules_fragment,
            actions.confirm_page,
            actions.act,
            static_file,
        ],
        guards=guards,
        # actions check their origin themselves (see actions.py): an app-wide CSRFConfig would
        # refuse their forms, which carry no Litestar CSRF token
        opt={STATE_KEY: dashboard, "exclude_from_csrf": True},
        exception_handlers={HTTPException: _http_error, QueueError: _queue_error},
        response_headers=list(SECURITY_HEADERS),
        include_in_schema=False,
    )
