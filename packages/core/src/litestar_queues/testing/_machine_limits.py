"""The state machine's rule on queue limits, and the checks every claim passes under them.

One rule sets, changes or removes a queue's limit (and compares ``limits()`` with the model);
the enqueue rule gives records limit keys, and the claim rules (in :mod:`._machine`) plan what
a claim must hand out with :meth:`Model.plan_claim <._model.Model.plan_claim>`, then call
:meth:`LimitRules._check_limits` on what the backend handed out: no queue above its cap, no
limit key above the key cap, no more starts than the bucket held, and no record the limits
allow passed over in favour of a later one (a held-back record keeps its place). Rates, periods
and the clock's steps are binary fractions (``0.5`` s, ``2`` per ``0.5`` s...), so every backend
counts the same tokens, to the last bit.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

import hypothesis.strategies as st
from hypothesis.stateful import rule

from litestar_queues.limits import QueueLimit
from litestar_queues.testing._check import ContractViolation, expect, expect_equal
from litestar_queues.testing._machine_base import QUEUES, MachineBase

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from litestar_queues.ports import QueueBackend
    from litestar_queues.testing._model import ClaimPlan

__all__ = ("FIRST_LIMITS", "LIMIT_KEYS", "LimitRules")

LIMIT_KEYS = (None, "c1", "c1", "c2")
"""The limit keys the enqueue rule draws from (``None``: a record without one)."""

FIRST_LIMITS = (
    None,
    None,
    None,
    QueueLimit(key_concurrency=1),
    QueueLimit(key_concurrency=1),
    QueueLimit(concurrency=2, key_concurrency=1),
    QueueLimit(concurrency=1),
    QueueLimit(rate=2, per=0.5),
)
"""The limit a run starts with on the default queue (with a backlog there): often one, mostly a key cap."""

_LIMITS = (
    None,
    QueueLimit(concurrency=1),
    QueueLimit(concurrency=2),
    QueueLimit(key_concurrency=1),
    QueueLimit(concurrency=2, key_concurrency=1),
    QueueLimit(rate=1),
    QueueLimit(rate=2, per=0.5),
    QueueLimit(rate=2, per=2.0),
    QueueLimit(concurrency=1, rate=4, per=2.0, key_concurrency=1),
)


class LimitRules(MachineBase):
    """The rule that sets queue limits, and the checks of claims under them."""

    @rule(queue=st.sampled_from(QUEUES), limit=st.sampled_from(_LIMITS))
    def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Set, change or remove a queue's limit: ``limits()`` then equals the model's."""
        self.model.set_limit(queue, limit)

        async def change(backend: QueueBackend) -> dict[str, QueueLimit]:
            await backend.set_limit(queue, limit)
            return dict(await backend.limits())

        stored = self._step(change)
        expect_equal(
            stored, self.model.limits, "set_limit", f"limits() after set_limit({queue!r}, {limit!r})"
        )
        self._verify()

    def _running_stored(self, queue: str, limit_key: str | None = None) -> int:
        """Running records of ``queue`` (with ``limit_key``) as the backend stores them now."""
        return sum(
            1
            for record in self._records.values()
            if record is not None
            and record.status == "running"
            and record.queue == queue
            and (limit_key is None or record.limit_key == limit_key)
        )

    def _check_limits(
        self, ids: Sequence[UUID], plan: ClaimPlan, due: Sequence[UUID], now: datetime, what: str
    ) -> None:
        """Check a claim's records against the limits (caps, key caps, buckets), then their places.

        A claim that hands out other records than the plan's, in queues with limits, either took
        a later record while an earlier one the limits allow waited (a lost place), or handed out
        a record a limit holds back, or held back one no limit holds back.

        Args:
            ids: The records the backend handed out.
            plan: What the model says the claim hands out.
            due: The due records the claim chose from, in claim order.
            now: The claim's time.
            what: ``claim`` or ``claim_task``, for the messages.
        """
        model = self.model
        started = Counter(model.records[i].submitted.queue for i in ids if i in model.records)
        keyed = Counter(
            (model.records[i].submitted.queue, model.records[i].submitted.limit_key)
            for i in ids
            if i in model.records and model.records[i].submitted.limit_key is not None
        )
        for queue, n in sorted(started.items()):
            limit = model.limits.get(queue)
            if limit is None:
                continue
            if limit.concurrency is not None:
                running = self._running_stored(queue)
                expect(
                    running <= limit.concurrency,
                    "concurrency limit",
                    f"{what} started {n} record(s) of queue {queue!r}, which now runs {running}: more "
                    f"than its cap of {limit.concurrency}",
                )
            if limit.rate is not None:
                tokens = plan.tokens[queue] if queue in plan.tokens else model.tokens(queue, now)
                expect(
                    n <= math.floor(tokens),
                    "rate limit",
                    f"{what} started {n} record(s) of queue {queue!r} at {now}, when its bucket held "
                    f"{tokens:g} token(s) ({limit.rate} per {limit.per:g} s, refilled continuously)",
                )
        for (queue, key), n in sorted(keyed.items(), key=str):
            limit = model.limits.get(queue)
            if limit is None or limit.key_concurrency is None:
                continue
            running = self._running_stored(queue, key)
            expect(
                running <= limit.key_concurrency,
                "key concurrency limit",
                f"{what} started {n} record(s) with limit key {key!r} in queue {queue!r}, which now "
                f"runs {running} with it: more than its key cap of {limit.key_concurrency}",
            )
        expected = set(plan.ids)
        extra = [i for i in ids if i not in expected]
        missing = [i for i in plan.ids if i not in set(ids)]
        if extra and any(model.records[i].submitted.queue in model.limits for i in missing):
            raise ContractViolation(
                f"a held-back record keeps its place: {what} handed out {extra} while {missing}, "
                "ahead of them and within the limits, waited"
            )
        for task_id in extra:
            if task_id in plan.held:
                raise ContractViolation(f"limits: {what} handed out {task_id} while {plan.held[task_id]}")
        limited = [i for i in missing if model.records[i].submitted.queue in model.limits]
        if limited:
            queues = sorted({model.records[i].submitted.queue for i in limited})
            state = "; ".join(self._describe_limit(queue, now) for queue in queues)
            raise ContractViolation(
                f"limits hold back only what they must: {limited} were due and within the limits "
                f"({state}) but {what} did not hand them out"
            )

    def _describe_limit(self, queue: str, now: datetime) -> str:
        limit = self.model.limits[queue]
        parts = [f"queue {queue!r} runs {self.model.running(queue)}"]
        if limit.concurrency is not None:
            parts.append(f"cap {limit.concurrency}")
        if limit.rate is not None:
            parts.append(f"{self.model.tokens(queue, now):g} token(s) at {now}")
        return ", ".join(parts)
