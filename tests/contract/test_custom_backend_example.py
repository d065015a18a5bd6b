"""The custom-backend guide's example backend (docs/examples/custom_backend.py) passes the kit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from litestar_queues import QueueBackend
from litestar_queues.testing import QueueBackendContract

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "custom_backend.py"


def _load_example() -> type[QueueBackend]:
    spec = importlib.util.spec_from_file_location("docs_examples_custom_backend", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ListQueueBackend  # type: ignore[no-any-return]


ListQueueBackend = _load_example()


# --8<-- [start:contract]
class TestListQueueBackend(QueueBackendContract):
    async def make_backend(self) -> QueueBackend:
        return ListQueueBackend()


# --8<-- [end:contract]


def test_backend_satisfies_the_port_protocol() -> None:
    assert isinstance(ListQueueBackend(), QueueBackend)


def test_guide_shows_the_example_as_it_is() -> None:
    """Every line of the example backend and of the contract class above appears in the guide."""
    guide = (ROOT / "docs" / "custom-backend.md").read_text()
    missing = [line for line in EXAMPLE.read_text().splitlines() if line.strip() and line not in guide]
    assert missing == [], f"docs/custom-backend.md is out of date with {EXAMPLE.name}: {missing[:5]}"
    source = Path(__file__).read_text()
    contract = source.split("# --8<-- [start:contract]\n")[1].split("# --8<-- [end:contract]")[0]
    assert contract.strip() in guide
