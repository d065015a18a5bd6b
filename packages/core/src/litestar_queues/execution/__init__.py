"""Execution backends that ship with the core."""

from __future__ import annotations

from litestar_queues.execution.local import LocalExecutionBackend

__all__ = ("LocalExecutionBackend",)
