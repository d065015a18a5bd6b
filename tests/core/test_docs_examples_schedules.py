"""The schedules page's examples run and print what the page says, and the page shows their code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import assert_blocks_come_from, run_example

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "docs" / "examples").glob("schedules_*.py"))

EXPECTED_OUTPUT = {
    "schedules_define.py": [
        "reports.nightly: 2026-03-29 01:00:00+00:00",
        "feeds.poll: 2026-03-28 12:10:00+00:00",
        "schedule 'reports.weekly': cron expression '0 25 * * MON' is invalid (Bad hour)",
    ],
    "schedules_declare.py": [
        "feeds.poll: feeds.poll 0:05:00",
        "reports.nightly: reports.nightly 0 3 * * *",
        "reports.weekly.acme: reports.build 0 6 * * MON",
        "reports.weekly.globex: reports.build 0 6 * * MON",
        "schedule 'reports.monthly' names task 'reports.buidl', which is not registered in this process: "
        "import the module that defines it",
    ],
    "schedules_run.py": [
        "01:30: records per scheduler [1, 0, 0]",
        "02:30: records per scheduler [1, 0, 0]",
        "03:30: records per scheduler [1, 0, 0]",
        "records: 3",
    ],
    "schedules_operate.py": [
        "crm.sync: paused, last fire None, next 02:00",
        "old.cleanup: removed, last fire None, next 04:00",
        "crm.sync: active, next 02:00",
        "['crm.sync']",
    ],
    "schedules_dst.py": [
        "daily, spring: ['28 Mar 02:30 CET', '29 Mar 03:00 CEST', '30 Mar 02:30 CEST']",
        "daily, autumn: ['24 Oct 02:30 CEST', '25 Oct 02:30 CEST', '26 Oct 02:30 CET']",
        "hourly, autumn: ['25 Oct 02:00 CEST', '25 Oct 02:00 CET', '25 Oct 03:00 CET', '25 Oct 04:00 CET']",
    ],
    "schedules_misfire.py": [
        "catch_up_once: fire 03:00 (starts 03:00:14), missed since 01:00, next 04:00",
        "skip: fire None, missed since 01:00, next 04:00",
        "schedule:sync.hourly:2026-03-01T03:00:00Z",
    ],
}


def test_every_example_is_checked() -> None:
    assert sorted(f.name for f in FILES) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    output = run_example(path, tmp_path)
    lines = output.splitlines()
    for expected in EXPECTED_OUTPUT[path.name]:
        assert any(line.startswith(expected) for line in lines), f"{expected!r} not in:\n{output}"


def test_the_page_shows_the_example_code() -> None:
    assert_blocks_come_from(ROOT / "docs" / "schedules.md", FILES)
