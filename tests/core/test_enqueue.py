"""QueueService.enqueue / enqueue_many: overrides, run_after, validation, nothing stored on bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from litestar_queues import (
    PayloadTooLargeError,
    QueueConfigurationError,
    QueueService,
    SerializationError,
    TaskCall,
    TaskRegistry,
    UnknownTaskError,
    task,
)
from litestar_queues.execution.local import LocalExecutionBackend
from tests.core._support import START, ManualClock, make_config


def _service(registry: TaskRegistry, **overrides: Any) -> QueueService:
    overrides.setdefault("clock", ManualClock())
    return QueueService(make_config(registry, **overrides))


@pytest.fixture
def render(registry: TaskRegistry) -> Any:
    @task("reports.render", queue="reports", priority=10, retries=2, timeout=120, registry=registry)
    async def render_report(report_id: str) -> str:
        return report_id

    return render_report


@pytest.mark.anyio
async def test_defaults_come_from_the_decorator(registry: TaskRegistry, render: Any) -> None:
    async with _service(registry) as service:
        result = await service.enqueue(render, "report-1")
    record = result.record
    assert result.created and result.status == "pending" and result.task_name == "reports.render"
    assert (record.queue, record.priority, record.max_retries, record.timeout) == ("reports", 10, 2, 120)
    assert (record.args, record.kwargs, record.metadata, record.key) == (["report-1"], {}, {}, None)
    assert (record.attempts, record.runs, record.execution_backend) == (0, 0, None)
    assert record.created_at == record.run_at == START


@pytest.mark.anyio
async def test_every_override_is_stored(registry: TaskRegistry, render: Any) -> None:
    config = make_config(
        registry,
        clock=ManualClock(),
        execution_backends={"cloudrun": LocalExecutionBackend()},
        execution_profiles={"heavy": {"cpu": 4}},
    )
    async with QueueService(config) as service:
        result = await service.enqueue(
            render,
            "report-1",
            queue="slow-reports",
            priority=1,
            retries=5,
            timeout=600,
            run_after=30,
            execution_backend="cloudrun",
            execution_profile="heavy",
            metadata={"requested_by": "user-123"},
            key="report:report-1",
        )
    record = result.record
    assert (record.queue, record.priority, record.max_retries, record.timeout) == ("slow-reports", 1, 5, 600)
    assert (record.execution_backend, record.execution_profile) == ("cloudrun", "heavy")
    assert (record.metadata, record.key) == ({"requested_by": "user-123"}, "report:report-1")
    assert record.status == "scheduled" and record.run_at == START + timedelta(seconds=30)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        (30, START + timedelta(seconds=30)),
        (2.5, START + timedelta(seconds=2.5)),
        (timedelta(minutes=5), START + timedelta(minutes=5)),
        (START + timedelta(hours=1), START + timedelta(hours=1)),
        (datetime(2030, 1, 1, 3, tzinfo=timezone(timedelta(hours=2))), START + timedelta(hours=1)),
        (0, START),
        (START - timedelta(hours=1), START - timedelta(hours=1)),
    ],
)
async def test_run_after_forms(
    registry: TaskRegistry, render: Any, run_after: Any, expected: datetime
) -> None:
    async with _service(registry) as service:
        result = await service.enqueue(render, "r", run_after=run_after)
    assert result.record.run_at == expected
    assert result.record.run_at.utcoffset() == timedelta(0)
    assert result.status == ("scheduled" if expected > START else "pending")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "run_after", [datetime(2030, 1, 1), -1, timedelta(seconds=-1), "10", True, float("inf"), float("nan")]
)
async def test_bad_run_after_is_rejected_and_nothing_stored(
    registry: TaskRegistry, render: Any, run_after: Any
) -> None:
    async with _service(registry) as service:
        with pytest.raises(QueueConfigurationError, match="run_after"):
            await service.enqueue(render, "r", run_after=run_after)
        assert (await service.stats()).total == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "overrides",
    [
        {"retries": -1},
        {"timeout": 0},
        {"queue": ""},
        {"priority": 1.5},
        {"priority": True},
        {"execution_backend": "cloudrun"},
        {"execution_profile": "heavy"},
        {"key": ""},
    ],
)
async def test_invalid_overrides_fail_and_store_nothing(
    registry: TaskRegistry, render: Any, overrides: dict[str, Any]
) -> None:
    async with _service(registry) as service:
        with pytest.raises(QueueConfigurationError):
            await service.enqueue(render, "r", **overrides)
        assert (await service.stats()).total == 0


class Opaque:
    pass


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("args", "kwargs", "metadata"),
    [
        ((Opaque(),), {}, None),
        ((), {"report_id": {1, Opaque()}}, None),
        (("r",), {}, {"who": Opaque()}),
        ((lambda: 1,), {}, None),
    ],
)
async def test_unserialisable_payload_raises_a_type_error_and_stores_nothing(
    registry: TaskRegistry, render: Any, args: tuple[Any, ...], kwargs: dict[str, Any], metadata: Any
) -> None:
    async with _service(registry) as service:
        with pytest.raises(TypeError, match="cannot be serialised") as caught:
            await service.enqueue(render, *args, metadata=metadata, **kwargs)
        assert isinstance(caught.value, SerializationError)
        assert "reports.render" in str(caught.value)
        assert (await service.stats()).total == 0


@pytest.mark.anyio
async def test_self_referencing_argument_is_a_serialisation_error(
    registry: TaskRegistry, render: Any
) -> None:
    loop: list[Any] = []
    loop.append(loop)
    async with _service(registry) as service:
        with pytest.raises(SerializationError, match="cannot be serialised"):
            await service.enqueue(render, loop)
        assert (await service.stats()).total == 0


@pytest.mark.anyio
async def test_arguments_read_back_as_json(registry: TaskRegistry, render: Any) -> None:
    async with _service(registry) as service:
        result = await service.enqueue(render, (1, 2), when=START, metadata={"n": 1.5})
    assert result.record.args == [[1, 2]]
    assert result.record.kwargs == {"when": "2030-01-01T00:00:00Z"}


@pytest.mark.anyio
async def test_oversized_payload_is_rejected_and_nothing_stored(registry: TaskRegistry, render: Any) -> None:
    async with _service(registry, max_payload_bytes=200) as service:
        await service.enqueue(render, "x" * 100)
        with pytest.raises(PayloadTooLargeError, match="over the limit of 200 bytes"):
            await service.enqueue(render, "x" * 300)
        with pytest.raises(PayloadTooLargeError):
            await service.enqueue(render, "r", metadata={"blob": "y" * 300})
        assert (await service.stats()).total == 1


@pytest.mark.anyio
async def test_unknown_task_name_is_an_error_naming_it(registry: TaskRegistry, render: Any) -> None:
    async with _service(registry) as service:
        with pytest.raises(UnknownTaskError, match=r"'reports\.missing'"):
            await service.enqueue("reports.missing", "r")
        by_name = await service.enqueue("reports.render", "r")
        assert by_name.record.queue == "reports"
        with pytest.raises(TypeError):
            await service.enqueue(42, "r")  # type: ignore[arg-type]
        assert (await service.stats()).total == 1


@pytest.mark.anyio
async def test_enqueue_many_stores_all_in_order(registry: TaskRegistry, render: Any) -> None:
    async with _service(registry) as service:
        handles = await service.enqueue_many(
            [
                TaskCall(render, ("a",)),
                TaskCall("reports.render", kwargs={"report_id": "b"}),
                TaskCall(render.using(priority=99, key="k"), ("c",)),
                TaskCall(render.using(key="k"), ("d",)),
            ]
        )
        assert [h.record.args or h.record.kwargs for h in handles] == [
            ["a"],
            {"report_id": "b"},
            ["c"],
            ["c"],
        ]
        assert [h.created for h in handles] == [True, True, True, False]
        assert handles[3].id == handles[2].id
        assert (await service.stats()).count("pending") == 3
        assert await service.enqueue_many([]) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "bad",
    [
        TaskCall("reports.nope", ("x",)),
        TaskCall("reports.render", (Opaque(),)),
        TaskCall("reports.render", ("x" * 5000,)),
    ],
)
async def test_enqueue_many_with_one_bad_call_stores_nothing(
    registry: TaskRegistry, render: Any, bad: TaskCall
) -> None:
    async with _service(registry, max_payload_bytes=1000) as service:
        with pytest.raises((UnknownTaskError, SerializationError, PayloadTooLargeError)):
            await service.enqueue_many([TaskCall(render, ("a",)), bad, TaskCall(render, ("c",))])
        assert (await service.stats()).total == 0


@pytest.mark.anyio
async def test_timestamps_are_utc(registry: TaskRegistry, render: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        result = await service.enqueue(render, "r", run_after=datetime.now(UTC) + timedelta(hours=1))
    assert result.record.created_at.utcoffset() == timedelta(0)
    assert result.status == "scheduled"
