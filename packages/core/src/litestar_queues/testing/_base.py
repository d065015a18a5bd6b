"""The hooks of the contract kit, and a helper that opens and closes backends for one test."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hypothesis import settings

    from litestar_queues.ports import QueueBackend

__all__ = ("ContractHooks",)


class ContractHooks:
    """Hooks a backend's test class overrides; see :class:`~litestar_queues.testing.QueueBackendContract`."""

    supports_wait_notifications: ClassVar[bool] = True
    """Whether ``wait_for_work`` / ``wait_for_finish`` wake up on changes (else they only poll)."""

    wait_limit: ClassVar[float] = 10.0
    """Seconds a wake-up may take before a wait test fails (a bound, not a measured time)."""

    hypothesis_settings: ClassVar[settings | None] = None
    """Settings of the state machine run; ``None``: the loaded profile, without a deadline."""

    async def make_backend(self) -> QueueBackend:
        """Return a fresh, empty backend that is not opened yet.

        Every call must return a backend that shares no records with earlier ones (a new key
        prefix, a new database file or schema, ...). The kit calls ``open`` and ``close``.

        Raises:
            NotImplementedError: Always, until a subclass overrides it.
        """
        raise NotImplementedError(
            "a QueueBackendContract subclass must define `async def make_backend(self)`"
        )

    async def teardown_backend(self, backend: QueueBackend) -> None:
        """Clean up after ``backend`` was closed (drop its schema, delete its keys...).

        Called once per backend made by :meth:`make_backend`, also when the test failed.

        Args:
            backend: The closed backend.
        """

    @asynccontextmanager
    async def opened_backend(self) -> AsyncIterator[QueueBackend]:
        """Make, open, yield, then close and tear down one backend.

        Yields:
            The opened backend.
        """
        backend = await self.make_backend()
        try:
            await backend.open()
            try:
                yield backend
            finally:
                await backend.close()
        finally:
            await self.teardown_backend(backend)
