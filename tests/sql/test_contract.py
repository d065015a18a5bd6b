"""The contract kit passes against PostgreSQL and SQLite."""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, ClassVar

import pytest
from hypothesis import settings

from litestar_queues.testing import QueueBackendContract
from litestar_queues_sql import SQLQueueBackend

if TYPE_CHECKING:
    from pathlib import Path

    from litestar_queues import QueueBackend
    from tests.servers import PostgresServer

# each hypothesis example creates fresh tables (and, on PostgreSQL, a LISTEN connection):
# fewer examples keep the suite quick; HYPOTHESIS_PROFILE=thorough runs many more
_THOROUGH = settings.get_current_profile_name() == "thorough"
_PG_SETTINGS = settings(max_examples=200 if _THOROUGH else 12, stateful_step_count=30, deadline=None)
_SQLITE_SETTINGS = settings(max_examples=400 if _THOROUGH else 25, stateful_step_count=30, deadline=None)


class TestPostgresContract(QueueBackendContract):
    hypothesis_settings: ClassVar[settings | None] = _PG_SETTINGS

    @pytest.fixture(autouse=True)
    def _server(self, postgres_server: PostgresServer) -> None:
        self.server = postgres_server

    async def make_backend(self) -> QueueBackend:
        return SQLQueueBackend(f"{self.server.url}?table_prefix=c{uuid.uuid4().hex[:12]}_")


class TestSQLiteContract(QueueBackendContract):
    hypothesis_settings: ClassVar[settings | None] = _SQLITE_SETTINGS

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.files = (tmp_path / f"queue-{n}.db" for n in itertools.count())

    async def make_backend(self) -> QueueBackend:
        return SQLQueueBackend(f"sqlite:///{next(self.files)}")
