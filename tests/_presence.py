"""The fault test of worker presence, shared by the SQL and Redis suites: SIGKILL and SIGTERM.

Two real worker processes (``litestar-queues worker``) serve the same store. One is killed: it
stays in ``QueueService.workers()`` until its presence expires, and not a moment longer. The
other is stopped with SIGTERM: once it has exited, it is gone from the list at once.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from litestar_queues import WorkerInfo

if TYPE_CHECKING:
    import subprocess
    from datetime import datetime

    from litestar_queues import QueueService


def worker_info(worker_id: str, at: datetime, *, ttl: float = 30, **fields: object) -> WorkerInfo:
    """A presence seen at ``at`` that expires ``ttl`` seconds later; ``fields`` replace the rest."""
    values: dict[str, object] = {
        "worker_id": worker_id,
        "hostname": "web-1",
        "pid": 4242,
        "queues": ("default", "mail"),
        "concurrency": 10,
        "started_at": at,
        "seen_at": at,
        "expires_at": at + timedelta(seconds=ttl),
        "running": 0,
    }
    values.update(fields)
    return WorkerInfo(**values)  # type: ignore[arg-type]


async def _listed(service: QueueService) -> dict[int, WorkerInfo]:
    return {info.pid: info for info in await service.workers()}


async def check_kill_and_stop(
    service: QueueService, killed: subprocess.Popen[bytes], stopped: subprocess.Popen[bytes], lease: float
) -> None:
    """Kill one worker, stop the other; check when each leaves the list of live workers."""
    with anyio.fail_after(60):
        while set(await _listed(service)) != {killed.pid, stopped.pid}:
            await anyio.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    await anyio.to_thread.run_sync(killed.wait)
    last = (await _listed(service)).get(killed.pid)
    assert last is not None, "a killed worker left the list before its presence expired"
    # it expires three heartbeats (a third of the lease each: the lease) after its last beat
    assert abs((last.expires_at - last.seen_at).total_seconds() - lease) < 0.01
    stopped.send_signal(signal.SIGTERM)
    assert await anyio.to_thread.run_sync(stopped.wait) == 0
    listed = await _listed(service)
    assert stopped.pid not in listed, "a worker that stopped cleanly is still listed"
    with anyio.fail_after(lease + 30):
        while killed.pid in await _listed(service):
            await anyio.sleep(0.02)
    gone_at = service.config.clock.now()
    assert gone_at >= last.expires_at, "the killed worker left the list before its presence expired"
    assert (gone_at - last.expires_at).total_seconds() < 5
