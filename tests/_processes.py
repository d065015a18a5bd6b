"""Stopping the worker processes a test started: SIGTERM (they drain), then SIGKILL after a wait."""

from __future__ import annotations

import signal
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def terminate_all(processes: Iterable[subprocess.Popen[bytes]], *, timeout: float) -> None:
    """SIGTERM every live process, then wait up to ``timeout`` seconds for each; kill the late ones."""
    started = list(processes)
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
