"""What the Redis tools next to this module share (not a tool itself).

* :func:`run_on_throwaway_redis`: parse the command line, start a redis-server without
  persistence (``tests.servers.RedisServer``) and measure on it;
* :func:`quantile` and :func:`load_average`: what the tools print beside their timings.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def run_on_throwaway_redis(
    doc: str | None, measure: Callable[[str, argparse.Namespace], Awaitable[Any]], **options: int
) -> None:
    """Parse the command line, start a redis-server without persistence and run ``measure(url, args)``.

    ``doc`` is the tool's description (``--help``); each keyword is an integer option
    (``records=1_000_000`` is ``--records``) and its default.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.servers import RedisServer

    with RedisServer(aof=False, unix_socket=False) as server:
        anyio.run(measure, server.url, args)


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` (the nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def load_average() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as printed after a measurement."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
