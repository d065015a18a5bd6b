"""The dashboard mounted by QueuePlugin: guarded, with progress from Channels and a redaction hook."""

import os
from typing import Any

from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, task
from litestar_queues.events import QueueEventConfig, publish_task_progress
from litestar_queues_litestar.dashboard import DEFAULT_SECRET_KEYS, DashboardConfig, KeyRedactor


@task("reports.build")
async def build_report(customer: str, api_token: str) -> str:
    for page in range(1, 4):
        await publish_task_progress(page, 3, message=f"page {page}")
    return f"report for {customer}"


def operators_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Your app's own rule; here a header, in your app the user your auth middleware set."""
    if connection.headers.get("x-operator-token") != os.environ.get("OPERATOR_TOKEN", "let-me-in"):
        raise NotAuthorizedException(detail="operators only")


channels = ChannelsPlugin(MemoryChannelsBackend(history=20), arbitrary_channels_allowed=True)
config = QueueConfig(
    queue_backend=os.environ.get("QUEUE_URL", "sqlite:///queue.db"),
    event_config=QueueEventConfig(enabled=True, channels_backend=channels),  # live progress
)
dashboard = DashboardConfig(
    path="/queues",
    guards=[operators_only],
    redact=KeyRedactor((*DEFAULT_SECRET_KEYS, "customer")),  # also hide customers' names
    poll_interval=2.0,
)
app = Litestar(plugins=[channels, QueuePlugin(config, dashboard=dashboard)])


if __name__ == "__main__":
    with TestClient(app, base_url="http://10.0.0.5") as client:
        plugin = client.app.plugins.get(QueuePlugin)
        with client.portal() as portal:
            handle = portal.call(lambda: plugin.service.enqueue(build_report, "ACME", api_token="t0k3n"))
            portal.call(lambda: handle.wait(timeout=10))
        print("anonymous:", client.get("/queues/").status_code)
        page = client.get(f"/queues/tasks/{handle.id}", headers={"x-operator-token": "let-me-in"})
        print("operator:", page.status_code, handle.status)
        print(
            "token shown:", "t0k3n" in page.text, "| customer shown:", "customer&#34;: &#34;ACME" in page.text
        )
