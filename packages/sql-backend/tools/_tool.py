"""What the SQL tools next to this module share (not a tool itself).

* :func:`database_parser` and :func:`run_on_database`: the command line's database, a URL or
  ``--local-postgres`` (a throwaway server, ``tests.servers.PostgresServer``, the one the test
  fixtures use: installed binaries, ``postgres`` user when run as root, fsync off, each run on
  fresh tables under a random ``table_prefix``);
* :func:`time_calls` and :func:`nearest_rank`: milliseconds per call and their percentiles.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def database_parser() -> argparse.ArgumentParser:
    """A parser with the database arguments: ``url`` (optional) and ``--local-postgres``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?")
    parser.add_argument(
        "--local-postgres",
        action="store_true",
        help="run on a throwaway server (tests.servers.PostgresServer)",
    )
    return parser


def run_on_database(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    run: Callable[..., Awaitable[Any]],
    *run_args: Any,
    prefix: str = "x",
) -> None:
    """``anyio.run(run, url, *run_args)`` on the URL given, or on a throwaway PostgreSQL server.

    On the throwaway server the tables get a random ``table_prefix`` starting with ``prefix``;
    without a URL nor ``--local-postgres`` the parser exits with its usage.
    """
    if args.local_postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
        from tests.servers import PostgresServer

        with PostgresServer() as server:
            anyio.run(run, f"{server.url}?table_prefix={prefix}{uuid.uuid4().hex[:8]}_", *run_args)
    elif args.url:
        anyio.run(run, args.url, *run_args)
    else:
        parser.error("give a database URL or --local-postgres")


async def time_calls(calls: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    """Milliseconds of each of ``calls`` calls in a row, ``call(0)`` to ``call(calls - 1)``."""
    times = []
    for n in range(calls):
        started = time.perf_counter()
        await call(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


def nearest_rank(times: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (0..1) of ``times``, by the nearest rank of the sorted list."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
