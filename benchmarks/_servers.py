"""Throwaway redis-server and PostgreSQL servers on loopback ports for one benchmark run.

Stdlib only (run.py imports it from the workspace venv). Both servers trade durability for
repeatability, the same way for every system measured:

* redis-server: no RDB snapshots, no AOF (``--save "" --appendonly no``).
* PostgreSQL 15: ``fsync=off``, ``full_page_writes=off`` (``synchronous_commit`` stays on), trust
  authentication on 127.0.0.1, run as the ``postgres`` user when this process is root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def version(self) -> str:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True).stdout
        return out.split("v=")[1].split()[0] if "v=" in out else out.strip()


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", tmp,
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_port(port)
            yield RedisServer(port, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@dataclass
class PostgresServer:
    port: int
    user: str = "postgres"

    def url(self, database: str, scheme: str = "postgresql") -> str:
        return f"{scheme}://{self.user}@127.0.0.1:{self.port}/{database}"

    def version(self) -> str:
        out = subprocess.run(
            [str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True, check=True
        )
        return out.stdout.split()[2]  # "postgres (PostgreSQL) 15.18 (Debian ...)"


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="bench-pg-")
    data = Path(tmp) / "data"
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    subprocess.run(
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={tmp} "
        "-c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB"
    )
    subprocess.run(
        _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", f"{tmp}/log", "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield PostgresServer(port)
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)
