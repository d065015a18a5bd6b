"""litestar-queues: durable background work for Python web applications.

``QueuePlugin`` and ``QueuedBackgroundTask`` come from the Litestar adapter
(``litestar-queues-litestar``) and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues._lazy import adapter_exports
from litestar_queues.backends.memory import MemoryQueueBackend
from litestar_queues.config import QueueConfig, WorkerConfig
from litestar_queues.exceptions import (
    BackendUnavailableError,
    CronExpressionError,
    CronNotInstalledError,
    ExtraNotInstalledError,
    LeaseLostError,
    MalformedRecordError,
    NoActiveServiceError,
    NonRetryableError,
    PayloadTooLargeError,
    QueueConfigurationError,
    QueueError,
    QueueLimitError,
    ScheduleError,
    ScheduleNotFoundError,
    SerializationError,
    TaskNameError,
    TaskNotFoundError,
    TaskRegistrationError,
    UnknownTaskError,
    non_retryable,
)
from litestar_queues.limits import QueueLimit
from litestar_queues.models import (
    AttemptRecord,
    Outcome,
    RecordQuery,
    ScheduleState,
    TaskRecord,
    TaskStatus,
    WorkerInfo,
)
from litestar_queues.observability import QueueObserver
from litestar_queues.ports import Clock, EventSink, ExecutionBackend, QueueBackend, SystemClock
from litestar_queues.registry import TaskRegistry, default_registry
from litestar_queues.retention import Retention
from litestar_queues.retry import Backoff
from litestar_queues.schedules import MisfirePolicy, Schedule
from litestar_queues.schedules.operations import ScheduleInfo
from litestar_queues.schedules.scheduler import Scheduler
from litestar_queues.service import QueueService, QueueStats, TaskPage
from litestar_queues.task import Task, TaskCall, task
from litestar_queues.task_result import TaskResult
from litestar_queues.worker import Worker

if TYPE_CHECKING:
    from litestar_queues_litestar.background import QueuedBackgroundTask
    from litestar_queues_litestar.plugin import QueuePlugin

__all__ = (
    "AttemptRecord",
    "Backoff",
    "BackendUnavailableError",
    "Clock",
    "CronExpressionError",
    "CronNotInstalledError",
    "EventSink",
    "ExecutionBackend",
    "ExtraNotInstalledError",
    "LeaseLostError",
    "MalformedRecordError",
    "MemoryQueueBackend",
    "MisfirePolicy",
    "NoActiveServiceError",
    "NonRetryableError",
    "Outcome",
    "PayloadTooLargeError",
    "QueueBackend",
    "QueueConfig",
    "QueueConfigurationError",
    "QueueError",
    "QueueLimit",
    "QueueLimitError",
    "QueueObserver",
    "QueuePlugin",
    "QueueService",
    "QueueStats",
    "RecordQuery",
    "QueuedBackgroundTask",
    "Retention",
    "Schedule",
    "ScheduleError",
    "ScheduleInfo",
    "ScheduleNotFoundError",
    "ScheduleState",
    "Scheduler",
    "SerializationError",
    "SystemClock",
    "Task",
    "TaskCall",
    "TaskNameError",
    "TaskPage",
    "TaskNotFoundError",
    "TaskRecord",
    "TaskRegistrationError",
    "TaskRegistry",
    "TaskResult",
    "TaskStatus",
    "UnknownTaskError",
    "Worker",
    "WorkerConfig",
    "WorkerInfo",
    "default_registry",
    "non_retryable",
    "task",
)

_LAZY = {
    "QueuePlugin": "litestar_queues_litestar.plugin",
    "QueuedBackgroundTask": "litestar_queues_litestar.background",
}


__getattr__ = adapter_exports(__name__, _LAZY, globals())
