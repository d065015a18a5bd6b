"""Execution backends that ship with the core, and the remote-execution protocol.

* ``local`` (and ``immediate``): :class:`LocalExecutionBackend`, the worker's own process.
* ``process``: :class:`ProcessExecutionBackend`, a fresh child process per task.
* :mod:`litestar_queues.execution.protocol`: ``litestar-queues run-task``, what every placement
  outside the worker's process runs.
"""

from __future__ import annotations

from litestar_queues.execution.local import LocalExecutionBackend
from litestar_queues.execution.process import ProcessExecutionBackend, ProcessProfile
from litestar_queues.execution.protocol import ExitCode, run_task

__all__ = ("ExitCode", "LocalExecutionBackend", "ProcessExecutionBackend", "ProcessProfile", "run_task")
