"""The task API: ``@task(...)`` registers a function and returns a :class:`Task`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

import msgspec

from litestar_queues._active import active_service
from litestar_queues.exceptions import (
    QueueConfigurationError,
    ScheduleError,
    TaskNameError,
    TaskRegistrationError,
)
from litestar_queues.registry import TaskRegistry, default_registry
from litestar_queues.retry import Backoff
from litestar_queues.schedules.definition import MisfirePolicy, Schedule

if TYPE_CHECKING:
    from litestar_queues.task_result import TaskResult

__all__ = ("EnqueueOptions", "Task", "TaskCall", "task")

P = ParamSpec("P")
R = TypeVar("R")

RunAfter = float | int | timedelta | datetime
"""Delay before a task is due: seconds, a :class:`~datetime.timedelta` or an aware datetime."""


class EnqueueOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The enqueue options, defined once: per-enqueue overrides of a task's defaults.

    ``None`` keeps the value of the layer below. The layers, lowest first: the ``@task``
    defaults, each ``Task.using(...)``, then the keywords of ``QueueService.enqueue`` (or of
    ``enqueue_in_transaction``). :meth:`Task.using` and :meth:`QueueService.enqueue
    <litestar_queues.QueueService.enqueue>` take exactly these fields as keywords.

    Attributes:
        queue: Queue to enqueue into.
        priority: Higher runs first.
        retries: Retries after the first attempt.
        timeout: Seconds an attempt may run.
        run_after: Delay before the task is due.
        execution_backend: Where the task runs.
        execution_profile: Execution profile name.
        metadata: Free JSON metadata stored on the record.
        key: Dedup key.
        limit_key: Partition key of the queue's limit (``"customer:42"``): with a
            ``key_concurrency`` in the queue's :class:`~litestar_queues.QueueLimit`, at most that
            many tasks with the same limit key run at once, across every worker.
    """

    queue: str | None = None
    priority: int | None = None
    retries: int | None = None
    timeout: float | None = None
    run_after: float | int | timedelta | datetime | None = None
    execution_backend: str | None = None
    execution_profile: str | None = None
    metadata: Mapping[str, Any] | None = None
    key: str | None = None
    limit_key: str | None = None

    @classmethod
    def from_call(cls, arguments: Mapping[str, Any]) -> EnqueueOptions:
        """Pick the option fields out of a call's arguments (pass ``locals()``).

        :meth:`Task.using`, :meth:`QueueService.enqueue <litestar_queues.QueueService.enqueue>`
        and :func:`task` declare the fields as keyword parameters for type checkers and read
        them back with this, so the list lives here once (a test checks the signatures).
        """
        return cls(**{name: arguments[name] for name in cls.__struct_fields__ if name in arguments})

    def merged(self, other: EnqueueOptions) -> EnqueueOptions:
        """Return these options with every value ``other`` sets taking precedence."""
        # this runs twice per enqueue, mostly with nothing set: one comparison in C then, and
        # otherwise one astuple instead of two getattr per field
        if other == _NOTHING_SET:
            return self
        values = msgspec.structs.astuple(other)
        changes = {f: v for f, v in zip(other.__struct_fields__, values, strict=True) if v is not None}
        return msgspec.structs.replace(self, **changes) if changes else self

    @classmethod
    def split(cls, keywords: Mapping[str, Any]) -> tuple[EnqueueOptions, dict[str, Any]]:
        """Separate the option keywords of ``keywords`` from the task's own keyword arguments.

        Returns:
            The options, and the remaining keyword arguments.
        """
        options = {k: v for k, v in keywords.items() if k in cls.__struct_fields__}
        rest = {k: v for k, v in keywords.items() if k not in cls.__struct_fields__}
        return cls(**options), rest

    def check(self) -> None:
        """Validate every value that is set.

        Raises:
            QueueConfigurationError: A value is invalid; the message names the option.
        """
        if self.queue is not None and (not isinstance(self.queue, str) or not self.queue):
            raise QueueConfigurationError("queue must be a non-empty string")
        retries = self.retries
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            raise QueueConfigurationError(f"retries must be a whole number >= 0, got {retries!r}")
        if self.timeout is not None and (isinstance(self.timeout, bool) or not self.timeout > 0):
            raise QueueConfigurationError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        priority = self.priority
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
            raise QueueConfigurationError(f"priority must be an integer, got {priority!r}")
        if self.key is not None and (not isinstance(self.key, str) or not self.key):
            raise QueueConfigurationError("key must be a non-empty string")
        if self.limit_key is not None and (not isinstance(self.limit_key, str) or not self.limit_key):
            raise QueueConfigurationError(
                "limit_key must be a non-empty string (e.g. limit_key='customer:42')"
            )
        if self.metadata is not None and not isinstance(self.metadata, Mapping):
            raise QueueConfigurationError(
                f"metadata must be a mapping of JSON values, got {type(self.metadata).__name__}"
            )


_BUILT_IN_DEFAULTS = EnqueueOptions(queue="default", priority=0, retries=0)
"""What a task defaults to when ``@task`` does not say."""
_NOTHING_SET = EnqueueOptions()


class Task(Generic[P, R]):
    """A registered task: a function plus its queueing defaults.

    Calling the task calls the function directly (an async task returns its coroutine, so
    ``await render_report("x")`` works as before). :meth:`enqueue` queues it through the active
    service; :meth:`using` returns a configured copy.

    Args:
        fn: The function.
        name: The registered name records refer to.
        defaults: The ``@task`` defaults (``queue`` and the rest; unset ones take the built-in
            defaults: queue ``"default"``, priority 0, retries 0, no timeout).
        backoff: Delay between attempts.
        options: Overrides set with :meth:`using`, above the defaults.
        schedule: The schedule declared with ``@task(cron=...)`` or ``@task(interval=...)``.
    """

    __slots__ = (
        "backoff",
        "defaults",
        "fn",
        "is_async",
        "name",
        "options",
        "schedule",
        "wants_context",
        "wants_job_id",
    )

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str,
        defaults: EnqueueOptions | None = None,
        backoff: Backoff | None = None,
        options: EnqueueOptions | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise TaskRegistrationError("a task name must be a non-empty string")
        self.defaults = _BUILT_IN_DEFAULTS.merged(defaults or EnqueueOptions())
        """The ``@task`` defaults: the lowest layer of :meth:`resolve`."""
        self.defaults.check()
        self.fn = fn
        self.name = name
        self.backoff = backoff or Backoff()
        self.options = options or EnqueueOptions()
        """The overrides set with :meth:`using` (``None`` fields keep the defaults)."""
        self.schedule = schedule
        """The schedule declared on the task (``None``: none); the registry collects it."""
        self.is_async = inspect.iscoroutinefunction(fn)
        params = inspect.signature(fn).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.wants_job_id = takes_any or "_job_id" in params
        self.wants_context = takes_any or "_task_context" in params

    @property
    def queue(self) -> str:
        """The default queue."""
        assert self.defaults.queue is not None
        return self.defaults.queue

    @property
    def priority(self) -> int:
        """The default priority."""
        assert self.defaults.priority is not None
        return self.defaults.priority

    @property
    def retries(self) -> int:
        """The default retries."""
        assert self.defaults.retries is not None
        return self.defaults.retries

    @property
    def timeout(self) -> float | None:
        """The default timeout in seconds (``None``: none)."""
        return self.defaults.timeout

    @property
    def execution_backend(self) -> str | None:
        """The default execution backend (``None``: the config's)."""
        return self.defaults.execution_backend

    @property
    def execution_profile(self) -> str | None:
        """The default execution profile."""
        return self.defaults.execution_profile

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function directly, without queueing."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name!r} queue={self.queue!r}>"

    def resolve(self, overrides: EnqueueOptions) -> EnqueueOptions:
        """The options an enqueue of this task uses: defaults, then :meth:`using`, then ``overrides``.

        Raises:
            QueueConfigurationError: A resulting value is invalid.
        """
        resolved = self.defaults.merged(self.options).merged(overrides)
        resolved.check()
        return resolved

    def using(
        self,
        *,
        queue: str | None = None,
        priority: int | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        run_after: RunAfter | None = None,
        execution_backend: str | None = None,
        execution_profile: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        key: str | None = None,
        limit_key: str | None = None,
    ) -> Task[P, R]:
        """Return a copy with other enqueue defaults; the original is unchanged.

        The copy shares the registered name, so workers run it as the same task. Takes the
        fields of :class:`EnqueueOptions`.
        """
        overrides = EnqueueOptions.from_call(locals())
        return Task(
            self.fn,
            name=self.name,
            defaults=self.defaults,
            backoff=self.backoff,
            options=self.options.merged(overrides),
            schedule=self.schedule,
        )

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskResult[R]:
        """Enqueue through the active service (the one most recently opened in this process).

        Usable where no service is at hand, such as ``BackgroundTask(my_task.enqueue, 42)``.

        Raises:
            NoActiveServiceError: No service is open in this process.
        """
        (handle,) = await active_service().enqueue_many([TaskCall(self, args, kwargs)])
        return handle


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One task with its arguments, for ``QueueService.enqueue_many``.

    Attributes:
        task: The task (or its registered name); use ``task.using(...)`` for overrides.
        args: Positional arguments.
        kwargs: Keyword arguments.
    """

    task: Task[..., Any] | str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@overload
def task(
    name: Callable[P, R],
) -> Task[P, R]: ...


@overload
def task(
    name: str | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    retries: int = 0,
    timeout: float | None = None,
    execution_backend: str | None = None,
    execution_profile: str | None = None,
    backoff: Backoff | None = None,
    registry: TaskRegistry | None = None,
    cron: str | None = None,
    interval: timedelta | float | None = None,
    timezone: str = "UTC",
    schedule_args: Sequence[Any] = (),
    schedule_kwargs: Mapping[str, Any] | None = None,
    jitter: float = 0.0,
    misfire: MisfirePolicy = MisfirePolicy.CATCH_UP_ONCE,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    name: str | Callable[P, R] | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    retries: int = 0,
    timeout: float | None = None,
    execution_backend: str | None = None,
    execution_profile: str | None = None,
    backoff: Backoff | None = None,
    registry: TaskRegistry | None = None,
    cron: str | None = None,
    interval: timedelta | float | None = None,
    timezone: str = "UTC",
    schedule_args: Sequence[Any] = (),
    schedule_kwargs: Mapping[str, Any] | None = None,
    jitter: float = 0.0,
    misfire: MisfirePolicy = MisfirePolicy.CATCH_UP_ONCE,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Register a function as a task: ``@task("reports.render", ...)``, ``@task()`` or ``@task``.

    Without a name the task is registered under the function's ``module.qualname``
    (``myapp.jobs.render_report``); a worker finds it under the same name when it imports the
    same module.

    Args:
        name: Unique name that records refer to (``"reports.render"``); ``None`` (or the
            function itself, for a bare ``@task``) derives it from the function.
        queue: Default queue.
        priority: Default priority (higher runs first).
        retries: Retries after a failed first attempt (``retries=2``: at most 3 attempts).
        timeout: Seconds an attempt may run before it is cancelled and counted as failed.
        execution_backend: Default execution backend name (``None``: the config's default).
        execution_profile: Default execution profile name.
        backoff: Delay between attempts (default: exponential from 1 s, with jitter).
        registry: Registry to use (default: the process registry).
        cron: Enqueue the task periodically on this five-field cron expression (needs the
            ``cron`` extra), under a schedule named after the task; see ``docs/schedules.md``.
        interval: Enqueue the task periodically every this many seconds (or timedelta).
            Give at most one of ``cron`` and ``interval``.
        timezone: IANA zone the ``cron`` expression is read in (default UTC).
        schedule_args: Positional arguments of the scheduled runs (JSON values).
        schedule_kwargs: Keyword arguments of the scheduled runs (JSON values).
        jitter: Up to this many seconds of delay added to each scheduled run's start.
        misfire: What the schedule does after downtime (``catch_up_once`` or ``skip``).

    Returns:
        A decorator turning the function into a :class:`Task` (for a bare ``@task``, the task).

    Raises:
        TaskRegistrationError: ``name`` is already registered to another function.
        ScheduleError: The schedule is invalid (a bad cron expression, a schedule keyword
            without ``cron`` or ``interval``); the message names the fix.
        QueueConfigurationError: A default is invalid.
        TaskNameError: No name is given and none can be derived (a lambda, a function defined
            inside another function, a callable object): pass ``@task("a.name")``. It is a
            ``TypeError`` and a ``TaskRegistrationError``.
    """
    if name is not None and not isinstance(name, str) and not callable(name):
        raise TaskRegistrationError(f"a task name must be a non-empty string, got {name!r}")
    defaults = EnqueueOptions.from_call(locals())
    timing = _ScheduleKeywords(
        cron=cron,
        interval=interval,
        timezone=timezone,
        args=schedule_args,
        kwargs=schedule_kwargs,
        jitter=jitter,
        misfire=misfire,
    )

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        task_name = name if isinstance(name, str) else derived_name(fn)
        created = Task(
            fn,
            name=task_name,
            defaults=defaults,
            backoff=backoff,
            schedule=timing.schedule(task_name),
        )
        (registry or default_registry).register(created)
        return created

    if callable(name):
        return decorate(name)
    return decorate


@dataclass(frozen=True, slots=True, kw_only=True)
class _ScheduleKeywords:
    """The schedule keywords of ``@task``, turned into a :class:`Schedule` once the name is known."""

    cron: str | None
    interval: timedelta | float | None
    timezone: str
    args: Sequence[Any]
    kwargs: Mapping[str, Any] | None
    jitter: float
    misfire: MisfirePolicy

    def schedule(self, task_name: str) -> Schedule | None:
        if self.cron is None and self.interval is None:
            given = [
                keyword
                for keyword, value, default in (
                    ("timezone", self.timezone, "UTC"),
                    ("schedule_args", tuple(self.args), ()),
                    ("schedule_kwargs", self.kwargs, None),
                    ("jitter", self.jitter, 0.0),
                    ("misfire", self.misfire, MisfirePolicy.CATCH_UP_ONCE),
                )
                if value != default
            ]
            if given:
                raise ScheduleError(
                    f"task {task_name!r}: {', '.join(given)} configure a schedule, which needs "
                    "cron= or interval= (e.g. @task(..., cron='0 3 * * *'))"
                )
            return None
        # the schedule is named after the task: its stored state and due-time keys hang on it
        return Schedule(
            name=task_name,
            task=task_name,
            args=self.args,
            kwargs=dict(self.kwargs or {}),
            cron=self.cron,
            interval=self.interval,
            timezone=self.timezone,
            jitter=self.jitter,
            misfire=self.misfire,
        )


def derived_name(fn: Callable[..., Any]) -> str:
    """The name a task registered without one gets: ``module.qualname`` of its function.

    Raises:
        TaskNameError: ``fn`` has no stable importable name (a lambda, a nested function, a callable
            object without ``__qualname__``).
    """
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        raise TaskNameError(
            f"cannot derive a task name from {fn!r}: a worker must import it by module and name; "
            'give the task a name: @task("some.name")'
        )
    return f"{module}.{qualname}"
