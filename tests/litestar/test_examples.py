"""The Litestar example app and the demo that ``bash scripts/demo.sh`` runs."""

import pytest
from examples import litestar_demo
from examples.litestar_app import app
from litestar.testing import TestClient


def test_demo_streams_the_report_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert litestar_demo.main() == 0
    lines = capsys.readouterr().out.splitlines()
    events = [line.split()[0] for line in lines if line.startswith("  task.")]
    assert events == ["task.started", "task.log", *["task.progress"] * 4, "task.completed"]
    assert any(line.endswith("-> completed") for line in lines)


def test_example_app_routes() -> None:
    with TestClient(app=app) as client:
        created = client.post("/reports/r1").json()
        with client.websocket_connect(f"/tasks/{created['task_id']}/events") as ws:
            while ws.receive_json(timeout=30)["type"] != "task.completed":
                pass
        status = client.get(f"/tasks/{created['task_id']}").json()
        assert status == {
            "task_id": created["task_id"],
            "status": "completed",
            "result": {"report_id": "r1", "pages": 4},
            "error": None,
            "attempts": 1,
        }
