"""Code written for litestar-queues 0.1.0 (the spec) runs unchanged: tasks and placements (issue 15)."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, TaskRegistry, task
from litestar_queues.events import TaskExecutionContext
from litestar_queues.exceptions import QueueConfigurationError, TaskNameError, TaskRegistrationError
from litestar_queues_cloudrun import CloudRunExecutionBackend


def greet(name: str) -> str:
    return f"hello {name}"


def test_a_bare_task_decorator_registers_the_function_under_its_qualified_name() -> None:
    registry = TaskRegistry()
    registered = task(registry=registry)(greet)
    assert registered.name == f"{__name__}.greet"
    assert registry.get(f"{__name__}.greet") is registered


def test_a_bare_task_decorator_without_parentheses_returns_the_task() -> None:
    module = f"lq_bare_{uuid.uuid4().hex[:8]}"
    namespace: dict[str, Any] = {"__name__": module}
    exec(  # a module as a 0.1.0 user writes it: @task with no arguments at all
        "from litestar_queues import task\n@task\nasync def cleanup(n: int) -> int:\n    return n + 1\n",
        namespace,
    )
    cleanup = namespace["cleanup"]
    assert cleanup.name == f"{module}.cleanup"
    assert anyio.run(cleanup, 1) == 2  # still callable directly


def test_a_name_that_cannot_be_derived_fails_at_decoration_as_a_type_error() -> None:
    with pytest.raises(TypeError, match=r'@task\("some.name"\)'):
        task(registry=TaskRegistry())(lambda: None)

    def outer() -> None:
        @task(registry=TaskRegistry())
        def inner() -> None:
            return None

    with pytest.raises(TaskNameError):
        outer()
    assert issubclass(TaskNameError, TaskRegistrationError)


def test_a_task_taking_var_keywords_receives_both_injections() -> None:
    registry = TaskRegistry()
    seen: dict[str, Any] = {}

    @task("compat.kwargs", registry=registry)
    async def takes_anything(**kwargs: Any) -> None:
        seen.update(kwargs)

    async def scenario() -> None:
        async with QueueService(QueueConfig(registry=registry)) as service:
            handle = await service.enqueue(takes_anything, extra=1)
            async with service.worker(poll_interval=0.05):
                await handle.wait(timeout=30)
        assert handle.status == "completed"
        assert seen["extra"] == 1
        assert seen["_job_id"] == handle.id
        assert isinstance(seen["_task_context"], TaskExecutionContext)

    anyio.run(scenario)


def test_the_spec_cloudrun_override_names_what_to_install_and_configure() -> None:
    registry = TaskRegistry()

    @task("reports.render", registry=registry)
    async def render_report(report_id: str) -> None:
        return None

    async def scenario() -> None:
        async with QueueService(QueueConfig(registry=registry)) as service:
            heavy_render = render_report.using(execution_backend="cloudrun", execution_profile="heavy")
            with pytest.raises(QueueConfigurationError) as caught:
                await service.enqueue(heavy_render, "report-1")
            assert (await service.stats()).total == 0  # nothing stored
        message = str(caught.value)
        assert 'pip install "litestar-queues[cloudrun]"' in message
        assert "execution_backends={'cloudrun': CloudRunExecutionBackend()}" in message

        config = QueueConfig(registry=registry, execution_backends={"cloudrun": CloudRunExecutionBackend()})
        async with QueueService(config) as service:
            with pytest.raises(QueueConfigurationError) as caught:
                await service.enqueue(heavy_render, "report-1")
        assert "execution_profiles={'heavy': {'backend': 'cloudrun', ...}}" in str(caught.value)

    anyio.run(scenario)
