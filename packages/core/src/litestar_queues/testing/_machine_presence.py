"""The state machine's rules on operators' reads: worker presence, and finished counts.

Two rules only, each with several kinds of step, so that they do not crowd the record rules out
of a run: one records, forgets or lists the presence of workers (then compares the live ones
with the model), the other counts the finished records since a time drawn around the clock
(the boundary instant included) and compares the counts with the model's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import hypothesis.strategies as st
from hypothesis.stateful import rule

from litestar_queues.models import WorkerInfo
from litestar_queues.testing._check import ContractViolation, expect_equal
from litestar_queues.testing._machine_base import MachineBase

if TYPE_CHECKING:
    from litestar_queues.ports import QueueBackend

__all__ = ("PresenceRules",)

_WORKER_IDS = ("w1", "w2", "w3", "w4")
_HOSTS = ("web-1", "wörker.example")
_QUEUES: tuple[tuple[str, ...] | None, ...] = (None, ("default",), ("mail,eu", "default"))
# how long the presence lasts: 0 is expired at once (expires_at == now is not live)
_TTLS = (0.0, 1.0, 5.0, 30.0)
# how far back a finished count looks (0: since now, the boundary included); None: in the future
_SINCE = (0.0, 0.5, 1.0, 5.0, 31.0, 3600.0, None)


class PresenceRules(MachineBase):
    """Rules on worker presence (record, forget, list) and finished counts."""

    @rule(
        kind=st.sampled_from(("record", "record", "record", "forget", "list")),
        worker_id=st.sampled_from(_WORKER_IDS),
        hostname=st.sampled_from(_HOSTS),
        queues=st.sampled_from(_QUEUES),
        ttl=st.sampled_from(_TTLS),
        restarted=st.booleans(),
        running=st.integers(0, 3),
        stopping=st.booleans(),
    )
    def presence(
        self,
        kind: str,
        worker_id: str,
        hostname: str,
        queues: tuple[str, ...] | None,
        ttl: float,
        restarted: bool,
        running: int,
        stopping: bool,
    ) -> None:
        """Record a worker's beat, forget a worker, or only list: the live ones equal the model's."""
        now = self.clock.now()
        known = self.model.workers.get(worker_id)
        started = (
            known.started_at if known is not None and not restarted else now - timedelta(seconds=running)
        )
        info = WorkerInfo(
            worker_id=worker_id,
            hostname=hostname,
            pid=1000 + running,
            queues=queues,
            concurrency=running + 1,
            started_at=started,
            seen_at=now,
            expires_at=now + timedelta(seconds=ttl),
            running=running,
            stopping=stopping,
        )

        async def change(backend: QueueBackend) -> list[WorkerInfo]:
            if kind == "record":
                await backend.record_worker(info)
            elif kind == "forget":
                await backend.forget_worker(worker_id)
            return list(await backend.live_workers(now=now))

        if kind == "record":
            self.model.record_worker(info)
        elif kind == "forget":
            self.model.forget_worker(worker_id)
        listed = self._step(change)
        expected = self.model.live_workers(now)
        if [w.worker_id for w in listed] != [w.worker_id for w in expected]:
            expired = [w.worker_id for w in listed if w.expires_at <= now]
            if expired:
                raise ContractViolation(
                    f"live_workers lists only presences with expires_at after now: {expired} expired "
                    f"at or before {now}"
                )
        expect_equal(listed, expected, "live_workers", f"the live workers after {kind} {worker_id} at {now}")
        self._verify()

    @rule(back=st.sampled_from(_SINCE))
    def count_finished(self, back: float | None) -> None:
        """Count the records finished since a time around now: equal to the model's counts."""
        now = self.clock.now()
        since = now + timedelta(seconds=1) if back is None else now - timedelta(seconds=back)
        counts = self._step(lambda b: b.finished_counts(since=since))
        expect_equal(
            {queue: dict(per) for queue, per in counts.items()},
            self.model.finished_counts(since),
            "finished_counts",
            f"records finished at or after {since} (now {now})",
        )
        self._verify()
