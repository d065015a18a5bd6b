from __future__ import annotations

import pytest

from litestar_queues import TaskRegistry


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()
