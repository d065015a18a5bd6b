"""The application the execution tests run tasks of, in child processes and stand-in containers.

``config`` is the ``--app`` target of ``litestar-queues run-task``: it reads the queue backend URL
from ``LQ_EXECUTION_TEST_URL``, so the child loads the same durable queue as the test's worker.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import anyio

from litestar_queues import Backoff, QueueConfig, WorkerConfig, task

if TYPE_CHECKING:
    from litestar_queues.events import TaskExecutionContext

APP = "tests.execution.app:config"
URL_VARIABLE = "LQ_EXECUTION_TEST_URL"
NO_WAIT = Backoff(initial=0, jitter=0)


def config() -> QueueConfig:
    return QueueConfig(
        queue_backend=os.environ[URL_VARIABLE],
        app=APP,
        worker=WorkerConfig(lease_seconds=5),
    )


@task("execution_tests.where", backoff=NO_WAIT)
async def where(value: int) -> dict[str, int]:
    """Returns the value and the id of the process it ran in."""
    return {"value": value, "pid": os.getpid()}


@task("execution_tests.kill_self", retries=1, backoff=NO_WAIT)
def kill_self() -> None:
    """Dies of SIGKILL, as an OOM kill or a crash in native code would end it."""
    os.kill(os.getpid(), signal.SIGKILL)


@task("execution_tests.kill_first_attempt", retries=1, backoff=NO_WAIT)
async def kill_first_attempt(_task_context: TaskExecutionContext) -> int:
    """Dies of SIGKILL on its first attempt, succeeds on the second."""
    if _task_context.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return _task_context.attempt


@task("execution_tests.hog_memory", retries=1, backoff=NO_WAIT)
def hog_memory(megabytes: int) -> int:
    """Allocates (and touches) ``megabytes`` of memory."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


@task("execution_tests.block_loop", retries=1, timeout=1, backoff=NO_WAIT)
async def block_loop(seconds: float) -> None:
    """Blocks its event loop, so only a kill from outside can stop it at its timeout."""
    time.sleep(seconds)  # blocking on purpose


@task("execution_tests.sleep", retries=1, timeout=1, backoff=NO_WAIT)
def sleep(seconds: float) -> None:
    """Sleeps in a worker thread: the child's own timeout ends the attempt."""
    time.sleep(seconds)


@task("execution_tests.fail", retries=1, backoff=NO_WAIT)
async def fail(message: str) -> None:
    """Raises: an ordinary task failure, decided inside the child."""
    raise RuntimeError(message)


@task("execution_tests.wait_long", backoff=NO_WAIT)
async def wait_long(seconds: float, pid_file: str | None = None) -> None:
    """Waits (cancellably) for a long time, after writing its process id to ``pid_file``."""
    if pid_file is not None:
        with open(pid_file, "w") as file:  # noqa: ASYNC230 - tiny local write
            file.write(str(os.getpid()))
    await anyio.sleep(seconds)
