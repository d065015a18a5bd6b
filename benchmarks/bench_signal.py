"""The completion signal every benchmarked no-op task sends: one UDP datagram to the harness.

The same cost for every system (one non-blocking ``sendto`` on loopback, no server involved), so
the harness counts task executions and sees the end of each latency probe without polling the
system under test. Stdlib only: imported inside every peer's own virtual environment.
"""

from __future__ import annotations

import os
import socket

_sock: socket.socket | None = None
_addr: tuple[str, int] | None = None


def send(i: int) -> None:
    """Tell the harness that task ``i`` ran."""
    global _sock, _addr
    if _sock is None:
        host, port = os.environ["BENCH_SIGNAL"].rsplit(":", 1)
        _addr = (host, int(port))
        _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert _addr is not None
    _sock.sendto(b"%d" % i, _addr)
