"""Building the distributions' wheels and installing them into a fresh venv with plain pip.

Everything goes under one temporary directory: the wheels, uv's and pip's caches, the venv.
Third-party dependencies come from the package index pip is configured with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = (
    "litestar-queues",
    "litestar-queues-litestar",
    "litestar-queues-redis",
    "litestar-queues-sql",
    "litestar-queues-cloudrun",
)


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise RuntimeError("the wheel tests build with uv: install it (pip install uv) or run under `uv run`")
    return found


def _run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 240) -> str:
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def build_wheels(base: Path) -> Path:
    """Build every workspace distribution's wheel into ``base / "wheels"``; return that folder."""
    wheels = base / "wheels"
    env = {**os.environ, "UV_CACHE_DIR": str(base / "uv-cache")}
    env.pop("VIRTUAL_ENV", None)
    _run([_uv(), "build", "--all-packages", "--wheel", "--quiet", "-o", str(wheels)], env=env, cwd=ROOT)
    return wheels


class Venv:
    """A fresh virtual environment made by ``python -m venv``, filled by its own pip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bin = path / "bin"
        self.python = self.bin / "python"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV")},
            "PIP_CACHE_DIR": str(path.parent / "pip-cache"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(path)], env=self.env, cwd=path.parent)

    def pip(self, *args: str) -> str:
        """Run this venv's pip (``python -m pip``), no ``--pre``, no pins unless given."""
        return _run([str(self.python), "-m", "pip", *args], env=self.env, cwd=self.path.parent, timeout=300)

    def run(self, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run this venv's Python (``python -c`` or a script) in ``cwd``."""
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def versions(self) -> dict[str, str]:
        """Installed distributions and versions, by normalised name."""
        out = self.run(
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
            "for d in m.distributions()}))",
            cwd=self.path.parent,
        )
        assert out.returncode == 0, out.stderr
        versions: dict[str, str] = json.loads(out.stdout)
        return versions
