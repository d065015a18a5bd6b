"""A throwaway PostgreSQL server, run as the ``postgres`` user when this process is root."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

from tests.servers._common import INSTALL_HINT, ServerNotInstalled, free_port

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ("PostgresServer", "pg_bindir")


def pg_bindir() -> Path:
    """The PostgreSQL server binaries: ``$LQ_PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin``."""
    if configured := os.environ.get("LQ_PG_BIN"):
        found = [configured]
    else:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found or not Path(found[-1], "initdb").exists():
        raise ServerNotInstalled(f"PostgreSQL server binaries not found: {INSTALL_HINT}")
    return Path(found[-1])


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, on a free loopback port, trust authentication.

    PostgreSQL refuses to run as root: when this process is root, ``initdb`` and ``pg_ctl`` run
    as the ``postgres`` system user (``runuser``), who owns the temporary directory.

    Args:
        bindir: the server binaries (default: :func:`pg_bindir`).
        fsync: ``fsync`` (and ``full_page_writes``) on; off by default, for tests and benchmarks
            that measure the queue rather than the disk.
        synchronous_commit: ``synchronous_commit`` on (the benchmarks keep it on, the tests not).
        shared_buffers: the ``shared_buffers`` setting.
        max_connections: the ``max_connections`` setting.

    The cluster is created by the first :meth:`start`. Use it as a context manager (start, then
    :meth:`cleanup`), or call :meth:`start` and :meth:`cleanup` yourself.
    """

    def __init__(
        self,
        *,
        bindir: Path | None = None,
        fsync: bool = False,
        synchronous_commit: bool = False,
        shared_buffers: str = "64MB",
        max_connections: int = 200,
    ) -> None:
        self.bindir = bindir or pg_bindir()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "on" if fsync else "off",
            "full_page_writes": "on" if fsync else "off",
            "synchronous_commit": "on" if synchronous_commit else "off",
            "max_connections": str(max_connections),
            "shared_buffers": shared_buffers,
        }
        self.root = Path(tempfile.mkdtemp(prefix="lq-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        """A ``postgresql+asyncpg://`` URL of the ``postgres`` database (a backend URL)."""
        return self.dsn(scheme="postgresql+asyncpg")

    def dsn(self, database: str = "postgres", scheme: str = "postgresql") -> str:
        """A URL of ``database`` as the ``postgres`` superuser (no password: trust authentication)."""
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def version(self) -> str:
        """The server version, e.g. ``15.18``."""
        out = subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        )
        return out.stdout.split()[2]  # "postgres (PostgreSQL) 15.18 (Debian ...)"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            stderr = exc.stderr.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{program} {' '.join(args[:1])} failed: {stderr}\n{log}") from exc

    def start(self) -> None:
        """Start the server (the first start creates the cluster); wait until it accepts connections."""
        if not self.data.exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"
            )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                *(f"-c {key}={value}" for key, value in self.settings.items()),
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` disconnects clients; ``immediate`` is a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """Crash the server (``pg_ctl stop -m immediate``): it recovers from its WAL on the next start."""
        self.stop("immediate")

    def restart(self) -> None:
        """Stop and start again on the same port: every open connection is dropped."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server if it runs and remove its directory."""
        if self.data.exists():
            with contextlib.suppress(RuntimeError):  # not running
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
