"""Migrating from 0.1: ``Task.enqueue`` needs an open service (docs/migrating-from-0.1.md)."""

from __future__ import annotations

import anyio

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.exceptions import NoActiveServiceError


@task("emails.welcome")
async def send_welcome(address: str) -> str:
    return f"welcome sent to {address}"


async def main() -> None:
    try:
        await send_welcome.enqueue("ann@example.com")
    except NoActiveServiceError:
        print("no service open: NoActiveServiceError")

    # what 0.1.0 did behind the scenes, now written out: run inline, at enqueue time
    async with QueueService(QueueConfig(execution_backend="immediate")):
        result = await send_welcome.enqueue("ann@example.com")
    print("inline:", result.status, "|", result.result)
    assert result.status == "completed"


if __name__ == "__main__":
    anyio.run(main)
