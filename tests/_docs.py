"""Checks shared by the docs tests: a page's Python blocks come verbatim from example files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

PLACEHOLDER = "This page is written with the issue"


def python_blocks(text: str) -> list[str]:
    """Return the bodies of the ```python blocks of a Markdown text."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def _normalise(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def assert_blocks_come_from(page: Path, sources: Iterable[Path]) -> None:
    """Fail unless ``page`` is written, shows Python code, and every block is in one of ``sources``."""
    text = page.read_text()
    assert PLACEHOLDER not in text
    blocks = python_blocks(text)
    assert blocks, f"{page.name} shows no example code"
    normalised = [_normalise(path.read_text()) for path in sources]
    for block in blocks:
        assert any(_normalise(block) in source for source in normalised), (
            f"{page.name}: block not in examples:\n{block}"
        )


def run_example(path: Path, workdir: Path) -> str:
    """Run an example file in ``workdir`` (``QUEUE_URL``: a SQLite file there); return its output.

    Fails with the output when the example exits non-zero.
    """
    env = {**os.environ, "QUEUE_URL": f"sqlite+aiosqlite:///{workdir / 'queue.db'}"}
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
