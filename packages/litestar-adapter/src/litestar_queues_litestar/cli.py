"""``litestar queues``: run workers, list workers, find, retry, cancel and purge tasks, pause, limit queues...

``litestar queues -v ...`` / ``-q ...`` make the logs more or less detailed (the worker logs one
line per task outcome at INFO by default).
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import click

from litestar_queues import QueueService
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
    status_output,
    workers_lines,
)
from litestar_queues._admin_limits import limit_from_options, limit_lines, limits_lines
from litestar_queues.cli import log_level, open_when_reachable, process_local_message
from litestar_queues.exceptions import QueueError
from litestar_queues_litestar._supervisor import child_command, supervise
from litestar_queues_litestar.channels_sink import ChannelsQueueEventSink
from litestar_queues_litestar.plugin import QueuePlugin

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar import Litestar
    from litestar.cli._utils import LitestarEnv

__all__ = ("queues_group",)


def _plugin(app: Litestar) -> QueuePlugin:
    try:
        return app.plugins.get(QueuePlugin)
    except KeyError:
        raise click.ClickException("the app has no QueuePlugin: add plugins=[QueuePlugin(...)]") from None


_VERBOSITY = "litestar_queues.verbosity"


def _configure_logging(base: int) -> None:
    """Set the level of the ``litestar_queues`` loggers from ``base`` and the group's ``-v`` / ``-q``."""
    context = click.get_current_context(silent=True)
    verbose, quiet = context.meta.get(_VERBOSITY, (0, 0)) if context is not None else (0, 0)
    level = log_level(base, verbose=verbose, quiet=quiet)
    package = logging.getLogger("litestar_queues")
    package.setLevel(level)
    if not logging.getLogger().handlers and not package.handlers:
        # the app configured no logging: the worker's lines still reach the terminal
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)


def _run(plugin: QueuePlugin, action: Callable[[QueueService], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        service = QueueService(plugin.config)
        local = process_local_message(service)
        if local is not None:
            raise click.ClickException(local)
        async with service:
            return await action(service)

    try:
        return anyio.run(main)
    except QueueError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(name="queues")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable; -v: DEBUG).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable; worker -q: warnings only).")
def queues_group(verbose: int, quiet: int) -> None:
    """Run queue workers and inspect or change tasks."""
    # Litestar's CLI passes its own context arguments: read click's context instead of asking for it
    click.get_current_context().meta[_VERBOSITY] = (verbose, quiet)


@queues_group.command(name="worker")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="Tasks run at once per process.")
@click.option("--queues", "-q", default=None, help="Comma-separated queues to serve (default: all).")
@click.option("--processes", "-p", type=click.IntRange(min=1), default=None, help="Worker processes to run.")
@click.option("--shutdown-grace", type=click.FloatRange(min=0), help="Seconds to drain on SIGTERM.")
def worker_command(
    app: Litestar,
    env: LitestarEnv,
    concurrency: int | None,
    queues: str | None,
    processes: int | None,
    shutdown_grace: float | None,
) -> None:
    """Run workers until SIGTERM or SIGINT, then drain running tasks and exit.

    The app's in-app worker does not start here: the app is loaded but not run. Each worker logs
    one line per task outcome (``litestar queues -q worker`` for warnings only). While the queue
    backend cannot be reached at start-up it says so once and retries with backoff.
    """
    plugin = _plugin(app)
    count = processes if processes is not None else plugin.config.worker.processes
    if count > 1:
        args: list[str] = []
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        if queues:
            args += ["--queues", queues]
        if shutdown_grace is not None:
            args += ["--shutdown-grace", str(shutdown_grace)]
        raise SystemExit(supervise(child_command(env.app_path, env.cwd, args), count, env.cwd))
    overrides: dict[str, Any] = {}
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    if queues:
        overrides["queues"] = [q.strip() for q in queues.split(",") if q.strip()]
    if shutdown_grace is not None:
        overrides["shutdown_grace"] = shutdown_grace
    _configure_logging(logging.INFO)
    try:
        anyio.run(_serve, plugin, overrides)
    except QueueError as exc:
        raise click.ClickException(str(exc)) from exc


async def _serve(plugin: QueuePlugin, overrides: dict[str, Any]) -> None:
    async with AsyncExitStack() as stack:
        service = QueueService(plugin.config)
        worker = service.worker(**overrides)  # bad overrides fail before any connection attempt
        if not service.backend.reach.shared_across_processes:
            click.echo(
                f"warning: the queue backend ({type(service.backend).__name__}) lives in this process "
                "only: this worker sees no task enqueued elsewhere "
                "(use sqlite://, redis:// or postgresql:// to share the queue)",
                err=True,
            )
        if not await open_when_reachable(service, lambda message: click.echo(f"error: {message}", err=True)):
            return
        stack.push_async_callback(service.close)
        if service.publisher is not None:
            for sink in service.publisher.sinks:
                if isinstance(sink, ChannelsQueueEventSink):
                    await stack.enter_async_context(sink.started())
        served = ",".join(worker.config.queues) if worker.config.queues else "all queues"
        click.echo(
            f"worker {worker.worker_id} ready: serving {served}, concurrency {worker.config.concurrency}"
        )
        await worker.run()  # it logs its own summary when it stops


@queues_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {queue: {status: count}}.")
def status_command(app: Litestar, as_json: bool) -> None:
    """Show how many tasks each queue holds, per status, and what finished in the last hour."""
    _echo(_plugin(app), lambda service: status_output(service, as_json=as_json))


@queues_group.command(name="workers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of worker presences.")
def workers_command(app: Litestar, as_json: bool) -> None:
    """List the live workers: id, host, pid, queues, concurrency, running tasks, age, stopping.

    A worker is listed from its start until it stops cleanly; one that was killed is listed until
    its presence expires (three heartbeat intervals after its last one).
    """
    _echo(_plugin(app), lambda service: workers_lines(service, as_json=as_json))


def _filter_options(*, statuses: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filter options shared by list, retry and cancel."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--queue", "queues", default=None, help="Comma-separated queues."),
            click.option("--task", "task_names", default=None, help="Comma-separated task names."),
        ]
        if statuses:
            options += [
                click.option("--status", "statuses", default=None, help="Comma-separated statuses."),
                click.option("--key", default=None, help="Dedup key."),
            ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _echo(plugin: QueuePlugin, action: Callable[[QueueService], Awaitable[list[str]]]) -> None:
    for line in _run(plugin, action):
        click.echo(line)


@queues_group.command(name="list")
@_filter_options(statuses=True)
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, help="Page size.")
@click.option("--cursor", default=None, help="The cursor printed after the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {tasks: [...], next_cursor}.")
def list_command(
    app: Litestar,
    queues: str | None,
    task_names: str | None,
    statuses: str | None,
    key: str | None,
    oldest_first: bool,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List tasks, newest first, filtered, one page at a time."""
    filters = ListFilters(
        queues=split(queues),
        statuses=split(statuses),
        task_names=split(task_names),
        key=key,
        oldest_first=oldest_first,
        limit=limit,
        cursor=cursor,
    )
    _echo(_plugin(app), lambda service: list_lines(service, filters, as_json=as_json))


@queues_group.command(name="show")
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show_command(app: Litestar, task_id: str, as_json: bool) -> None:
    """Show one task: its fields, its kept attempts and their tracebacks."""
    _echo(_plugin(app), lambda service: show_lines(service, task_id, as_json=as_json))


@queues_group.command(name="retry")
@click.argument("task_id", required=False)
@click.option("--failed", is_flag=True, help="Retry every failed task (narrow with --queue/--task).")
@_filter_options(statuses=False)
def retry_command(
    app: Litestar, task_id: str | None, failed: bool, queues: str | None, task_names: str | None
) -> None:
    """Requeue a failed or cancelled task (idempotent), or every failed one with --failed."""
    filters = ListFilters(queues=split(queues), task_names=split(task_names))
    _echo(_plugin(app), lambda service: retry_lines(service, task_id, filters, failed=failed))


@queues_group.command(name="cancel")
@click.argument("task_id", required=False)
@_filter_options(statuses=True)
def cancel_command(
    app: Litestar,
    task_id: str | None,
    queues: str | None,
    task_names: str | None,
    statuses: str | None,
    key: str | None,
) -> None:
    """Cancel a task by id, or every unfinished task matching the filters (one at least)."""
    filters = ListFilters(
        queues=split(queues), statuses=split(statuses), task_names=split(task_names), key=key
    )
    _echo(_plugin(app), lambda service: cancel_lines(service, task_id, filters))


@queues_group.command(name="purge")
@_filter_options(statuses=True)
@click.option("--older-than", default=None, help="Only tasks finished (or enqueued) this long ago: 7d, 12h.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def purge_command(
    app: Litestar,
    queues: str | None,
    task_names: str | None,
    statuses: str | None,
    key: str | None,
    older_than: str | None,
    yes: bool,
) -> None:
    """Delete finished or waiting tasks by filter, for good (--status required; asks first)."""
    filters = ListFilters(
        queues=split(queues), statuses=split(statuses), task_names=split(task_names), key=key
    )
    try:
        question = purge_question(filters, older_than)  # bad filters fail before asking
    except QueueError as exc:
        raise click.UsageError(str(exc)) from exc
    if not yes and not click.confirm(question, default=False):
        click.echo("nothing deleted")
        return
    _echo(_plugin(app), lambda service: purge_lines(service, filters, older_than))


@queues_group.command(name="prune")
def prune_command(app: Litestar) -> None:
    """Delete finished tasks older than the retention allows, now (workers also do it on their own)."""
    _echo(_plugin(app), prune_lines)


@queues_group.command(name="pause")
@click.argument("queue")
def pause_command(app: Litestar, queue: str) -> None:
    """Stop workers claiming from QUEUE (state kept in the backend; running tasks finish)."""
    _echo(_plugin(app), lambda service: pause_lines(service, queue, paused=True))


@queues_group.command(name="resume")
@click.argument("queue")
def resume_command(app: Litestar, queue: str) -> None:
    """Resume a paused QUEUE."""
    _echo(_plugin(app), lambda service: pause_lines(service, queue, paused=False))


@queues_group.command(name="limits")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {queue: limit}.")
def limits_command(app: Litestar, as_json: bool) -> None:
    """List the queues' global limits: concurrency, rate and key concurrency."""
    _echo(_plugin(app), lambda service: limits_lines(service, as_json=as_json))


@queues_group.command(name="limit")
@click.argument("queue")
@click.option("--concurrency", type=int, default=None, help="At most N tasks of the queue run at once.")
@click.option("--rate", default=None, help="At most N starts per period: 60/1m, 10/s, 5/10s, 1000/1h.")
@click.option("--key-concurrency", type=int, default=None, help="At most N tasks per limit_key run at once.")
@click.option("--clear", is_flag=True, help="Remove the queue's limit.")
def limit_command(
    app: Litestar,
    queue: str,
    concurrency: int | None,
    rate: str | None,
    key_concurrency: int | None,
    clear: bool,
) -> None:
    """Set or remove QUEUE's global limit, for every worker (stored in the queue backend).

    A worker that starts with QueueConfig.limits naming the queue writes its configured limit again.
    """
    try:  # read before anything is opened: bad options store nothing
        limit = limit_from_options(
            concurrency=concurrency, rate=rate, key_concurrency=key_concurrency, clear=clear
        )
    except QueueError as exc:
        raise click.UsageError(str(exc)) from exc
    if not queue:
        raise click.UsageError("QUEUE must be a queue name")
    _echo(_plugin(app), lambda service: limit_lines(service, queue, limit))


@queues_group.command(name="schedules")
@click.argument("action", required=False, type=click.Choice(["pause", "resume", "delete"]))
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of schedules.")
@click.option("--force", is_flag=True, help="Delete a schedule that is still declared in the code.")
def schedules_command(
    app: Litestar, action: str | None, name: str | None, as_json: bool, force: bool
) -> None:
    """List the schedules (state, last and next fire), or pause, resume or delete NAME.

    A paused schedule's due times pass without firing until it is resumed; delete forgets the
    stored state of a schedule removed from the code (listed as removed).
    """
    plugin = _plugin(app)
    if action is None:
        _echo(plugin, lambda service: schedules_lines(service, as_json=as_json))
        return
    _echo(plugin, lambda service: schedule_action_lines(service, action, name, force=force))
