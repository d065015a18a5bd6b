"""The ``litestar-queues`` console script, for deployments without Litestar."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import resource
import sys
import uuid
from typing import Any, NoReturn

import anyio

from litestar_queues.config import QueueConfig
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.execution.protocol import ExitCode, run_task
from litestar_queues.service import QueueService
from litestar_queues.task import Task

__all__ = ("build_parser", "load_service", "main")


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

    Raises:
        QueueConfigurationError: The path names neither.
    """
    target = _import_path(path)
    if callable(target) and not isinstance(target, QueueConfig | QueueService | Task | type):
        target = target()
    if isinstance(target, QueueService):
        return target
    if isinstance(target, QueueConfig):
        return QueueService(target)
    raise QueueConfigurationError(f"{path} is a {type(target).__name__}, not a QueueConfig or QueueService")


async def _run_worker(args: argparse.Namespace) -> None:
    service = load_service(args.target)
    overrides: dict[str, Any] = {}
    if args.concurrency is not None:
        overrides["concurrency"] = args.concurrency
    if args.queues:
        overrides["queues"] = [q for q in args.queues.split(",") if q]
    async with service:
        await service.worker(**overrides).run()


def _add_run_task(commands: Any) -> None:
    run_task = commands.add_parser(
        "run-task",
        help="run one stored task here and write its outcome (the remote-execution protocol)",
        description="Exit status: 0 completed, 10 failed, 11 scheduled for retry, 12 lease lost, "
        "13 record not found or not claimable, 64 usage or configuration error.",
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
    """The argument parser of ``litestar-queues`` (``worker`` and ``run-task``)."""
    parser = argparse.ArgumentParser(prog="litestar-queues", description="litestar-queues command line")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run a worker until SIGTERM/SIGINT")
    worker.add_argument("target", help="MODULE:ATTR of a QueueConfig or QueueService")
    worker.add_argument("--concurrency", "-c", type=int, default=None)
    worker.add_argument("--queues", "-q", default=None, help="comma-separated queue names (default: all)")
    worker.add_argument("--log-level", default="INFO")
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
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.path.insert(0, "")
    if args.command == "run-task":
        if args.memory_limit_mb is not None:
            _limit_memory(args.memory_limit_mb)
        _exit_now(anyio.run(_run_task, args))
    try:
        anyio.run(_run_worker, args)
    except QueueConfigurationError as exc:
        print(f"litestar-queues: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
