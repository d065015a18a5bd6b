"""The dashboard page's example runs, the page shows its code, the screenshots it shows exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests._docs import assert_blocks_come_from, run_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "dashboard_mount.py"
PAGE = ROOT / "docs" / "dashboard.md"


def test_the_example_runs(tmp_path: Path) -> None:
    output = run_example(EXAMPLE, tmp_path)
    assert "anonymous: 401" in output
    assert "operator: 200 completed" in output
    assert "token shown: False | customer shown: False" in output


def test_the_page_shows_the_example_and_its_screenshots() -> None:
    assert_blocks_come_from(PAGE, [EXAMPLE])
    text = PAGE.read_text()
    images = re.findall(r"\]\((images/dashboard-[a-z]+\.png)\)", text)
    assert len(images) == 6
    for image in images:
        assert (ROOT / "docs" / image).is_file(), image
    assert "dashboard.md" in (ROOT / "mkdocs.yml").read_text()
