"""``python -m litestar_queues_sql create-schema URL``: create the queue tables and indexes."""

from __future__ import annotations

import argparse
import sys

import anyio

from litestar_queues.exceptions import BackendUnavailableError, QueueConfigurationError
from litestar_queues_sql._errors import unavailable_as_backend_error
from litestar_queues_sql.schema import create_schema

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m litestar_queues_sql", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-schema", help="create the queue tables and indexes (idempotent)")
    create.add_argument("url", help="database URL, e.g. postgresql://user@host/db or sqlite:///queue.db")
    create.add_argument("--table-prefix", default=None, help="table name prefix (default: lq_)")
    create.add_argument("--schema", default=None, help="PostgreSQL schema (default: search path)")
    args = parser.parse_args(argv)
    url = args.url
    extra = [
        f"{name}={value}"
        for name, value in (("table_prefix", args.table_prefix), ("schema", args.schema))
        if value is not None
    ]
    if extra:
        url += ("&" if "?" in url else "?") + "&".join(extra)

    async def run() -> None:
        with unavailable_as_backend_error("create schema"):
            namespace = await create_schema(url)
        names = ", ".join(t.fullname for t in namespace.all)
        print(f"queue tables ready: {names}")

    try:
        anyio.run(run)
    except (QueueConfigurationError, BackendUnavailableError) as exc:
        print(f"create-schema: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
