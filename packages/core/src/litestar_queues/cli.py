"""The ``litestar-queues`` console script, for deployments without Litestar."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

import anyio

from litestar_queues.config import QueueConfig
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.service import QueueService

__all__ = ("load_service", "main")


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise QueueConfigurationError(f"expected MODULE:ATTR, got {path!r}")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def load_service(path: str) -> QueueService:
    """Import ``MODULE:ATTR`` and return a service for the ``QueueConfig`` or ``QueueService`` there.

    Raises:
        QueueConfigurationError: The path names neither.
    """
    target = _import_path(path)
    if callable(target) and not isinstance(target, QueueConfig | QueueService | type):
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``litestar-queues``."""
    parser = argparse.ArgumentParser(prog="litestar-queues", description="litestar-queues command line")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run a worker until SIGTERM/SIGINT")
    worker.add_argument("target", help="MODULE:ATTR of a QueueConfig or QueueService")
    worker.add_argument("--concurrency", "-c", type=int, default=None)
    worker.add_argument("--queues", "-q", default=None, help="comma-separated queue names (default: all)")
    worker.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.path.insert(0, "")
    try:
        anyio.run(_run_worker, args)
    except QueueConfigurationError as exc:
        print(f"litestar-queues: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
