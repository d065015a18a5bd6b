"""What a worker logs: a start-up line, one INFO line per task outcome, throughput summaries, a stop line."""

from __future__ import annotations

import logging
import re

import anyio
import pytest

from litestar_queues import QueueService, TaskRegistry, task
from tests.core._support import make_config

pytestmark = pytest.mark.anyio

WORKER_LOGGER = "litestar_queues.worker"
OUTCOME = re.compile(
    r"^task (?P<name>\S+) id=(?P<id>\S+) queue=(?P<queue>\S+) attempt=(?P<attempt>\d+) "
    r"duration=(?P<duration>\d+\.\d{3})s outcome=(?P<outcome>.+)$"
)


def _outcome_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    found = []
    for record in caplog.records:
        match = OUTCOME.match(record.getMessage())
        if record.name == WORKER_LOGGER and match:
            assert record.levelno == logging.INFO
            found.append(match.groupdict())
    return found


async def test_one_info_line_per_outcome_with_name_id_queue_attempt_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = TaskRegistry()

    @task("logs.ok", registry=registry)
    async def ok() -> None:
        await anyio.sleep(0.05)

    @task("logs.flaky", registry=registry, retries=1, backoff=0)
    async def flaky() -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.INFO, logger="litestar_queues")
    async with QueueService(make_config(registry)) as service:
        async with service.worker(concurrency=2) as worker:
            good = await service.enqueue(ok, queue="mail")
            bad = await service.enqueue(flaky)
            await good.wait(timeout=10)
            await bad.wait(timeout=10)
        assert (worker.completed, worker.failed, worker.retried) == (1, 1, 1)
    lines = _outcome_lines(caplog)
    by_task = {(line["id"], line["attempt"]): line for line in lines}
    assert len(lines) == 3, lines
    first = by_task[(str(good.id), "1")]
    assert (first["name"], first["queue"], first["outcome"]) == ("logs.ok", "mail", "completed")
    assert float(first["duration"]) >= 0.05
    retried = by_task[(str(bad.id), "1")]
    assert retried["outcome"].startswith("retrying at ") and retried["queue"] == "default"
    assert by_task[(str(bad.id), "2")]["outcome"] == "failed"


async def test_start_up_summary_and_stop_lines(caplog: pytest.LogCaptureFixture) -> None:
    registry = TaskRegistry()

    @task("logs.quick", registry=registry)
    async def quick() -> None:
        return None

    caplog.set_level(logging.INFO, logger="litestar_queues")
    async with QueueService(make_config(registry, queue_backend="memory://")) as service:
        worker = service.worker(concurrency=3, queues=["a", "b"])
        worker.summary_interval = 0.05
        async with worker:
            for _ in range(5):
                await service.enqueue(quick, queue="a")
            with anyio.fail_after(10):
                while worker.completed < 5:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.2)  # at least one summary interval after the outcomes
    messages = [r.getMessage() for r in caplog.records if r.name == WORKER_LOGGER]
    start = next(m for m in messages if " started: " in m)
    assert start.endswith("started: backend memory://, queues a,b, concurrency 3")
    summaries = [m for m in messages if "tasks/s over the last" in m]
    assert summaries and "5 completed, 0 failed, 0 retried, 0 released so far" in summaries[-1]
    stop = messages[-1]
    stopped = r"stopped: 5 completed, 0 failed, 0 retried, 0 released in \d+\.\d s \(\d+\.\d tasks/s\)$"
    assert re.search(stopped, stop), stop


async def test_a_password_in_the_backend_url_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="litestar_queues")
    service = QueueService(make_config(TaskRegistry(), queue_backend="memory://app:s3cret@db:6379/0"))
    async with service, service.worker():
        pass
    (start,) = [r.getMessage() for r in caplog.records if " started: " in r.getMessage()]
    assert "backend memory://app:***@db:6379/0," in start
    assert "s3cret" not in caplog.text


async def test_per_task_lines_cost_nothing_when_info_is_off(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With INFO off the per-outcome formatting is skipped after one level check per batch."""
    registry = TaskRegistry()
    formatted: list[object] = []

    @task("logs.silent", registry=registry)
    async def silent() -> None:
        return None

    import litestar_queues.attempts as attempts

    real = attempts._log_outcome
    monkeypatch.setattr(attempts, "_log_outcome", lambda *a: (formatted.append(a), real(*a)))
    caplog.set_level(logging.WARNING, logger="litestar_queues")
    async with QueueService(make_config(registry)) as service, service.worker():
        result = await service.enqueue(silent)
        await result.wait(timeout=10)
    assert formatted == []
    assert _outcome_lines(caplog) == []
