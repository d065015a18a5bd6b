"""The core's shape: options defined once, capabilities declared, no import cycles."""

from __future__ import annotations

import inspect
import pkgutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

import litestar_queues
from litestar_queues import ExecutionBackend, MemoryQueueBackend, QueueConfig, QueueService, Task
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.ports import BackendReach
from litestar_queues.task import EnqueueOptions

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar_queues.models import TaskRecord


def _keyword_only(fn: Callable[..., Any]) -> set[str]:
    return {p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY}


def test_the_enqueue_options_are_the_keywords_of_using_and_enqueue() -> None:
    fields = set(EnqueueOptions.__struct_fields__)
    assert _keyword_only(Task.using) == fields
    assert _keyword_only(QueueService.enqueue) == fields


def test_split_separates_options_from_task_keywords() -> None:
    options, rest = EnqueueOptions.split({"queue": "q", "priority": 0, "name": "x", "key": "k"})
    assert options == EnqueueOptions(queue="q", priority=0, key="k")
    assert rest == {"name": "x"}


class _Undeclared:
    """Implements the three methods of an execution backend but declares no capability."""

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        return await run_here()


class _Declared(ExecutionBackend):
    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        return await run_here()


def test_an_execution_backend_that_declares_nothing_is_refused_with_the_fix() -> None:
    config = QueueConfig(execution_backends={"bare": _Undeclared()})  # type: ignore[dict-item]
    with pytest.raises(QueueConfigurationError) as caught:
        QueueService(config)
    message = str(caught.value)
    for member in ("check", "configure", "needs_shared_queue", "writes_outcomes"):
        assert member in message
    assert "subclass litestar_queues.ports.ExecutionBackend" in message


def test_subclassing_the_port_inherits_the_declared_defaults() -> None:
    backend = _Declared()
    assert backend.writes_outcomes is False and backend.needs_shared_queue is False
    assert backend.configure(QueueConfig()) is None and backend.check("any") is None
    QueueService(QueueConfig(execution_backends={"declared": backend}))


def test_a_queue_backend_without_reach_is_refused() -> None:
    class NoReach(MemoryQueueBackend):
        reach = None  # type: ignore[assignment]

    class Missing:
        def __getattr__(self, name: str) -> Any:
            if name == "reach":
                raise AttributeError(name)
            return getattr(MemoryQueueBackend(), name)

    with pytest.raises(QueueConfigurationError, match="reach"):
        QueueService(QueueConfig(queue_backend=Missing()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "reach"),
    [
        ("memory://", BackendReach.PROCESS),
        ("sqlite:///queue.db", BackendReach.HOST),
        ("sqlite+aiosqlite:///queue.db", BackendReach.HOST),
        ("redis://127.0.0.1:6379/0", BackendReach.NETWORK),
        ("unix:///tmp/redis.sock", BackendReach.HOST),
        ("postgresql://localhost/db", BackendReach.NETWORK),
    ],
)
def test_every_built_in_backend_declares_its_reach(url: str, reach: BackendReach) -> None:
    service = QueueService(QueueConfig(queue_backend=url))
    assert service.backend.reach is reach
    assert reach.shared_across_processes is (reach is not BackendReach.PROCESS)


def _core_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(litestar_queues.__path__, "litestar_queues.")
        if not info.name.startswith("litestar_queues.testing")
    )


def test_every_core_module_imports_first_without_a_cycle() -> None:
    """Each module imported first in a fresh interpreter: a runtime import cycle fails here."""
    failed = []
    for name in _core_modules():
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode:
            failed.append(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
    assert failed == []


def test_the_core_has_no_function_level_imports() -> None:
    """Imports sit at module level (or under TYPE_CHECKING): none hide a cycle inside a function."""
    offenders = []
    for name in _core_modules():
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        source = inspect.getsource(module)
        for number, line in enumerate(source.splitlines(), 1):
            stripped = line.strip()
            indented = line.startswith((" ", "\t"))
            if indented and stripped.startswith(("import ", "from ")) and " import " in f" {stripped} ":
                offenders.append(f"{name}:{number}: {stripped}")
    typing_only = [o for o in offenders if not _under_type_checking(o)]
    assert typing_only == []


_ADAPTER_NAMES = ("ChannelsQueueEventSink", "stream_queue_events", "QueuePlugin", "QueuedBackgroundTask")
"""The lazy exports of the Litestar adapter: loading one on first use is the design, not a cycle."""


def _under_type_checking(offender: str) -> bool:
    name, number, statement = offender.split(":", 2)
    if statement.strip().endswith(_ADAPTER_NAMES):
        return True
    module = sys.modules[name]
    lines = inspect.getsource(module).splitlines()[: int(number)]
    for line in reversed(lines):
        if line and not line.startswith((" ", "\t")):
            # module-level: TYPE_CHECKING blocks, and try/except probes of optional dependencies
            return line.startswith(("if TYPE_CHECKING", "try:", "except"))
    return False
