"""Cross-backend fixtures: the same behaviour tests run against every queue backend."""

from __future__ import annotations

import pytest

BACKENDS = {
    "memory": None,
    "redis": "redis_url",
    "postgres": "postgres_url",
    "sqlite": "sqlite_url",
}


@pytest.fixture(params=list(BACKENDS))
def backend_url(request: pytest.FixtureRequest) -> str:
    """A URL configuring a fresh, empty queue backend of each kind."""
    fixture = BACKENDS[request.param]
    if fixture is None:
        return "memory://"
    return str(request.getfixturevalue(fixture))
