"""A throwaway redis-server: AOF on or off, optionally a one-node cluster, optionally a unix socket."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

from tests.servers._common import INSTALL_HINT, ServerNotInstalled, free_port

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ("RedisServer", "redis_binary")


def redis_binary() -> str:
    """The path of ``redis-server``; :class:`ServerNotInstalled` when it is not on the PATH."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerNotInstalled(f"redis-server is not installed: {INSTALL_HINT}")
    return binary


class RedisServer:
    """A redis-server process in a directory of its own, on a free loopback port.

    Args:
        binary: the ``redis-server`` to run (default: the one on the PATH).
        directory: where the server keeps its files (default: a temporary directory, removed by
            :meth:`cleanup`; a given directory is left in place).
        aof: append-only file on (``appendfsync everysec``), so what was acknowledged survives
            :meth:`kill`. Off: no persistence at all (the benchmarks). RDB snapshots are always off.
        cluster: a one-node Redis Cluster owning all 16384 slots.
        unix_socket: also listen on ``<directory>/redis.sock`` (see :attr:`unix_url`).

    Use it as a context manager (start, then :meth:`cleanup`), or call :meth:`start` and
    :meth:`cleanup` yourself.
    """

    def __init__(
        self,
        binary: str | None = None,
        directory: Path | None = None,
        *,
        aof: bool = True,
        cluster: bool = False,
        unix_socket: bool = True,
    ) -> None:
        self.binary = binary or redis_binary()
        self.aof = aof
        self.cluster = cluster
        self.unix_socket = unix_socket
        self._owns_directory = directory is None
        prefix = "lq-redis-cluster-" if cluster else "lq-redis-"
        self.directory = directory if directory is not None else Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port(bus=cluster)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        """The unix socket the server listens on when ``unix_socket`` is on."""
        return self.directory / "redis.sock"

    @property
    def unix_url(self) -> str:
        """``unix://<socket>?db=0`` (only when ``unix_socket`` is on)."""
        if not self.unix_socket:
            raise RuntimeError("this RedisServer was started without a unix socket")
        return f"unix://{self.socket_path}?db=0"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.directory / "redis.log"

    def version(self) -> str:
        """The redis-server version, e.g. ``7.0.15``."""
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=True).stdout
        return out.split("v=")[1].split()[0] if "v=" in out else out.strip()

    def arguments(self) -> list[str]:
        """The command line of the server."""
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.aof else "no",
            "--protected-mode", "no",
            "--loglevel", "warning",
            "--logfile", str(self.log),
        ]  # fmt: skip
        if self.unix_socket:
            args += ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.directory / "nodes.conf")]
        return args

    def start(self, timeout: float = 20.0) -> None:
        """Start the server (again, after :meth:`kill` or :meth:`stop`) and wait until it answers."""
        if self.process is not None:
            raise RuntimeError("redis-server is running already")
        self.process = subprocess.Popen(
            self.arguments(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                raise RuntimeError(f"redis-server exited with {code}: {log[-2000:]}")
            if self._answers() and self._cluster_ready():
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not become ready within {timeout} s")

    def _cluster_ready(self) -> bool:
        """A one-node cluster owning every slot: assign them once, then wait for state ok."""
        if not self.cluster:
            return True
        info = self._command(b"CLUSTER INFO\r\n", 4096)
        if b"cluster_slots_assigned:0" in info:
            self._command(b"CLUSTER ADDSLOTSRANGE 0 16383\r\n", 64)
        return b"cluster_state:ok" in info

    def _command(self, command: bytes, size: int) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(command)
                return sock.recv(size)
        except OSError:
            return b""

    def _answers(self) -> bool:
        return self._command(b"PING\r\n", 64).startswith(b"+PONG")

    def kill(self) -> None:
        """SIGKILL the server (a crash): with AOF on, what was acknowledged is in the AOF already."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        """SIGTERM the server and wait for it (SIGKILL after 10 s)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        """Crash the server and start it again on the same port and data directory."""
        self.kill()
        self.start()

    def cleanup(self) -> None:
        """Stop the server if it runs; remove its directory if this object created it."""
        self.stop()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

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
