"""The dashboard's pages: queues, tasks, one task, schedules; each readable with JavaScript off.

Every page embeds the fragment that :mod:`~litestar_queues_litestar.dashboard.fragments`
serves for its live part, so the first render and each refresh show the same HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath  # noqa: TC002 - Litestar reads handler annotations at run time
from litestar.response import Redirect

from litestar_queues.exceptions import TaskNotFoundError
from litestar_queues.models import ALL_STATUSES
from litestar_queues_litestar.dashboard._state import dashboard_of, parse_task_id
from litestar_queues_litestar.dashboard.filters import SINCE_CHOICES, TaskFilters
from litestar_queues_litestar.dashboard.limit_form import form_values
from litestar_queues_litestar.dashboard.overview import read_overview

if TYPE_CHECKING:
    from litestar_queues_litestar.dashboard._state import Dashboard

__all__ = ("queues_page", "schedules_page", "task_context", "task_page", "tasks_context", "tasks_page")


async def tasks_context(dashboard: Dashboard, filters: TaskFilters) -> dict[str, Any]:
    """The variables of the task list (page and fragment)."""
    page = await filters.page(dashboard.service, limit=dashboard.config.page_size)
    return {"filters": filters, "tasks": [h.record for h in page.tasks], "next_cursor": page.next_cursor}


async def task_context(dashboard: Dashboard, raw_id: str) -> dict[str, Any]:
    """The variables of one task's page and fragment: the record and its live progress.

    Raises:
        ClientException: The id is malformed (400).
        NotFoundException: No task has that id (404).
    """
    task_id = parse_task_id(raw_id)
    try:
        record = (await dashboard.service.get_task(task_id)).record
    except TaskNotFoundError:
        raise NotFoundException(detail=f"no task has the id {task_id}: it may have been purged") from None
    progress = dashboard.progress.look(str(record.id), running=record.status == "running")
    return {"task": record, "progress": progress}


@get("/", include_in_schema=False)
async def queues_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Queues: counts per status, pause state, limit, lag, last hour's throughput, workers and what they run.

    Below them, the form that sets a queue's limit (any queue, one without tasks too);
    ``?limit=QUEUE`` fills it in with that queue's name and current limit.
    """
    dashboard = dashboard_of(request)
    overview = await read_overview(dashboard.service)
    chosen = str(request.query_params.get("limit") or "").strip()
    current = next((q.limit for q in overview.queues if q.name == chosen), None)
    limit_form = {"queue": chosen, **form_values(current)}
    return dashboard.page(request, "queues.html", nav="queues", overview=overview, limit_form=limit_form)


@get("/tasks", include_in_schema=False)
async def tasks_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """Tasks: filtered by queue, status, task name, dedup key and time, a keyset page at a time."""
    dashboard = dashboard_of(request)
    wanted = str(request.query_params.get("id") or "").strip()
    if wanted:
        return Redirect(dashboard.config.url(f"tasks/{parse_task_id(wanted)}"), status_code=303)
    filters = TaskFilters.from_query(request.query_params)
    values = await tasks_context(dashboard, filters)
    return dashboard.page(
        request, "tasks.html", nav="tasks", statuses=ALL_STATUSES, since_choices=SINCE_CHOICES, **values
    )


@get("/tasks/{task_id:str}", include_in_schema=False)
async def task_page(request: Request[Any, Any, Any], task_id: FromPath[str]) -> Response[str]:
    """One task: arguments, metadata, result, every kept attempt with its traceback, live progress."""
    dashboard = dashboard_of(request)
    values = await task_context(dashboard, task_id)
    return dashboard.page(request, "task.html", nav="tasks", **values)


@get("/schedules", include_in_schema=False)
async def schedules_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Schedules: definition, state, last and next fire; pause and resume."""
    dashboard = dashboard_of(request)
    schedules = await dashboard.service.schedules()
    return dashboard.page(request, "schedules.html", nav="schedules", schedules=schedules)
