"""The docs examples of the core and events pages run, and the pages show their code verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import assert_blocks_come_from, run_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
FILES = sorted([*EXAMPLES.glob("core_*.py"), *EXAMPLES.glob("events_*.py")])
PAGES = ["tasks.md", "enqueueing.md", "workers.md", "ports.md", "events.md", "operations.md", "limits.md"]

EXPECTED_OUTPUT = {
    "core_tasks.py": "payments.charge  failed",
    "core_enqueueing.py": "'slow-reports'",
    "core_workers.py": "completed sent to last@example.com",
    "core_ports.py": "'hello later' ran at 2030-01-01 00:01:00+00:00",
    "core_limits.py": (
        "emails sent at once, at most: 5\nemails: concurrency 10, 600 per 1m\nimports: 1 per limit key"
    ),
    "core_operations.py": (
        "pruned: {}\npurged: 1 {'reports': {'completed': 2}}\nlive: reporter ('reports',) running 0/10\n"
        "after a clean stop: []\nfinished in the last hour: {'reports': {'completed': 2}}"
    ),
    "events_enable.py": "global channel: ['task.started', 'task.completed']",
    "events_publishing.py": '"occurredAt":"',
    "events_testing.py": "['task.started', 'task.completed']",
}


def test_every_example_is_checked() -> None:
    assert sorted(f.name for f in FILES) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    assert EXPECTED_OUTPUT[path.name] in run_example(path, tmp_path)


@pytest.mark.parametrize("page", PAGES)
def test_page_code_blocks_come_from_example_files(page: str) -> None:
    assert_blocks_come_from(ROOT / "docs" / page, FILES)
