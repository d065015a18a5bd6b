"""Running several worker processes: each loads the app by import path (spawn-safe, nothing pickled)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import click

from litestar_queues.observability.prometheus import forget_process

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from types import FrameType

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def child_command(app_path: str, app_dir: Path, worker_args: Sequence[str]) -> list[str]:
    """The command line of one worker process: the Litestar CLI with ``queues worker --processes 1``."""
    return [
        sys.executable,
        "-m",
        "litestar",
        "--app",
        app_path,
        "--app-dir",
        str(app_dir),
        "queues",
        "worker",
        "--processes",
        "1",
        *worker_args,
    ]


def supervise(command: list[str], processes: int, cwd: Path) -> int:
    """Start ``processes`` copies of ``command`` and wait for them.

    SIGTERM or SIGINT is forwarded to every child as SIGTERM, so each drains and exits. If a child
    exits on its own, the others are stopped too and its exit code is returned (a process
    manager restarts the whole group).

    Returns:
        The exit code: 0 when every child drained cleanly after a stop signal.
    """
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    # handlers first: a stop signal while the children start still reaches each of them
    previous = {sig: signal.signal(sig, forward) for sig in _STOP_SIGNALS}
    try:
        while len(children) < processes and not stopping:
            children.append(subprocess.Popen(command, cwd=cwd))
        click.echo(f"started {len(children)} worker processes: {', '.join(str(c.pid) for c in children)}")
        if stopping:
            forward(signal.SIGTERM, None)
        first_exit: int | None = None
        while any(child.poll() is None for child in children):
            if not stopping:
                exited = [c for c in children if c.poll() is not None]
                if exited:
                    first_exit = exited[0].returncode
                    click.echo(f"worker process {exited[0].pid} exited with {first_exit}: stopping the rest")
                    forward(signal.SIGTERM, None)
            time.sleep(0.1)
        codes = [child.returncode for child in children]
        for child in children:
            forget_process(child.pid)  # its live gauges, in prometheus multiprocess mode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if first_exit is not None:
        return _shell_code(first_exit) or 1
    # a child stopped by SIGTERM before it installed its handler had claimed nothing
    codes = [0 if code == -signal.SIGTERM else _shell_code(code) for code in codes]
    return max(codes, default=0)


def _shell_code(returncode: int) -> int:
    """A child's exit status as a shell reports it (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode
