"""The app the browser tests drive: a real backend, an in-app worker, task events through Channels.

Tasks: ``dash.charge`` fails at its first run (a declined card) and succeeds when run again;
``dash.report`` reports progress step by step; ``dash.echo`` returns its argument. Routes under
``/test/`` (outside the dashboard and its guard) enqueue them, as the app's own handlers would,
and read the stored limits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
from litestar import Litestar, get, post
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.di import NamedDependency  # noqa: TC002 - Litestar reads handler annotations at run time
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, JSONBody  # noqa: TC002

from litestar_queues import (
    QueueConfig,
    QueueLimit,
    QueueService,
    Schedule,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.events import QueueEventConfig, publish_task_progress
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import DashboardConfig

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

SESSION_COOKIE, SESSION = "ops_session", "s3cr3t-operator-session"
"""The cookie the app's login would set: the dashboard's guard admits only its holders."""

registry = TaskRegistry()
_declined: set[str] = set()


@task("dash.charge", registry=registry, queue="billing")
async def charge(order: str, card: dict[str, Any]) -> dict[str, Any]:
    if order not in _declined:
        _declined.add(order)
        raise RuntimeError(f"card declined for order {order}")
    return {"order": order, "charged": True}


@task("dash.report", registry=registry, queue="reports")
async def report(steps: int, pause: float) -> str:
    for step in range(1, steps + 1):
        await anyio.sleep(pause)
        await publish_task_progress(step, steps, message=f"page {step} of {steps}")
    return "done"


@task("dash.echo", registry=registry, queue="mail")
async def echo(text: str) -> str:
    return text


TASKS = {"charge": charge, "report": report, "echo": echo}


@post("/test/enqueue/{name:str}", status_code=200)
async def enqueue(
    name: FromPath[str], data: JSONBody[dict[str, Any]], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    handle = await queue_service.enqueue(TASKS[name], **data)
    return {"id": str(handle.id)}


@get("/test/limits")
async def limits(queue_service: NamedDependency[QueueService]) -> dict[str, str]:
    """What ``service.limits()`` holds, each limit described."""
    return {queue: limit.describe() for queue, limit in (await queue_service.limits()).items()}


def operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The app's own guard: an operator's session cookie, as its login would set it."""
    if connection.cookies.get(SESSION_COOKIE) != SESSION:
        raise NotAuthorizedException(detail="operators only: log in first")


def build_app(queue_url: str) -> Litestar:
    """The app on ``queue_url``: dashboard at /queues for operators, polling every 0.3 s."""
    channels = ChannelsPlugin(MemoryChannelsBackend(history=50), arbitrary_channels_allowed=True)
    config = QueueConfig(
        queue_backend=queue_url,
        registry=registry,
        worker=WorkerConfig(in_app=True, concurrency=4, poll_interval=0.2, heartbeat_interval=1.0),
        event_config=QueueEventConfig(enabled=True, channels_backend=channels),
        # the queues page shows each queue's limit (the in-app worker writes them at start)
        limits={
            "mail": QueueLimit(concurrency=5, rate=60, per=60.0),
            "billing": QueueLimit(key_concurrency=1),
        },
        schedules=[
            Schedule(
                name="hourly-digest",
                task="dash.echo",
                args=["digest"],
                interval=timedelta(hours=1),
                queue="digests",
            )
        ],
    )
    dashboard = DashboardConfig(
        path="/queues", guards=[operator_only], poll_interval=0.3, title="Acme queues"
    )
    # logging_config=None: Litestar would add a root handler bound to the stderr pytest captures now
    return Litestar(
        [enqueue, limits], plugins=[channels, QueuePlugin(config, dashboard=dashboard)], logging_config=None
    )
