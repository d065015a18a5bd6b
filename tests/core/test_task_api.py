"""Task registration, direct calls, using(), Task.enqueue and the active service."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues import (
    NoActiveServiceError,
    QueueConfigurationError,
    QueueService,
    Task,
    TaskRegistrationError,
    TaskRegistry,
    task,
)
from tests.core._support import make_config


def test_task_returns_a_task_and_registers_it(registry: TaskRegistry) -> None:
    @task("reports.render", queue="reports", priority=10, retries=2, timeout=120, registry=registry)
    async def render_report(report_id: str) -> str:
        return report_id

    assert isinstance(render_report, Task)
    assert registry.get("reports.render") is render_report
    assert (render_report.name, render_report.queue, render_report.priority) == (
        "reports.render",
        "reports",
        10,
    )
    assert (render_report.retries, render_report.timeout) == (2, 120)
    assert registry.names() == ["reports.render"]


@pytest.mark.anyio
async def test_async_task_is_still_directly_awaitable(registry: TaskRegistry) -> None:
    @task("direct.async", registry=registry)
    async def double(x: int) -> int:
        return 2 * x

    assert await double(21) == 42


def test_sync_task_direct_call_returns_its_value(registry: TaskRegistry) -> None:
    @task("direct.sync", registry=registry)
    def double(x: int) -> int:
        return 2 * x

    assert double(21) == 42


def test_second_function_under_a_taken_name_is_an_error(registry: TaskRegistry) -> None:
    @task("taken", registry=registry)
    async def first() -> None:
        return None

    with pytest.raises(TaskRegistrationError, match="'taken' is already registered"):

        @task("taken", registry=registry)
        async def second() -> None:
            return None

    assert registry.get("taken") is first


def test_registering_the_same_function_again_is_allowed(registry: TaskRegistry) -> None:
    async def job() -> None:
        return None

    task("again", registry=registry)(job)
    again = task("again", registry=registry)(job)
    assert registry.get("again") is again


@pytest.mark.parametrize("name", ["", None, 3])
def test_task_name_must_be_a_non_empty_string(registry: TaskRegistry, name: object) -> None:
    with pytest.raises(TaskRegistrationError):
        task(name, registry=registry)(lambda: None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"retries": -1}, {"retries": 1.5}, {"retries": True}, {"timeout": 0}, {"timeout": -3}, {"queue": ""}],
)
def test_invalid_task_defaults_fail_at_decoration(registry: TaskRegistry, kwargs: dict[str, object]) -> None:
    with pytest.raises(QueueConfigurationError):
        task("bad.defaults", registry=registry, **kwargs)(lambda: None)  # type: ignore[arg-type]
    assert "bad.defaults" not in registry


@pytest.mark.anyio
async def test_using_returns_a_copy_and_leaves_the_original_unchanged(registry: TaskRegistry) -> None:
    @task("reports.render", queue="reports", priority=10, retries=2, registry=registry)
    async def render_report(report_id: str) -> str:
        return report_id

    heavy = render_report.using(queue="slow", priority=1, retries=5, metadata={"who": "me"}, key="k1")
    assert heavy is not render_report
    assert heavy.name == render_report.name
    assert (render_report.queue, render_report.priority, render_report.retries) == ("reports", 10, 2)
    assert render_report.options.queue is None and render_report.options.key is None
    assert await heavy("r") == "r"
    # using() on the copy stacks on top of the copy's overrides
    heavier = heavy.using(priority=7)
    assert (heavier.options.queue, heavier.options.priority, heavier.options.key) == ("slow", 7, "k1")
    assert heavy.options.priority == 1

    async with QueueService(make_config(registry)) as service:
        plain = await service.enqueue(render_report, "r")
        copied = await service.enqueue(heavy, "r")
    assert (plain.record.queue, plain.record.priority, plain.record.max_retries) == ("reports", 10, 2)
    assert (plain.record.key, plain.record.metadata) == (None, {})
    assert (copied.record.queue, copied.record.priority, copied.record.max_retries) == ("slow", 1, 5)
    assert (copied.record.key, copied.record.metadata) == ("k1", {"who": "me"})
    assert copied.task_name == "reports.render"


@pytest.mark.anyio
async def test_enqueue_overrides_win_over_using(registry: TaskRegistry) -> None:
    @task("layered", registry=registry)
    async def job() -> None:
        return None

    async with QueueService(make_config(registry)) as service:
        result = await service.enqueue(job.using(queue="a", priority=3), queue="b")
    assert (result.record.queue, result.record.priority) == ("b", 3)


@pytest.mark.anyio
async def test_task_enqueue_without_an_open_service_is_a_clear_error(registry: TaskRegistry) -> None:
    @task("nowhere", registry=registry)
    async def job(x: int) -> int:
        return x

    with pytest.raises(NoActiveServiceError, match="no QueueService is open"):
        await job.enqueue(1)


@pytest.mark.anyio
async def test_task_enqueue_uses_the_most_recently_opened_service(registry: TaskRegistry) -> None:
    @task("active.svc", registry=registry)
    async def job(x: int) -> int:
        return x

    async with QueueService(make_config(registry)) as outer:
        first = await job.enqueue(1)
        assert (await outer.stats()).total == 1
        async with QueueService(make_config(registry)) as inner:
            # keyword arguments of Task.enqueue go to the task; overrides go through using()
            second = await job.using(key="k").enqueue(x=2)
            stored = (await inner.get_task(second.id)).record
            assert (stored.args, stored.kwargs, stored.key) == ([], {"x": 2}, "k")
            assert (await outer.stats()).total == 1
        third = await job.using(priority=4).enqueue(3)
        assert (await outer.stats()).total == 2
        assert third.record.priority == 4
        assert first.record.args == [1]
    with pytest.raises(NoActiveServiceError):
        await job.enqueue(4)


_maybe_priority = st.none() | st.integers(-5, 5)
_maybe_queue = st.none() | st.sampled_from(["q1", "q2"])


@given(
    default=st.tuples(st.integers(-5, 5), st.sampled_from(["d1", "d2"])),
    layers=st.lists(st.tuples(_maybe_priority, _maybe_queue), max_size=3),
    at_enqueue=st.tuples(_maybe_priority, _maybe_queue),
)
def test_override_precedence_enqueue_then_latest_using_then_decorator(
    default: tuple[int, str],
    layers: list[tuple[int | None, str | None]],
    at_enqueue: tuple[int | None, str | None],
) -> None:
    registry = TaskRegistry()

    @task("layers.job", priority=default[0], queue=default[1], registry=registry)
    async def job() -> None:
        return None

    configured = job
    for priority, queue in layers:
        configured = configured.using(priority=priority, queue=queue)

    def expected(index: int, fallback: int | str) -> int | str:
        if at_enqueue[index] is not None:
            return at_enqueue[index]  # type: ignore[return-value]
        for layer in reversed(layers):
            if layer[index] is not None:
                return layer[index]  # type: ignore[return-value]
        return fallback

    async def scenario() -> None:
        async with QueueService(make_config(registry)) as service:
            result = await service.enqueue(configured, priority=at_enqueue[0], queue=at_enqueue[1])
        assert result.record.priority == expected(0, default[0])
        assert result.record.queue == expected(1, default[1])
        assert (job.priority, job.queue, job.options.priority, job.options.queue) == (*default, None, None)

    anyio.run(scenario)
