from __future__ import annotations

from pathlib import Path

import pytest

from tests.execution.app import URL_VARIABLE

ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def queue_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite queue in a file, shared by the test's worker and the processes it starts."""
    url = f"sqlite+aiosqlite:///{tmp_path}/queue.db"
    monkeypatch.setenv(URL_VARIABLE, url)
    return url
