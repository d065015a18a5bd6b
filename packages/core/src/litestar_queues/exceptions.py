"""The exceptions of litestar-queues.

Every error the core raises derives from :class:`QueueError`. Adapters map their library's
exceptions (connection errors, driver errors) into these at the edge, so application code only
ever catches the core's types.
"""

from __future__ import annotations

__all__ = (
    "BackendUnavailableError",
    "CronExpressionError",
    "CronNotInstalledError",
    "EventPublishError",
    "ExtraNotInstalledError",
    "LeaseLostError",
    "MalformedRecordError",
    "NoActiveServiceError",
    "NoTaskContextError",
    "NonRetryableError",
    "PayloadTooLargeError",
    "QueueConfigurationError",
    "QueueError",
    "QueueLimitError",
    "ScheduleError",
    "ScheduleNotFoundError",
    "SerializationError",
    "TaskNameError",
    "TaskNotFoundError",
    "TaskRegistrationError",
    "UnknownTaskError",
    "non_retryable",
)


class QueueError(Exception):
    """Base class of every error raised by litestar-queues."""


class QueueConfigurationError(QueueError, ValueError):
    """A configuration value is invalid, or a backend named by URL is not installed."""


class QueueLimitError(QueueConfigurationError):
    """A queue's limit (:class:`~litestar_queues.QueueLimit`) is invalid; the message names the fix."""


class ScheduleError(QueueConfigurationError):
    """A schedule's definition is invalid; the message names the field and how to fix it."""


class CronExpressionError(ScheduleError):
    """A schedule's cron expression cannot be parsed, or never matches a date."""


class ExtraNotInstalledError(QueueConfigurationError, ImportError):
    """An optional feature needs a library its extra installs; the message names the install line.

    An ``ImportError`` too, as the missing import it stands for.
    """


class CronNotInstalledError(ScheduleError):
    """A cron schedule was declared, but the cron parser (the ``cron`` extra) is not installed."""


class ScheduleNotFoundError(QueueError, LookupError):
    """No schedule of the given name is declared in this process or stored in the queue backend."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no schedule named {name!r} is declared in this process or stored in the queue backend "
            "(list them with `litestar-queues schedules MODULE:ATTR`)"
        )
        self.name = name


class TaskRegistrationError(QueueError, ValueError):
    """A task name is already registered to a different function, or a name is invalid."""


class TaskNameError(TaskRegistrationError, TypeError):
    """``@task`` got no name and none can be derived from the function (a lambda, a nested function)."""


class UnknownTaskError(QueueError, LookupError):
    """No task is registered under the given name in this process."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no task is registered under the name {name!r} in this process")
        self.name = name


class TaskNotFoundError(QueueError, LookupError):
    """No record exists for the given task id."""

    def __init__(self, task_id: object, *, detail: str | None = None) -> None:
        message = f"no task record with id {task_id}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.task_id = task_id


class SerializationError(QueueError, TypeError):
    """A value cannot be serialised to JSON (arguments, metadata or a task's result)."""


class PayloadTooLargeError(QueueError, ValueError):
    """The encoded arguments and metadata of a task exceed the configured maximum size."""


class MalformedRecordError(QueueError, ValueError):
    """A stored record cannot be decoded; backends move such records aside (dead-letter)."""


class LeaseLostError(QueueError):
    """The worker's lease on a task expired or was taken over; its late outcome was rejected."""


class NoActiveServiceError(QueueError, RuntimeError):
    """``Task.enqueue`` found no open :class:`~litestar_queues.QueueService` in this process."""


class NoTaskContextError(QueueError, RuntimeError):
    """A task-side event helper was called outside a running task."""


class EventPublishError(QueueError):
    """An event sink failed to publish an event (raised only with ``strict=True``)."""


class BackendUnavailableError(QueueError, ConnectionError):
    """The queue backend's server cannot be reached."""


class NonRetryableError(Exception):
    """Raise from a task to fail it at once, without using the remaining retries."""


def non_retryable(message: str) -> None:
    """Fail the running task at once, without retrying.

    Args:
        message: The error text stored on the task record.

    Raises:
        NonRetryableError: Always.
    """
    raise NonRetryableError(message)
