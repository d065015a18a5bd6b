"""The contract kit: the test suite every queue backend must pass, and test helpers.

Needs the ``testing`` extra (``pip install "litestar-queues[testing]"``) for pytest and hypothesis.

* :class:`QueueBackendContract`: subclass it, define ``make_backend``, and pytest runs the whole
  contract (example tests and a hypothesis state machine) against your backend.
* :class:`ManualClock`: a :class:`~litestar_queues.ports.Clock` that moves only when told to.
* :class:`ContractViolation`: the error the kit raises, naming the broken rule.
* :func:`make_record`: builds a record the way the core does at enqueue.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "litestar_queues.testing needs pytest and hypothesis: pip install 'litestar-queues[testing]'"
    ) from exc

from litestar_queues.testing._check import ContractViolation, make_record
from litestar_queues.testing._clock import ManualClock
from litestar_queues.testing._contract import QueueBackendContract

__all__ = (
    "ContractViolation",
    "ManualClock",
    "QueueBackendContract",
    "make_record",
)
