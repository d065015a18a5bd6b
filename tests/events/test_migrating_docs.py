"""The examples of docs/migrating-from-0.1.md run, and the page shows their code verbatim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._docs import assert_blocks_come_from

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
FILES = sorted(EXAMPLES.glob("migrating_*.py"))
PAGE = ROOT / "docs" / "migrating-from-0.1.md"

EXPECTED_OUTPUT = {
    "migrating_arguments.py": ["depot: Berlin", "export: exports/alice/"],
    "migrating_enqueue.py": [
        "no service open: NoActiveServiceError",
        "inline: completed | welcome sent to ann@example.com",
    ],
    "migrating_restored.py": [
        "litestar_queues:queue:media:events",
        "litestar_queues:custom:video-v1:progress",
    ],
    "migrating_retries.py": [
        "after the first failure: scheduled | ConnectionError: feed unreachable",
        "message: feed unreachable",
        "events: ['task.started', 'task.retrying', 'task.started', 'task.completed']",
    ],
    "migrating_strict.py": [
        "status: failed",
        "error: EventPublishError: event sink AuditSink failed to publish task.log",
        "cause: ConnectionError('audit database is down')",
    ],
}


def test_every_example_is_checked() -> None:
    assert sorted(f.name for f in FILES) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for expected in EXPECTED_OUTPUT[path.name]:
        assert expected in proc.stdout, proc.stdout


def test_page_code_blocks_come_from_example_files() -> None:
    assert_blocks_come_from(PAGE, FILES)


def test_page_is_in_the_nav() -> None:
    assert "migrating-from-0.1.md" in (ROOT / "mkdocs.yml").read_text()
