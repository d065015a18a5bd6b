"""Fixtures of the Litestar adapter tests: a real redis-server, shared-backend URLs, app loading."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from litestar_queues.registry import default_registry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition", interval: float = 0.01
) -> None:
    """Poll ``predicate`` (the app runs on another thread in TestClient) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def litestar_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test session on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `bash scripts/bootstrap.sh --servers`")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def fresh_task_names() -> Iterator[Callable[..., None]]:
    """Unregister the given task names now and after the test (examples share spec task names)."""
    names: list[str] = []

    def forget(*task_names: str) -> None:
        names.extend(task_names)
        for name in task_names:
            default_registry.unregister(name)

    yield forget
    for name in names:
        default_registry.unregister(name)


def _backend_installed(url: str) -> bool:
    from litestar_queues._loading import backend_from_url

    try:
        backend_from_url(url)
    except Exception:
        return False
    return True


@pytest.fixture
def shared_queue_url(tmp_path: Path) -> str:
    """A queue backend URL that several processes share: a SQLite file (needs litestar-queues-sql)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    if not _backend_installed(url):
        pytest.skip("the SQLite backend (litestar-queues-sql) has not landed yet")
    return url
