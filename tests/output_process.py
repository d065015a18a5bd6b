"""A command in a subprocess whose merged output a thread collects line by line.

:class:`OutputProcess` runs any command (the ``litestar-queues`` console script, say);
:func:`litestar_worker` runs ``litestar --app APP queues [GROUP OPTIONS] worker [OPTIONS]`` from
the repository root with the repository on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]


class OutputProcess:
    """``command`` in a subprocess, its stdout and stderr merged and collected in ``lines``.

    ``timeout`` is how long :meth:`wait_for` waits by default and :meth:`stop` waits for the exit.
    """

    def __init__(
        self, command: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 60
    ) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def count(self, text: str) -> int:
        """How many lines so far contain ``text``."""
        return sum(text in line for line in list(self.lines))

    def wait_for(
        self, predicate: Callable[[list[str]], bool], what: str, timeout: float | None = None
    ) -> None:
        """Poll the lines until ``predicate`` holds; fail when the process exits or time runs out."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if predicate(list(self.lines)):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.lines}")

    def stop(self) -> int:
        """SIGTERM, then the exit code once the process and the reader are done."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=self.timeout)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        """Kill the process if it still runs and close its output (for ``finally`` blocks)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def litestar_worker(
    app_path: str, app_dir: Path, *worker_options: str, group_options: Sequence[str] = ()
) -> OutputProcess:
    """``litestar --app APP --app-dir DIR queues GROUP_OPTIONS worker WORKER_OPTIONS``."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LITESTAR_QUIET_CONSOLE": "1"}
    env.pop("LITESTAR_APP", None)
    command = [sys.executable, "-m", "litestar", "--app", app_path, "--app-dir", str(app_dir)]
    return OutputProcess(
        [*command, "queues", *group_options, "worker", *worker_options], cwd=REPO_ROOT, env=env
    )
