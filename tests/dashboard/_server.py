"""An ASGI app served by uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from tests.servers import free_port

if TYPE_CHECKING:
    from types import TracebackType

    from litestar import Litestar


class ThreadedServer:
    """``with ThreadedServer(app) as server:`` serves ``app`` at ``server.url`` until the block ends."""

    def __init__(self, app: Litestar, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", ws="none", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dashboard-test-server", daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(30)

    def post(self, path: str, **json: Any) -> Any:
        """POST ``json`` to a route of the app (not the dashboard's) and return the JSON answer."""
        response = httpx.post(f"{self.url}{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        """GET a route of the app (not the dashboard's) and return the JSON answer."""
        response = httpx.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()
