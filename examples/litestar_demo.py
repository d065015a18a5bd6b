"""Demo of ``examples/litestar_app.py``: enqueue over HTTP, stream the task's events, print its status.

The app runs in this process with its full lifespan (queue service, in-app worker, Channels)
through ``litestar.testing.TestClient``; the script exits by itself. Run it with
``bash scripts/demo.sh`` (or ``uv run python examples/litestar_demo.py``).
"""

import logging
import sys
from pathlib import Path

from litestar.testing import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.litestar_app import app

TERMINAL = {"task.completed", "task.failed"}


def describe(event: dict[str, object]) -> str:
    parts = [f"{event['type']:<15}"]
    if event.get("progressPercent") is not None:
        parts.append(f"{event['progressPercent']:.0f}%")
    if event.get("message"):
        parts.append(str(event["message"]))
    return " ".join(parts)


def main() -> int:
    for name in ("httpx", "litestar_queues"):  # keep the demo's output to what it shows
        logging.getLogger(name).setLevel(logging.WARNING)
    with TestClient(app=app) as client:
        created = client.post("/reports/q3").json()
        task_id = created["task_id"]
        print(f"POST /reports/q3 -> task {task_id} ({created['status']})")

        print(f"WS /tasks/{task_id}/events:")
        with client.websocket_connect(f"/tasks/{task_id}/events") as ws:
            while True:
                event = ws.receive_json(timeout=30)
                print(f"  {describe(event)}")
                if event["type"] in TERMINAL:
                    break

        final = client.get(f"/tasks/{task_id}").json()
        print(f"GET /tasks/{task_id} -> {final['status']}")
        print(f"  result={final['result']} attempts={final['attempts']}")
        return 0 if final["status"] == "completed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
