"""The live parts of the pages, as HTML fragments the dashboard's script polls and swaps in."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.params import FromPath  # noqa: TC002 - Litestar reads handler annotations at run time

from litestar_queues_litestar.dashboard._state import NO_STORE, dashboard_of
from litestar_queues_litestar.dashboard.filters import TaskFilters
from litestar_queues_litestar.dashboard.overview import read_overview
from litestar_queues_litestar.dashboard.views import task_context, tasks_context

__all__ = ("queues_fragment", "schedules_fragment", "task_fragment", "tasks_fragment")


def _fragment(request: Request[Any, Any, Any], template: str, **values: Any) -> Response[str]:
    dashboard = dashboard_of(request)
    html = dashboard.templates.render(template, **dashboard.context(request, **values))
    return Response(html, media_type=MediaType.HTML, headers=NO_STORE)


@get("/fragments/queues", include_in_schema=False)
async def queues_fragment(request: Request[Any, Any, Any]) -> Response[str]:
    """The queues table, the workers and their running tasks."""
    overview = await read_overview(dashboard_of(request).service)
    return _fragment(request, "_queues.html", overview=overview)


@get("/fragments/tasks", include_in_schema=False)
async def tasks_fragment(request: Request[Any, Any, Any]) -> Response[str]:
    """The rows of the task list for the same filters and page as the page around it."""
    values = await tasks_context(dashboard_of(request), TaskFilters.from_query(request.query_params))
    return _fragment(request, "_tasks.html", **values)


@get("/fragments/tasks/{task_id:str}", include_in_schema=False)
async def task_fragment(request: Request[Any, Any, Any], task_id: FromPath[str]) -> Response[str]:
    """One task's state, progress, recent events, result and attempts."""
    values = await task_context(dashboard_of(request), task_id)
    return _fragment(request, "_task.html", **values)


@get("/fragments/schedules", include_in_schema=False)
async def schedules_fragment(request: Request[Any, Any, Any]) -> Response[str]:
    """The schedules table."""
    schedules = await dashboard_of(request).service.schedules()
    return _fragment(request, "_schedules.html", schedules=schedules)
