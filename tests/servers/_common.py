"""Ports and errors shared by the Redis and PostgreSQL servers."""

from __future__ import annotations

import random
import socket

__all__ = ("INSTALL_HINT", "ServerNotInstalled", "free_port")

INSTALL_HINT = "run `bash scripts/bootstrap.sh --servers`"


class ServerNotInstalled(RuntimeError):
    """The server's binaries are not on this machine."""


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(*, bus: bool = False) -> int:
    """A free 127.0.0.1 port; with ``bus`` also its Redis Cluster bus port (+10000), so at most 55535."""
    if not bus:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randint(20_000, 55_000)
        if _bindable(port) and _bindable(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")
