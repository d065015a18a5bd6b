"""Open event streams per app, so that the app's shutdown can end them and wait for their teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from litestar import Litestar


class _AppStreams:
    __slots__ = ("emptied", "scopes")

    def __init__(self) -> None:
        self.scopes: set[anyio.CancelScope] = set()
        self.emptied: anyio.Event | None = None


_STATE_KEY = "_litestar_queues_streams"


def _get(app: Litestar) -> _AppStreams | None:
    streams: _AppStreams | None = app.state.get(_STATE_KEY)
    return streams


def register(app: Litestar, scope: anyio.CancelScope) -> None:
    """Remember ``scope`` as an open stream of ``app``."""
    streams = _get(app)
    if streams is None:
        streams = _AppStreams()
        app.state[_STATE_KEY] = streams
    streams.scopes.add(scope)


def unregister(app: Litestar, scope: anyio.CancelScope) -> None:
    """Forget ``scope`` once its stream has torn down."""
    streams = _get(app)
    if streams is None:
        return
    streams.scopes.discard(scope)
    if not streams.scopes and streams.emptied is not None:
        streams.emptied.set()


def open_count(app: Litestar) -> int:
    """Streams of ``app`` open now."""
    streams = _get(app)
    return len(streams.scopes) if streams is not None else 0


async def close_all(app: Litestar, timeout: float) -> None:
    """Cancel every open stream of ``app`` and wait up to ``timeout`` seconds for their teardown."""
    streams = _get(app)
    if streams is None or not streams.scopes:
        return
    streams.emptied = anyio.Event()
    for scope in list(streams.scopes):
        scope.cancel()
    with anyio.move_on_after(timeout):
        await streams.emptied.wait()
    streams.emptied = None
