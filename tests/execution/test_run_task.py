"""``litestar-queues run-task``: the remote-execution protocol, run as a real command."""

from __future__ import annotations

import sys
import uuid
from datetime import timedelta

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService
from litestar_queues.execution.protocol import ExitCode, run_task_args
from tests.execution import app
from tests.execution.conftest import ROOT

pytestmark = pytest.mark.anyio


async def run_task(*args: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "litestar_queues.cli", *args]
    done = await anyio.run_process(command, check=False, cwd=ROOT)
    return done.returncode, done.stderr.decode()


async def test_exit_codes_of_the_protocol(queue_url: str) -> None:
    async with QueueService(QueueConfig(queue_backend=queue_url, app=app.APP)) as service:
        claimable = await service.enqueue(app.where, 5)
        failing = await service.enqueue(app.fail, "boom")
        pending = await service.enqueue(app.where, 6)
        adopted = await service.enqueue(app.where, 7)
        now = service.config.clock.now()
        lease = await service.backend.claim_task(
            adopted.id, worker_id="parent-worker", now=now, lease_until=now + timedelta(seconds=60)
        )
        assert lease is not None and lease.lease_id is not None
        runs = {
            "claim": run_task_args(app.APP, claimable.id),
            "retry": run_task_args(app.APP, failing.id),
            "adopt": run_task_args(app.APP, adopted.id, lease_id=lease.lease_id),
            "wrong lease": run_task_args(app.APP, pending.id, lease_id="not-the-lease"),
            "unknown id": run_task_args(app.APP, uuid.uuid4()),
            "bad id": ["run-task", "--app", app.APP, "not-a-uuid"],
            "bad app": run_task_args("tests.execution.app:missing", claimable.id),
            "no app": ["run-task", str(claimable.id)],
        }
        codes: dict[str, tuple[int, str]] = {}

        async def one(name: str) -> None:
            codes[name] = await run_task(*runs[name])

        async with anyio.create_task_group() as tg:
            for name in runs:
                tg.start_soon(one, name)
        assert {name: code for name, (code, _) in codes.items()} == {
            "claim": ExitCode.COMPLETED,
            "retry": ExitCode.RETRY,
            "adopt": ExitCode.COMPLETED,
            "wrong lease": ExitCode.LEASE_LOST,
            "unknown id": ExitCode.NOT_CLAIMABLE,
            "bad id": ExitCode.USAGE,
            "bad app": ExitCode.USAGE,
            "no app": ExitCode.USAGE,
        }, codes
        assert "missing" in codes["bad app"][1]

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
        code, _ = await run_task(*run_task_args(app.APP, failing.id))
        assert code == ExitCode.NOT_CLAIMABLE
