"""Tasks the CLI tests' apps run, in one importable module (the worker subprocess imports it too)."""

import anyio

from litestar_queues import non_retryable, task
from litestar_queues.events import publish_task_log


@task("lt.cli.record")
async def record(path: str, number: int, delay: float) -> int:
    """Sleep, then append ``number`` to the file at ``path`` (one line per execution)."""
    await anyio.sleep(delay)
    async with await anyio.open_file(path, "a") as log:
        await log.write(f"{number}\n")
    return number


@task("lt.cli.boom")
async def boom() -> None:
    non_retryable("boom")


@task("lt.cli.announce")
async def announce(name: str) -> str:
    """Publish a log event, then return ``name``."""
    await publish_task_log(f"hello {name}", payload={"name": name})
    return name
