"""``litestar-queues run-task``: the remote-execution protocol, run as a real command."""

from __future__ import annotations

import sys
import uuid
from datetime import timedelta

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues import QueueConfig, QueueService
from litestar_queues.cli import build_parser
from litestar_queues.execution.protocol import ExitCode, run_task_args
from tests.execution import app
from tests.execution.conftest import ROOT


async def run_task(*args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "litestar_queues.cli", *args]
    done = await anyio.run_process(command, check=False, cwd=ROOT)
    return done.returncode, done.stderr.decode()


async def run_all(runs: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    codes: dict[str, tuple[int, str]] = {}

    async def one(name: str) -> None:
        codes[name] = await run_task(*runs[name])

    async with anyio.create_task_group() as tg:
        for name in runs:
            tg.start_soon(one, name)
    return codes


@pytest.mark.anyio
@pytest.mark.slow
async def test_run_task_claims_or_adopts_a_record_runs_it_and_writes_its_outcome(queue_url: str) -> None:
    async with QueueService(QueueConfig(queue_backend=queue_url, app=app.APP)) as service:
        claimable = await service.enqueue(app.where, 5)
        failing = await service.enqueue(app.fail, "boom")
        adopted = await service.enqueue(app.where, 7)
        now = service.config.clock.now()
        lease = await service.backend.claim_task(
            adopted.id, worker_id="parent-worker", now=now, lease_until=now + timedelta(seconds=60)
        )
        assert lease is not None and lease.lease_id is not None
        codes = await run_all(
            {
                "claim": run_task_args(app.APP, claimable.id),
                "retry": run_task_args(app.APP, failing.id),
                "adopt": run_task_args(app.APP, adopted.id, lease_id=lease.lease_id),
            }
        )
        assert {name: code for name, (code, _) in codes.items()} == {
            "claim": ExitCode.COMPLETED,
            "retry": ExitCode.RETRY,
            "adopt": ExitCode.COMPLETED,
        }, codes

        await claimable.refresh()
        assert claimable.status == "completed"
        assert claimable.result["value"] == 5
        await adopted.refresh()
        assert adopted.status == "completed"
        assert adopted.record.worker_id == "parent-worker"
        await failing.refresh()
        assert failing.status == "pending"
        assert failing.error == "RuntimeError: boom"

        # the last attempt fails for good; a platform that retries failed containers gets 0
        code, _ = await run_task(*run_task_args(app.APP, failing.id, exit_zero_when_recorded=True))
        assert code == 0
        await failing.refresh()
        assert failing.status == "failed"
        assert failing.record.attempts == 2


@pytest.mark.anyio
@pytest.mark.slow
async def test_run_task_refuses_what_it_cannot_run_with_a_documented_status(queue_url: str) -> None:
    async with QueueService(QueueConfig(queue_backend=queue_url, app=app.APP)) as service:
        pending = await service.enqueue(app.where, 6)
        codes = await run_all(
            {
                "wrong lease": run_task_args(app.APP, pending.id, lease_id="not-the-lease"),
                "unknown id": run_task_args(app.APP, uuid.uuid4()),
                "bad id": ["run-task", "--app", app.APP, "not-a-uuid"],
                "bad app": run_task_args("tests.execution.app:missing", pending.id),
                "no app": ["run-task", str(pending.id)],
            }
        )
        assert {name: code for name, (code, _) in codes.items()} == {
            "wrong lease": ExitCode.LEASE_LOST,
            "unknown id": ExitCode.NOT_CLAIMABLE,
            "bad id": ExitCode.USAGE,
            "bad app": ExitCode.USAGE,
            "no app": ExitCode.USAGE,
        }, codes
        assert "missing" in codes["bad app"][1]
        await pending.refresh()
        assert pending.status == "pending"
        assert pending.record.runs == 0


@given(
    app_path=st.text(min_size=1).filter(lambda s: "\x00" not in s),
    task_id=st.uuids(),
    lease_id=st.none() | st.text(min_size=1).filter(lambda s: "\x00" not in s),
    worker_id=st.none() | st.text(min_size=1).filter(lambda s: "\x00" not in s),
    memory=st.none() | st.integers(min_value=16, max_value=1 << 20),
    exit_zero=st.booleans(),
)
def test_the_command_line_reads_back_what_the_dispatcher_built(
    app_path: str,
    task_id: uuid.UUID,
    lease_id: str | None,
    worker_id: str | None,
    memory: int | None,
    exit_zero: bool,
) -> None:
    args = run_task_args(
        app_path,
        task_id,
        lease_id=lease_id,
        worker_id=worker_id,
        memory_limit_mb=memory,
        exit_zero_when_recorded=exit_zero,
    )
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run-task"
    assert (parsed.app, uuid.UUID(parsed.task_id), parsed.lease, parsed.worker_id) == (
        app_path,
        task_id,
        lease_id,
        worker_id,
    )
    assert (parsed.memory_limit_mb, parsed.exit_zero_when_recorded) == (memory, exit_zero)
