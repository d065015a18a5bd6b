"""The Litestar and background-task docs examples run, and the pages show their code verbatim."""

import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from litestar_queues.registry import default_registry
from tests._docs import assert_blocks_come_from, python_blocks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
FILES = sorted([*EXAMPLES.glob("litestar_*.py"), *EXAMPLES.glob("background_*.py")])
PAGES = ["litestar.md", "background-tasks.md"]

# the spec's streaming route declares `task_id: str`, which Litestar 2.24+ flags as deprecated
INFERRED_PATH_PARAM = "ignore:.*declared using deprecated inferred style:DeprecationWarning"

EXPECTED_OUTPUT = {
    "background_native.py": ["201 {'status': 'queued'}", "counts: {'default': {'completed': 1}}"],
    "background_helper.py": [
        "201 {'status': 'queued'}",
        "counts: {'default': {'completed': 1}}",
        "without QueuePlugin: 500",
    ],
    "background_helper_service.py": ["201 {'status': 'queued'}", "counts: {'default': {'completed': 1}}"],
    "background_in_route.py": [": completed, result 84"],
    "litestar_quickstart.py": ["render now: {'status': 'completed', 'result': 'report-1'}", "enqueued: "],
    "litestar_events.py": [
        "task completed",
        "task.started",
        "task.log        Transcode started",
        "task.progress   Fetched source",
        "task.event      Preview ready",
        "task.completed",
    ],
    "litestar_auth_stream.py": [
        "alice sees: ['task.started', 'task.progress', 'task.progress', 'task.progress', 'task.completed']",
        "bob-token is refused: code 4403, not your task",
        "nobody is refused: code 4401, unknown or missing token",
        "anonymous POST: 401",
    ],
}


@pytest.fixture
def isolated_registry() -> Iterator[None]:
    """Run with an empty task registry (examples reuse spec task names), then restore it."""
    saved = dict(default_registry._tasks)
    default_registry._tasks.clear()
    try:
        yield
    finally:
        default_registry._tasks.clear()
        default_registry._tasks.update(saved)


@pytest.fixture
def load() -> Iterator[Callable[[Path], ModuleType]]:
    """Import an example file as a fresh module (Litestar resolves handler names through sys.modules)."""
    names: list[str] = []

    def importer(path: Path) -> ModuleType:
        name = f"lq_docs_{path.stem}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    yield importer
    for name in names:
        sys.modules.pop(name, None)


def test_every_example_is_checked() -> None:
    assert sorted(f.name for f in FILES) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=[pytest.mark.filterwarnings(INFERRED_PATH_PARAM)])
        if p.name == "litestar_events.py"
        else pytest.param(p, id=p.name)
        for p in FILES
    ],
)
@pytest.mark.usefixtures("isolated_registry")
def test_example_runs(
    path: Path, load: Callable[[Path], ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    load(path).main()
    out = capsys.readouterr().out
    for expected in EXPECTED_OUTPUT[path.name]:
        assert expected in out, out


@pytest.mark.parametrize("page", PAGES)
def test_page_code_blocks_come_from_example_files(page: str) -> None:
    assert_blocks_come_from(ROOT / "docs" / page, [*FILES, ROOT / "examples" / "litestar_app.py"])


@pytest.mark.usefixtures("isolated_registry")
def test_package_readme_example_runs(load: Callable[[Path], ModuleType], tmp_path: Path) -> None:
    from litestar.testing import TestClient

    readme = (ROOT / "packages" / "litestar-adapter" / "README.md").read_text()
    (block,) = python_blocks(readme)
    path = tmp_path / "readme_example.py"
    path.write_text(block)
    app = load(path).app
    with TestClient(app=app) as client:
        response = client.post("/signup")
        assert response.status_code == 201
        assert set(response.json()) == {"task_id"}
