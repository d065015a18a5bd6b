"""The examples of docs/observability.md run, and the page shows their code verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import assert_blocks_come_from, run_example

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "docs" / "examples").glob("observability_*.py"))

EXPECTED_OUTPUT = {
    "observability_prometheus.py": [
        'litestar_queues_tasks_started_total{queue="default",task="emails.send"} 6.0',
        'litestar_queues_tasks_completed_total{queue="default",task="emails.send"} 2.0',
        'litestar_queues_tasks_retried_total{queue="default",task="emails.send"} 3.0',
        'litestar_queues_tasks_failed_total{queue="default",task="emails.send"} 1.0',
    ],
    "observability_traces.py": [
        "stored: ['traceparent']",
        "publish default (PRODUCER) <- POST /orders",
        "process default (CONSUMER) <- publish default",
        "render pdf (INTERNAL) <- process default",
        "one trace: True",
    ],
    "observability_observer.py": ["['reports.build attempt 1 took 0.3 s']"],
    "observability_litestar.py": [
        'litestar_queues_tasks_completed_total{queue="default",task="invoices.render"} 1.0',
        "[('publish default', 'PRODUCER'), ('POST /orders/42/invoice', 'SERVER'), "
        "('process default', 'CONSUMER')]",
        "one trace: True",
    ],
}


def test_every_example_is_checked() -> None:
    assert sorted(f.name for f in FILES) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    output = run_example(path, tmp_path)
    for expected in EXPECTED_OUTPUT[path.name]:
        assert expected in output, output


def test_the_page_shows_the_examples_and_is_in_the_nav() -> None:
    assert_blocks_come_from(ROOT / "docs" / "observability.md", FILES)
    assert "Observability: observability.md" in (ROOT / "mkdocs.yml").read_text()
