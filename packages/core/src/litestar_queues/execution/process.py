"""The ``process`` execution backend: each task runs in a fresh child process.

For CPU-heavy or crash-prone work. The child runs ``litestar-queues run-task`` (the
remote-execution protocol of :mod:`litestar_queues.execution.protocol`): it adopts the record the
worker claimed, runs it with the worker's rules and writes the outcome. A child that segfaults,
is killed (SIGKILL, the kernel's OOM killer) or outlives its hard time limit ends without an
outcome: this side then fails the attempt, which retries per the record's ``max_retries``. The
worker itself keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import msgspec

from litestar_queues.exceptions import NonRetryableError, QueueConfigurationError
from litestar_queues.execution.profiles import decode_profile, profiles_for
from litestar_queues.execution.protocol import RECORDED_EXIT_CODES, ExitCode, run_task_args
from litestar_queues.ports import ExecutionBackend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.abc import ByteReceiveStream, Process

    from litestar_queues.config import QueueConfig
    from litestar_queues.models import TaskRecord

__all__ = ("ProcessExecutionBackend", "ProcessProfile")

logger = logging.getLogger("litestar_queues.execution")

_STDERR_TAIL = 2000


class ProcessProfile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Settings of a ``process`` execution profile.

    Attributes:
        backend: Always ``"process"``.
        app: ``MODULE:ATTR`` of the ``QueueConfig``/``QueueService`` the child loads (default:
            ``QueueConfig.app``). It must configure the same queue backend as the worker.
        concurrency: Child processes of this profile running at once, per worker (default:
            the number of CPUs). Tasks beyond it wait, claimed, for a free slot.
        memory_limit_mb: Address-space limit of each child (``RLIMIT_AS``); an allocation beyond
            it fails with ``MemoryError`` or kills the child, and the attempt fails.
        env: Environment variables set for the child, on top of the worker's environment.
        inherit_env: Whether the child starts from the worker's environment (else only ``env``).
        cwd: Working directory of the child (default: the worker's).
        timeout: Hard limit in seconds on the child's lifetime; past it the child is killed and
            the attempt fails. Default: the record's ``timeout`` plus ``kill_grace`` (the child
            applies the record's timeout itself; this catches code that blocks its event loop).
        kill_grace: Seconds between SIGTERM and SIGKILL when a child is stopped, and the margin
            added to the record's timeout for the default hard limit.
        python: Interpreter of the child (default: the worker's ``sys.executable``).
    """

    backend: str = "process"
    app: str | None = None
    concurrency: Annotated[int, msgspec.Meta(ge=1)] | None = None
    memory_limit_mb: Annotated[int, msgspec.Meta(ge=16)] | None = None
    env: dict[str, str] = msgspec.field(default_factory=dict)
    inherit_env: bool = True
    cwd: str | None = None
    timeout: Annotated[float, msgspec.Meta(gt=0)] | None = None
    kill_grace: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    python: str | None = None

    def __post_init__(self) -> None:
        if self.backend != "process":
            raise QueueConfigurationError(f"a process profile has backend 'process', not {self.backend!r}")
        if self.app is not None and (":" not in self.app or self.app.startswith(":")):
            raise QueueConfigurationError(f"app must be MODULE:ATTR, got {self.app!r}")

    def hard_limit(self, record: TaskRecord) -> float | None:
        """Seconds the child of ``record`` may live (``None``: no limit)."""
        if self.timeout is not None:
            return self.timeout
        if record.timeout is not None:
            return record.timeout + self.kill_grace
        return None


class ProcessExecutionBackend(ExecutionBackend):
    """Runs each task in a fresh child process through ``litestar-queues run-task``.

    Registered by the service under the name ``"process"``; its profiles are the entries of
    ``QueueConfig.execution_profiles`` with ``"backend": "process"`` (see :class:`ProcessProfile`).
    The worker keeps the record's lease alive while the child runs; the child writes the outcome.
    """

    writes_outcomes = True
    """The child writes the outcome under the worker's lease (see the ``ExecutionBackend`` port)."""

    needs_shared_queue = True
    """The child reaches the record through the queue backend, so it must be shared between processes."""

    def __init__(self) -> None:
        self._app: str | None = None
        self._profiles: dict[str, ProcessProfile] = {}
        self._raw_profiles: dict[str, Any] = {}
        self._limiters: dict[str | None, anyio.CapacityLimiter] = {}

    def configure(self, config: QueueConfig) -> None:
        """Read ``QueueConfig.app`` and decode the ``process`` profiles.

        Raises:
            QueueConfigurationError: A profile is invalid or no ``app`` is known for it.
        """
        self._app = config.app
        self._raw_profiles = dict(config.execution_profiles)
        self._profiles = {}
        for name, settings in profiles_for("process", config.execution_profiles):
            self._profiles[name] = self._checked(name, decode_profile(name, settings, ProcessProfile))
        if config.execution_backend == "process":
            self.settings(None)

    def check(self, profile: str | None) -> None:
        """Validate a placement at enqueue: the profile decodes and an ``app`` is known.

        Raises:
            QueueConfigurationError: It does not.
        """
        self.settings(profile)

    def settings(self, profile: str | None) -> ProcessProfile:
        """The settings of ``profile`` (``None``: the defaults).

        Raises:
            QueueConfigurationError: The profile is invalid or no ``app`` is known for it.
        """
        if profile is None:
            return self._checked("(default)", ProcessProfile())
        found = self._profiles.get(profile)
        if found is None:
            raw = self._raw_profiles.get(profile)
            if raw is None:
                raise QueueConfigurationError(f"unknown execution profile {profile!r}")
            found = self._checked(
                profile, decode_profile(profile, {**raw, "backend": "process"}, ProcessProfile)
            )
            self._profiles[profile] = found
        return found

    def _checked(self, name: str, settings: ProcessProfile) -> ProcessProfile:
        if settings.app is None and self._app is None:
            raise QueueConfigurationError(
                f"execution profile {name!r} runs tasks in child processes, which load the app: "
                "set QueueConfig(app='module:attr') or the profile's 'app'"
            )
        return settings

    async def open(self) -> None:
        """Nothing to open: children start per task."""

    async def close(self) -> None:
        """Nothing to close: running children are stopped by the cancellation of their tasks."""

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``record`` in a child process and wait for it.

        Returns:
            ``None`` once the child wrote the outcome (or found nothing to do).

        Raises:
            NonRetryableError: The placement is misconfigured.
            ChildProcessError: The child died (signal, crash) without writing an outcome.
            TimeoutError: The child outlived its hard limit and was killed.
        """
        try:
            settings = self.settings(record.execution_profile)
        except QueueConfigurationError as exc:
            raise NonRetryableError(str(exc)) from None
        limiter = self._limiters.get(record.execution_profile)
        if limiter is None:
            limiter = anyio.CapacityLimiter(settings.concurrency or os.cpu_count() or 1)
            self._limiters[record.execution_profile] = limiter
        async with limiter:
            await self._run_child(record, settings)
        return None

    async def _run_child(self, record: TaskRecord, settings: ProcessProfile) -> None:
        app = settings.app or self._app
        assert app is not None
        command = [
            settings.python or sys.executable,
            "-m",
            "litestar_queues.cli",
            *run_task_args(
                app,
                record.id,
                lease_id=record.lease_id,
                worker_id=record.worker_id,
                memory_limit_mb=settings.memory_limit_mb,
            ),
        ]
        env = {**(os.environ if settings.inherit_env else {}), **settings.env}
        limit = settings.hard_limit(record)
        process = await anyio.open_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=None,
            stderr=subprocess.PIPE,
            env=env,
            cwd=settings.cwd,
            start_new_session=True,
        )
        tail = bytearray()
        timed_out = False
        try:
            async with anyio.create_task_group() as tg:
                assert process.stderr is not None
                eof = anyio.Event()
                tg.start_soon(_collect, process.stderr, tail, record, eof)
                with anyio.move_on_after(limit if limit is not None else float("inf")) as scope:
                    await process.wait()
                if scope.cancelled_caught:
                    timed_out = True
                    logger.warning(
                        "task %s: child %s outlived %s s: killing it", record.id, process.pid, limit
                    )
                    _signal_group(process, signal.SIGKILL)
                    await process.wait()
                with anyio.move_on_after(1):  # let the collector read stderr to its end
                    await eof.wait()
                tg.cancel_scope.cancel()
        except BaseException:
            # cancelled: the lease was lost, the task was cancelled or the worker shuts down
            with anyio.CancelScope(shield=True):
                await _stop(process, settings.kill_grace)
            raise
        status = process.returncode
        assert status is not None
        text = tail.decode(errors="replace").strip()
        if timed_out:
            raise TimeoutError(f"task process outlived its hard limit of {limit} s and was killed")
        if status in RECORDED_EXIT_CODES:
            return
        if status < 0:
            name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
            raise ChildProcessError(f"task process was killed by {name}{_describe(text)}")
        if status == ExitCode.USAGE:
            raise ChildProcessError(f"task process could not load the app{_describe(text)}")
        raise ChildProcessError(
            f"task process exited with status {status} without an outcome{_describe(text)}"
        )


def _describe(text: str) -> str:
    if not text:
        return ""
    last = text.splitlines()[-1]
    return f": {last}"


async def _collect(stream: ByteReceiveStream, tail: bytearray, record: TaskRecord, eof: anyio.Event) -> None:
    try:
        async for chunk in stream:
            tail.extend(chunk)
            del tail[:-_STDERR_TAIL]
            for line in chunk.decode(errors="replace").splitlines():
                logger.debug("task %s child: %s", record.id, line)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass
    finally:
        eof.set()


def _signal_group(process: Process, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


async def _stop(process: Process, grace: float) -> None:
    if process.returncode is not None:
        return
    _signal_group(process, signal.SIGTERM)
    with anyio.move_on_after(grace):
        await process.wait()
        return
    _signal_group(process, signal.SIGKILL)
    await process.wait()
