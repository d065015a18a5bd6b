"""The dashboard's actions: each asks for confirmation, goes through the service and is logged.

Without JavaScript an action button opens a confirmation page (``GET /confirm/<action>``)
whose form posts the action; with JavaScript the script asks with a dialog and posts it
itself. Either way the ``POST /actions/<action>`` handler checks that the request comes from
the dashboard's own pages (:func:`~litestar_queues_litestar.dashboard.access.cross_origin_problem`),
checks every field before anything changes (a bad one is a 400), calls the service and logs
what was done, and by whom, on the ``litestar_queues.admin`` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath  # noqa: TC002 - Litestar reads handler annotations at run time

from litestar_queues._admin_limits import limit_lines
from litestar_queues.exceptions import (
    QueueConfigurationError,
    QueueLimitError,
    ScheduleNotFoundError,
    TaskNotFoundError,
)
from litestar_queues.models import ALL_STATUSES, RETRYABLE_STATUSES
from litestar_queues_litestar.dashboard._state import NO_STORE, dashboard_of, parse_task_id, wants_fragment
from litestar_queues_litestar.dashboard.access import basic_auth_user, cross_origin_problem
from litestar_queues_litestar.dashboard.limit_form import LIMIT_FIELDS, limit_from_form

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from litestar_queues import QueueService
    from litestar_queues_litestar.dashboard._state import Dashboard

__all__ = ("ACTIONS", "Action", "act", "confirm_page")

logger = logging.getLogger("litestar_queues.admin")

_PURGEABLE = tuple(s for s in ALL_STATUSES if s != "running")
_OF_A_QUEUE = ("pause", "resume", "set_limit", "clear_limit")


@dataclass(frozen=True, slots=True)
class Action:
    """One action: its fields, its confirmation question, and what it does through the service.

    Attributes:
        name: The name in its URLs (``/confirm/<name>``, ``/actions/<name>``).
        label: The button's text.
        fields: The form fields it takes.
        question: The confirmation question, from the checked fields.
        run: Does it; returns the sentence the operator sees (and the log records).
    """

    name: str
    label: str
    fields: tuple[str, ...]
    question: Callable[[Mapping[str, str]], str]
    run: Callable[[QueueService, Mapping[str, str]], Awaitable[str]]


def _scope(fields: Mapping[str, str]) -> str:
    parts = []
    if fields.get("queue"):
        parts.append(f"queue {fields['queue']}")
    if fields.get("task"):
        parts.append(f"task {fields['task']}")
    return f" of {' and '.join(parts)}" if parts else " of every queue"


async def _retry(service: QueueService, fields: Mapping[str, str]) -> str:
    task_id = fields["task_id"]
    before = (await service.get_task(task_id)).status
    after = await service.retry(task_id)
    if before not in RETRYABLE_STATUSES:
        return f"task {task_id} is already {after.status}: not retried again"
    return f"task {task_id} was {before}: requeued, now {after.status}"


async def _cancel(service: QueueService, fields: Mapping[str, str]) -> str:
    task_id = fields["task_id"]
    before = (await service.get_task(task_id)).status
    after = await service.cancel(task_id)
    if before != after.status:
        return f"task {task_id} was {before}: now {after.status}"
    return f"task {task_id} is already {after.status}: nothing to cancel"


def _names(value: str) -> list[str] | None:
    return [value] if value else None


async def _retry_failed(service: QueueService, fields: Mapping[str, str]) -> str:
    retried = await service.retry_failed(queues=_names(fields["queue"]), task_names=_names(fields["task"]))
    return f"requeued {len(retried)} failed task(s){_scope(fields)}"


async def _purge(service: QueueService, fields: Mapping[str, str]) -> str:
    statuses = fields["statuses"].split(",")
    deleted = await service.purge(
        statuses=statuses, queues=_names(fields["queue"]), task_names=_names(fields["task"])
    )
    return f"deleted {deleted} task(s) with status {', '.join(statuses)}{_scope(fields)}"


async def _pause(service: QueueService, fields: Mapping[str, str]) -> str:
    await service.pause(fields["queue"])
    return f"queue {fields['queue']} paused: workers claim nothing from it until it is resumed"


async def _resume(service: QueueService, fields: Mapping[str, str]) -> str:
    await service.resume(fields["queue"])
    return f"queue {fields['queue']} resumed"


async def _set_limit(service: QueueService, fields: Mapping[str, str]) -> str:
    # the CLIs' own lines: the same words whichever way the limit was set
    return "; ".join(await limit_lines(service, fields["queue"], limit_from_form(fields)))


async def _clear_limit(service: QueueService, fields: Mapping[str, str]) -> str:
    if fields["queue"] not in await service.limits():
        return f"queue {fields['queue']} has no limit: nothing to remove"
    return "; ".join(await limit_lines(service, fields["queue"], None))


async def _pause_schedule(service: QueueService, fields: Mapping[str, str]) -> str:
    await service.pause_schedule(fields["name"])
    return f"schedule {fields['name']} paused: its due times pass without firing until it is resumed"


async def _resume_schedule(service: QueueService, fields: Mapping[str, str]) -> str:
    info = await service.resume_schedule(fields["name"])
    fire = info.next_fire.isoformat(timespec="seconds") if info.next_fire is not None else "-"
    return f"schedule {fields['name']} resumed: next fire {fire}"


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("retry", "Retry", ("task_id",), lambda f: f"Run task {f['task_id']} again?", _retry),
        Action("cancel", "Cancel", ("task_id",), lambda f: f"Cancel task {f['task_id']}?", _cancel),
        Action(
            "retry_failed",
            "Retry failed",
            ("queue", "task"),
            lambda f: f"Run every failed task{_scope(f)} again?",
            _retry_failed,
        ),
        Action(
            "purge",
            "Purge",
            ("statuses", "queue", "task"),
            lambda f: (
                f"Delete every task with status {f['statuses']}{_scope(f)}, "
                "with its results and history, for good?"
            ),
            _purge,
        ),
        Action(
            "pause",
            "Pause",
            ("queue",),
            lambda f: f"Pause queue {f['queue']}? Workers claim nothing from it until it is resumed.",
            _pause,
        ),
        Action("resume", "Resume", ("queue",), lambda f: f"Resume queue {f['queue']}?", _resume),
        Action(
            "set_limit",
            "Set limit",
            ("queue", *LIMIT_FIELDS),
            lambda f: (
                f"Set the limit of queue {f['queue']} to {limit_from_form(f).describe()}, "
                "across every worker? It replaces the queue's current limit."
            ),
            _set_limit,
        ),
        Action(
            "clear_limit",
            "Remove limit",
            ("queue",),
            lambda f: f"Remove the limit of queue {f['queue']}? Its tasks then start without a cap or rate.",
            _clear_limit,
        ),
        Action(
            "pause_schedule",
            "Pause",
            ("name",),
            lambda f: f"Pause schedule {f['name']}? Its due times pass without firing until it is resumed.",
            _pause_schedule,
        ),
        Action(
            "resume_schedule",
            "Resume",
            ("name",),
            lambda f: f"Resume schedule {f['name']}?",
            _resume_schedule,
        ),
    )
}
"""Every action, by name."""


def _action(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise NotFoundException(detail=f"unknown action {name!r}: one of {', '.join(ACTIONS)}")
    return action


def _checked(action: Action, given: Mapping[str, Any]) -> dict[str, str]:
    """The action's fields, checked before anything changes.

    Raises:
        ClientException: A field is missing or malformed (400).
    """
    fields = {name: str(given.get(name) or "").strip() for name in action.fields}
    if "task_id" in fields:
        fields["task_id"] = str(parse_task_id(fields["task_id"]))
    if "queue" in fields and action.name in _OF_A_QUEUE and not fields["queue"]:
        raise ClientException(detail=f"{action.name.replace('_', ' ')} needs the queue's name")
    if "concurrency" in fields:
        try:
            limit_from_form(fields)
        except QueueLimitError as exc:
            raise ClientException(detail=str(exc)) from None
    if "name" in fields and not fields["name"]:
        raise ClientException(detail=f"{action.name.replace('_', ' ')} needs the schedule's name")
    if "statuses" in fields:
        statuses = [s.strip() for s in fields["statuses"].split(",") if s.strip()]
        wrong = [s for s in statuses if s not in _PURGEABLE]
        if not statuses or wrong:
            raise ClientException(
                detail=f"purge takes statuses among {', '.join(_PURGEABLE)}"
                + (f", not {', '.join(repr(s) for s in wrong)}" if wrong else "")
                + " (running tasks cannot be purged: cancel them first)"
            )
        fields["statuses"] = ",".join(statuses)
    return fields


async def _check_exists(service: QueueService, fields: Mapping[str, str]) -> None:
    """Ask to confirm only what exists.

    Raises:
        NotFoundException: The task or schedule the fields name does not exist (404).
    """
    if "task_id" in fields:
        try:
            await service.get_task(fields["task_id"])
        except TaskNotFoundError as exc:
            raise NotFoundException(detail=str(exc)) from None
    if "name" in fields and fields["name"] not in {info.name for info in await service.schedules()}:
        raise NotFoundException(detail=str(ScheduleNotFoundError(fields["name"])))


def _next(dashboard: Dashboard, value: object) -> str:
    """Where to go back to: a page of this dashboard, never another site."""
    base = dashboard.config.url()
    text = str(value or "")
    if text.startswith(base) and not text.startswith("//") and "\\" not in text:
        return text
    return base


@get("/confirm/{action_name:str}", include_in_schema=False)
async def confirm_page(request: Request[Any, Any, Any], action_name: FromPath[str]) -> Response[str]:
    """The confirmation page of an action, with the form that posts it (works without JavaScript)."""
    dashboard = dashboard_of(request)
    action = _action(action_name)
    fields = _checked(action, request.query_params)
    await _check_exists(dashboard.service, fields)
    return dashboard.page(
        request,
        "confirm.html",
        action=action,
        fields=fields,
        question=action.question(fields),
        back=_next(dashboard, request.query_params.get("next")),
    )


def _who(request: Request[Any, Any, Any]) -> str:
    client = request.client.host if request.client is not None else "unknown client"
    user = request.scope.get("user")
    if user is None:
        credentials = basic_auth_user(request.headers.get("authorization"))
        user = credentials[0] if credentials is not None else None
    return f"{client}, user {str(user)[:80]}" if user is not None else client


@post("/actions/{action_name:str}", status_code=200, include_in_schema=False)
async def act(request: Request[Any, Any, Any], action_name: FromPath[str]) -> Response[str]:
    """Do an action posted by the dashboard's own pages, then say what was done.

    Raises:
        PermissionDeniedException: The request may come from another site (403, nothing changed).
        ClientException: A field is missing or malformed, or the service refused (400).
        NotFoundException: The action, task or schedule does not exist (404).
    """
    dashboard = dashboard_of(request)
    problem = cross_origin_problem(request.headers, trusted_origins=dashboard.config.trusted_origins)
    if problem is not None:
        logger.warning("dashboard: refused %s from %s: %s", action_name, _who(request), problem)
        raise PermissionDeniedException(detail=problem)
    action = _action(action_name)
    form = await request.form()
    fields = _checked(action, form)
    try:
        message = await action.run(dashboard.service, fields)
    except (TaskNotFoundError, ScheduleNotFoundError) as exc:
        raise NotFoundException(detail=str(exc)) from None
    except QueueConfigurationError as exc:
        raise ClientException(detail=str(exc)) from None
    logger.info("dashboard: %s (%s by %s)", message, action.name, _who(request))
    back = _next(dashboard, form.get("next"))
    if wants_fragment(request):
        html = dashboard.templates.render("_flash.html", message=message, kind="ok")
        return Response(html, media_type=MediaType.HTML, headers=NO_STORE)
    return dashboard.page(request, "done.html", message=message, back=back)
