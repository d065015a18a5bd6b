"""The ``litestar-queues`` console script, for deployments without Litestar.

Commands: ``worker``, ``status``, ``workers``, ``list``, ``show``, ``retry``, ``cancel``, ``purge``,
``prune``, ``pause``, ``resume``, ``limits``, ``limit``, ``schedules`` (the same as ``litestar queues``),
``dashboard`` (the web dashboard, with the ``dashboard`` extra) and ``run-task`` (the
remote-execution protocol). ``-v`` / ``-q`` before the command make the logs
more or less detailed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import resource
import signal
import sys
import uuid
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from litestar_queues._admin import (
    ListFilters,
    cancel_lines,
    list_lines,
    pause_lines,
    prune_lines,
    purge_lines,
    purge_question,
    retry_lines,
    schedule_action_lines,
    schedules_lines,
    show_lines,
    split,
    status_lines,
    status_output,
    workers_lines,
)
from litestar_queues._admin_limits import limit_from_options, limit_lines, limits_lines
from litestar_queues.config import QueueConfig
from litestar_queues.exceptions import (
    BackendUnavailableError,
    ExtraNotInstalledError,
    QueueConfigurationError,
    QueueError,
)
from litestar_queues.execution.protocol import ExitCode, run_task
from litestar_queues.ports import BackendReach
from litestar_queues.service import QueueService

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = (
    "build_parser",
    "load_service",
    "log_level",
    "main",
    "open_when_reachable",
    "process_local_message",
    "status_lines",
)

logger = logging.getLogger("litestar_queues.cli")

CONNECT_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""Seconds a starting worker waits between attempts to reach its queue backend."""

_EXPECTED = "expected a QueueConfig, a QueueService, or a function without arguments that returns one"


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise QueueConfigurationError(f"expected MODULE:ATTR, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # only the named module itself missing is a usage error; a missing import inside it is not
        if exc.name is None or not (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            raise
        raise QueueConfigurationError(f"cannot import module {module_name!r} (from {path!r})") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise QueueConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None
    return target


def load_service(path: str) -> QueueService:
    """Import ``MODULE:ATTR`` and return a service for the ``QueueConfig`` or ``QueueService`` there.

    ``ATTR`` may also name a factory: a plain Python function that takes no arguments and
    returns a ``QueueConfig`` or ``QueueService`` (its return annotation, when it has one, must
    say so). Nothing else is called: not a class, a builtin, a method or a function that needs
    arguments (``os:system`` is refused before anything runs).

    Raises:
        QueueConfigurationError: The path names none of these; the message says what it found.
    """
    target = _import_path(path)
    if isinstance(target, QueueService):
        return target
    if isinstance(target, QueueConfig):
        return QueueService(target)
    if not _is_factory(target):
        raise QueueConfigurationError(
            f"{path} is {_describe(target)}, not a QueueConfig or QueueService: {_EXPECTED}"
        )
    made = target()
    if isinstance(made, QueueService):
        return made
    if isinstance(made, QueueConfig):
        return QueueService(made)
    raise QueueConfigurationError(
        f"{path} returned {_describe(made)}, not a QueueConfig or QueueService: {_EXPECTED}"
    )


def _is_factory(target: Any) -> bool:
    """Whether ``target`` is a plain function without required arguments that may return a config."""
    if not inspect.isfunction(target):
        return False
    signature = inspect.signature(target)
    for parameter in signature.parameters.values():
        required = parameter.default is inspect.Parameter.empty
        if required and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            return False
    returns = signature.return_annotation
    if returns is inspect.Signature.empty:
        return True
    if isinstance(returns, str):
        return "QueueConfig" in returns or "QueueService" in returns
    return isinstance(returns, type) and issubclass(returns, QueueConfig | QueueService)


def _describe(value: Any) -> str:
    kind = type(value).__name__
    if inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.isclass(value):
        qualified = f"{getattr(value, '__module__', None) or '?'}.{value.__qualname__}"
        if inspect.isfunction(value):
            returns = inspect.signature(value).return_annotation
            needs = [
                name
                for name, parameter in inspect.signature(value).parameters.items()
                if parameter.default is inspect.Parameter.empty
                and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            ]
            shown = getattr(returns, "__name__", returns)
            detail = f"needing arguments {', '.join(needs)}" if needs else f"returning {shown}"
            return f"a function ({qualified}, {detail})"
        return f"a {kind} ({qualified})"
    return f"a {kind}"


def log_level(base: int, *, verbose: int = 0, quiet: int = 0) -> int:
    """``base`` made more detailed by each ``-v`` and less by each ``-q`` (DEBUG to CRITICAL)."""
    return min(max(base + 10 * (quiet - verbose), logging.DEBUG), logging.CRITICAL)


async def open_when_reachable(service: QueueService, report: Callable[[str], None]) -> bool:
    """Open ``service``, retrying with backoff while its queue backend cannot be reached.

    The first failure is reported once through ``report`` (one line); each retry is logged at
    WARNING. SIGTERM or SIGINT stops the retrying.

    Returns:
        ``True`` once open, ``False`` when a stop signal came first.
    """
    opened = False
    async with anyio.create_task_group() as tg:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    name = signal.Signals(signum).name
                    logger.info("received %s before the queue backend came up: stopping", name)
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(stop_on_signal)
        failures = 0
        while True:
            try:
                await service.open()
            except BackendUnavailableError as exc:
                delay = CONNECT_BACKOFF[min(failures, len(CONNECT_BACKOFF) - 1)]
                failures += 1
                if failures == 1:
                    report(
                        f"the queue backend cannot be reached: {exc} (retrying until it is up; SIGTERM stops)"
                    )
                logger.warning(
                    "queue backend unreachable (attempt %d), retrying in %.0f s: %s", failures, delay, exc
                )
                await anyio.sleep(delay)
                continue
            opened = True
            if failures:
                logger.warning("queue backend reached after %d failed attempts", failures)
            tg.cancel_scope.cancel()
            break
    return opened


def process_local_message(service: QueueService) -> str | None:
    """Why a command in another process cannot see the app's tasks, when the backend is process-local."""
    if service.backend.reach is not BackendReach.PROCESS:
        return None
    return (
        f"the queue backend ({type(service.backend).__name__}) keeps its tasks in the memory of the "
        "process that runs the app, so this command (another process) cannot see or change them: "
        "read them in the app (await queue_service.stats()), or use a backend other processes reach "
        "(sqlite:///queue.db, redis://, postgresql://)"
    )


def _error(message: str) -> None:
    print(f"litestar-queues: {message}", file=sys.stderr)


async def _run_worker(args: argparse.Namespace) -> int:
    service = load_service(args.target)
    overrides: dict[str, Any] = {}
    if args.concurrency is not None:
        overrides["concurrency"] = args.concurrency
    if args.queues:
        overrides["queues"] = [q for q in args.queues.split(",") if q]
    worker = service.worker(**overrides)  # bad overrides fail before any connection attempt
    if not service.backend.reach.shared_across_processes:
        _error(
            f"warning: the queue backend ({type(service.backend).__name__}) lives in this process only: "
            "this worker sees no task enqueued elsewhere (use sqlite://, redis:// or postgresql://)"
        )
    if not await open_when_reachable(service, _error):
        return 0
    try:
        await worker.run()
    finally:
        await service.close()
    return 0


async def _admin(args: argparse.Namespace, action: Callable[[QueueService], Awaitable[Any]]) -> Any:
    service = load_service(args.target)
    local = process_local_message(service)
    if local is not None:
        raise QueueConfigurationError(local)
    async with service:
        return await action(service)


def _add_admin(commands: Any) -> None:
    target_help = "MODULE:ATTR of a QueueConfig or QueueService"
    status = commands.add_parser(
        "status", help="show how many tasks each queue holds, per status, and what finished in the last hour"
    )
    status.add_argument("target", help=target_help)
    status.add_argument("--json", action="store_true", help="print JSON: {queue: {status: count}}")
    workers = commands.add_parser(
        "workers", help="list the live workers: id, host, pid, queues, concurrency, running, age, stopping"
    )
    workers.add_argument("target", help=target_help)
    workers.add_argument("--json", action="store_true", help="print JSON: a list of worker presences")
    listing = commands.add_parser("list", help="list tasks, newest first, filtered, a page at a time")
    listing.add_argument("target", help=target_help)
    _add_filters(listing, statuses=True)
    listing.add_argument("--oldest-first", action="store_true", help="oldest first")
    listing.add_argument("--limit", type=int, default=50, help="page size (1 to 1000, default 50)")
    listing.add_argument("--cursor", default=None, help="the cursor printed after the previous page")
    listing.add_argument("--json", action="store_true", help="print JSON: {tasks: [...], next_cursor}")
    show = commands.add_parser("show", help="show one task: fields, attempts and their tracebacks")
    show.add_argument("target", help=target_help)
    show.add_argument("task_id")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    retry = commands.add_parser(
        "retry", help="requeue a failed or cancelled task (idempotent), or every failed one with --failed"
    )
    retry.add_argument("target", help=target_help)
    retry.add_argument("task_id", nargs="?")
    retry.add_argument("--failed", action="store_true", help="retry every failed task (narrow with filters)")
    _add_filters(retry, statuses=False)
    cancel = commands.add_parser("cancel", help="cancel a task by id, or every unfinished task by filter")
    cancel.add_argument("target", help=target_help)
    cancel.add_argument("task_id", nargs="?")
    _add_filters(cancel, statuses=True)
    purge = commands.add_parser(
        "purge", help="delete finished or waiting tasks by filter, for good (asks first; --yes skips)"
    )
    purge.add_argument("target", help=target_help)
    _add_filters(purge, statuses=True)
    purge.add_argument(
        "--older-than", default=None, help="only tasks finished (or enqueued) this long ago: 7d, 12h"
    )
    purge.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    prune = commands.add_parser("prune", help="delete finished tasks older than the retention allows, now")
    prune.add_argument("target", help=target_help)
    for name, text in (("pause", "stop workers claiming from a queue"), ("resume", "resume a paused queue")):
        command = commands.add_parser(name, help=text)
        command.add_argument("target", help=target_help)
        command.add_argument("queue")
    limits = commands.add_parser(
        "limits", help="list the queues' global limits: concurrency, rate, key concurrency"
    )
    limits.add_argument("target", help=target_help)
    limits.add_argument("--json", action="store_true", help="print JSON: {queue: limit}")
    limit = commands.add_parser(
        "limit",
        help="set or remove a queue's global limit, for every worker",
        description="Stores the limit in the queue backend: every worker's next claim applies it. "
        "A worker that starts with QueueConfig.limits naming the queue writes its configured limit again.",
    )
    limit.add_argument("target", help=target_help)
    limit.add_argument("queue")
    limit.add_argument(
        "--concurrency", type=int, default=None, help="at most N tasks of the queue run at once"
    )
    limit.add_argument(
        "--rate", default=None, help="at most N starts per period: 60/1m, 10/s, 5/10s, 1000/1h"
    )
    limit.add_argument(
        "--key-concurrency", type=int, default=None, help="at most N tasks per limit_key run at once"
    )
    limit.add_argument("--clear", action="store_true", help="remove the queue's limit")
    schedules = commands.add_parser(
        "schedules", help="list the schedules (state, last and next fire), or pause, resume or delete one"
    )
    schedules.add_argument("target", help=target_help)
    schedules.add_argument(
        "action", nargs="?", choices=("pause", "resume", "delete"), help="change one schedule"
    )
    schedules.add_argument("name", nargs="?", help="the schedule's name (with an action)")
    schedules.add_argument("--json", action="store_true", help="print JSON: a list of schedules")
    schedules.add_argument(
        "--force", action="store_true", help="delete a schedule still declared in the code"
    )


def _add_filters(parser: Any, *, statuses: bool) -> None:
    parser.add_argument("--queue", dest="queues", default=None, help="comma-separated queues")
    parser.add_argument("--task", dest="task_names", default=None, help="comma-separated task names")
    if statuses:
        parser.add_argument("--status", dest="statuses", default=None, help="comma-separated statuses")
        parser.add_argument("--key", default=None, help="dedup key")


def _filters(args: argparse.Namespace) -> ListFilters:
    return ListFilters(
        queues=split(getattr(args, "queues", None)),
        statuses=split(getattr(args, "statuses", None)),
        task_names=split(getattr(args, "task_names", None)),
        key=getattr(args, "key", None),
        oldest_first=getattr(args, "oldest_first", False),
        limit=getattr(args, "limit", 50),
        cursor=getattr(args, "cursor", None),
    )


async def _run_admin(args: argparse.Namespace) -> list[str]:
    if args.command == "status":
        status: list[str] = await _admin(args, lambda s: status_output(s, as_json=args.json))
        return status
    if args.command == "workers":
        workers: list[str] = await _admin(args, lambda s: workers_lines(s, as_json=args.json))
        return workers
    if args.command == "limits":
        listed: list[str] = await _admin(args, lambda s: limits_lines(s, as_json=args.json))
        return listed
    if args.command == "limit":
        # read before anything is opened: bad options store nothing
        limit = limit_from_options(
            concurrency=args.concurrency,
            rate=args.rate,
            key_concurrency=args.key_concurrency,
            clear=args.clear,
        )
        changed: list[str] = await _admin(args, lambda s: limit_lines(s, args.queue, limit))
        return changed
    filters = _filters(args)
    if args.command == "list":
        lines: list[str] = await _admin(args, lambda s: list_lines(s, filters, as_json=args.json))
    elif args.command == "show":
        lines = await _admin(args, lambda s: show_lines(s, args.task_id, as_json=args.json))
    elif args.command == "retry":
        lines = await _admin(args, lambda s: retry_lines(s, args.task_id, filters, failed=args.failed))
    elif args.command == "cancel":
        lines = await _admin(args, lambda s: cancel_lines(s, args.task_id, filters))
    elif args.command == "purge":
        question = purge_question(filters, args.older_than)  # bad filters fail before asking
        if not (args.yes or _confirmed(question)):
            return ["nothing deleted"]
        lines = await _admin(args, lambda s: purge_lines(s, filters, args.older_than))
    elif args.command == "prune":
        lines = await _admin(args, prune_lines)
    elif args.command == "schedules" and args.action is None:
        lines = await _admin(args, lambda s: schedules_lines(s, as_json=args.json))
    elif args.command == "schedules":
        lines = await _admin(
            args, lambda s: schedule_action_lines(s, args.action, args.name, force=args.force)
        )
    else:
        paused = args.command == "pause"
        lines = await _admin(args, lambda s: pause_lines(s, args.queue, paused=paused))
    return lines


def _confirmed(question: str) -> bool:
    """Ask ``question`` on a terminal; without one, refuse (the caller passes --yes instead)."""
    if not sys.stdin.isatty():
        raise QueueConfigurationError(f"{question} Not asked without a terminal: add --yes to confirm")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


_DASHBOARD_EXTRA = 'pip install "litestar-queues[dashboard]"'
"""The install line of what ``litestar-queues dashboard`` needs: the Litestar adapter, Jinja2 and uvicorn."""

_DASHBOARD_MODULES = ("litestar_queues_litestar", "litestar", "jinja2", "uvicorn")


def _add_dashboard(commands: Any) -> None:
    dashboard = commands.add_parser(
        "dashboard",
        help="serve the web dashboard: queues, tasks, schedules, live (needs litestar-queues[dashboard])",
        description="Serves the dashboard until SIGINT/SIGTERM. On a loopback address it may go without "
        "a password; on any other it needs one (HTTP basic auth; put it behind HTTPS).",
    )
    dashboard.add_argument(
        "target", help="a queue backend URL (sqlite:///queue.db, redis://...) or MODULE:ATTR of a QueueConfig"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    dashboard.add_argument("--user", default="admin", help="basic auth user name (default admin)")
    dashboard.add_argument(
        "--password",
        default=None,
        help="require basic auth with this password (better: the LITESTAR_QUEUES_DASHBOARD_PASSWORD "
        "environment variable, which ps does not show); needed off loopback",
    )
    dashboard.add_argument("--poll-interval", type=float, default=2.0, help="seconds between live refreshes")


def _dashboard_server() -> Any:
    """The adapter's standalone dashboard module, imported on use (the core never imports Litestar).

    Raises:
        ExtraNotInstalledError: The adapter, Jinja2 or uvicorn is missing; the message names the extra.
    """
    try:
        importlib.import_module("jinja2")
        importlib.import_module("uvicorn")
        return importlib.import_module("litestar_queues_litestar.dashboard.standalone")
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in _DASHBOARD_MODULES:
            raise
        raise ExtraNotInstalledError(
            f"the dashboard needs the Litestar adapter, Jinja2 and uvicorn ({missing} is missing): "
            f"{_DASHBOARD_EXTRA}"
        ) from exc


def _run_dashboard(args: argparse.Namespace) -> int:
    server = _dashboard_server()
    password = args.password or os.environ.get(server.PASSWORD_ENV) or None
    server.serve(
        args.target,
        host=args.host,
        port=args.port,
        username=args.user,
        password=password,
        poll_interval=args.poll_interval,
    )
    return 0


def _add_run_task(commands: Any) -> None:
    run_task = commands.add_parser(
        "run-task",
        help="run one stored task here and write its outcome (the remote-execution protocol)",
        description="Exit status: 0 completed, 10 failed, 11 scheduled for retry, 12 lease lost, "
        "13 record not found or not claimable (or held back by its queue's limit), 64 usage or "
        "configuration error.",
    )
    run_task.add_argument("task_id", help="id of the task record")
    run_task.add_argument("--app", required=True, help="MODULE:ATTR of a QueueConfig or QueueService")
    run_task.add_argument("--lease", default=None, help="adopt the record claimed under this lease id")
    run_task.add_argument("--worker-id", default=None, help="identity in the record and events")
    run_task.add_argument("--memory-limit-mb", type=int, default=None, help="address-space limit (RLIMIT_AS)")
    run_task.add_argument(
        "--exit-zero-when-recorded",
        action="store_true",
        help="exit 0 whenever nothing is left to report (for platforms that retry failed containers)",
    )
    run_task.add_argument("--log-level", default="WARNING")


async def _run_task(args: argparse.Namespace) -> int:
    try:
        task_id = uuid.UUID(args.task_id)
        service = load_service(args.app)
    except Exception as exc:  # whatever stops the app from loading is a usage/configuration error
        print(f"litestar-queues run-task: {exc!r}", file=sys.stderr)
        return ExitCode.USAGE
    async with service:
        code = await run_task(service, task_id, lease_id=args.lease, worker_id=args.worker_id)
    if args.exit_zero_when_recorded:
        return 0
    return int(code)


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _exit_now(code: int) -> NoReturn:
    # run-task ends the process at once: a sync task abandoned at its timeout may still hold a
    # (non-daemon) worker thread, and the outcome is already written
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``litestar-queues`` (worker, status, list, show, retry, cancel, run-task)."""
    parser = argparse.ArgumentParser(prog="litestar-queues", description="litestar-queues command line")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable; -v: DEBUG)"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="less log output (repeatable; the worker's -q: warnings only, no line per task)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser(
        "worker",
        help="run a worker until SIGTERM/SIGINT",
        description="Logs a start-up line, one line per task outcome, a throughput summary now and "
        "then and on stop (INFO; litestar-queues -q worker ... for warnings only).",
    )
    worker.add_argument("target", help="MODULE:ATTR of a QueueConfig or QueueService")
    worker.add_argument("--concurrency", "-c", type=int, default=None)
    worker.add_argument("--queues", "-q", default=None, help="comma-separated queue names (default: all)")
    worker.add_argument("--log-level", default="INFO")
    _add_admin(commands)
    _add_dashboard(commands)
    _add_run_task(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``litestar-queues``."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if argv[:1] == ["run-task"] and exc.code == 2:
            return 64
        raise
    base = logging.getLevelName(args.log_level.upper()) if hasattr(args, "log_level") else logging.WARNING
    if not isinstance(base, int):
        parser.error(f"unknown log level {args.log_level!r}")
    logging.basicConfig(
        level=log_level(base, verbose=args.verbose, quiet=args.quiet),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.path.insert(0, "")
    if args.command == "run-task":
        if args.memory_limit_mb is not None:
            _limit_memory(args.memory_limit_mb)
        _exit_now(anyio.run(_run_task, args))
    try:
        if args.command == "worker":
            return int(anyio.run(_run_worker, args))
        if args.command == "dashboard":
            return _run_dashboard(args)
        for line in anyio.run(_run_admin, args):
            print(line)
    except QueueConfigurationError as exc:
        _error(str(exc))
        return 2
    except QueueError as exc:
        _error(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
