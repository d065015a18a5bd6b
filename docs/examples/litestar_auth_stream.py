"""A worked example: a guarded WebSocket that streams only the caller's own tasks."""

from typing import Any
from uuid import UUID

import anyio
from litestar import Litestar, Request, post, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import ASGIConnection, WebSocket
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect, WebSocketException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, QueueService, TaskNotFoundError, task
from litestar_queues.events import QueueChannels, QueueEventConfig, publish_task_progress, stream_queue_events

# stand-in for a real authentication backend: token -> user
TOKENS = {"alice-token": "alice", "bob-token": "bob"}


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    # browsers cannot set headers on a WebSocket: accept the token as a query parameter too
    token = connection.headers.get("x-token") or connection.query_params.get("token", "")
    user = TOKENS.get(token)
    if user is None:
        raise NotAuthorizedException("unknown or missing token")
    return user


def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    current_user(connection)


async def owns_task(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # a WebSocketException sets the close code (4401/4403 mirror HTTP 401/403)
    try:
        user = current_user(connection)
    except NotAuthorizedException:
        raise WebSocketException(detail="unknown or missing token", code=4401) from None
    service = connection.app.plugins.get(QueuePlugin).service
    try:
        result = await service.get_task(connection.path_params["task_id"])
    except TaskNotFoundError:
        result = None  # answer as for someone else's task: do not reveal which ids exist
    if result is None or result.record.metadata.get("owner") != user:
        raise WebSocketException(detail="not your task", code=4403)


@task("exports.build")
async def build_export(owner: str) -> str:
    for part in range(1, 4):
        await anyio.sleep(0.01)
        await publish_task_progress(current=part, total=3, message=f"part {part}")
    return f"export of {owner}"


@post("/exports", guards=[authenticated])
async def create_export(
    request: Request[Any, Any, Any], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    owner = current_user(request)
    result = await queue_service.enqueue(build_export, owner, metadata={"owner": owner})
    return {"task_id": str(result.id)}


@websocket("/exports/{task_id:uuid}/events", guards=[owns_task])
async def export_events(socket: WebSocket, task_id: FromPath[UUID]) -> None:
    # the guard ran before the socket was accepted; history replays what happened before.
    # task_id is parsed as a UUID: an uppercase or dashless id names the same channel
    await stream_queue_events(socket, [QueueChannels.task(task_id)], history=100)


channels = ChannelsPlugin(MemoryChannelsBackend(history=100), arbitrary_channels_allowed=True)
app = Litestar(
    [create_export, export_events],
    plugins=[
        channels,
        QueuePlugin(QueueConfig(event_config=QueueEventConfig(enabled=True, channels_backend=channels))),
    ],
)


def main() -> None:
    with TestClient(app=app) as client:
        task_id = client.post("/exports", headers={"x-token": "alice-token"}).json()["task_id"]
        shouted = task_id.replace("-", "").upper()  # the same id, written differently: same stream
        with client.websocket_connect(f"/exports/{shouted}/events?token=alice-token") as ws:
            types = []
            while not types or types[-1] != "task.completed":
                types.append(ws.receive_json(timeout=10)["type"])
        print("alice sees:", types)

        for token in ("bob-token", "nobody"):
            try:
                with client.websocket_connect(f"/exports/{task_id}/events?token={token}") as ws:
                    ws.receive_json(timeout=10)
            except WebSocketDisconnect as exc:
                print(f"{token} is refused: code {exc.code}, {exc.detail}")
        print("anonymous POST:", client.post("/exports").status_code)


if __name__ == "__main__":
    main()
