"""The dashboard end to end, in headless Chromium: a real server, a SQLite file, the app's own worker.

Every check reads what the browser shows. The tests share one server (and so one xdist
group); each takes screenshots of the pages it visits. With ``LQ_UPDATE_SCREENSHOTS=1`` in the
environment they are written to ``docs/images/``, which ``docs/dashboard.md`` shows::

    LQ_UPDATE_SCREENSHOTS=1 uv run pytest tests/dashboard/test_browser.py

otherwise to a scratch directory, so that a test run leaves the checkout unchanged.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from tests.dashboard._server import ThreadedServer
from tests.dashboard.app import SESSION, SESSION_COOKIE, build_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.xdist_group("dashboard-browser")

IMAGES = (
    Path(__file__).resolve().parents[2] / "docs" / "images"
    if os.environ.get("LQ_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "litestar-queues-dashboard-screenshots"
)
LIVE = 10_000
"""Milliseconds a live change may take to show (the pages poll every 0.3 s)."""

expect.set_options(timeout=LIVE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    queue_file = tmp_path_factory.mktemp("dashboard") / "queue.db"
    with ThreadedServer(build_app(f"sqlite+aiosqlite:///{queue_file}")) as served:
        yield served


def _operator(browser: Browser, server: ThreadedServer, **options: Any) -> BrowserContext:
    """A browser context holding the operator's session cookie (what the dashboard's guard wants)."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, **options)
    context.add_cookies([{"name": SESSION_COOKIE, "value": SESSION, "url": server.url}])
    context.set_default_timeout(LIVE)
    return context


@pytest.fixture
def context(browser: Browser, server: ThreadedServer) -> Iterator[BrowserContext]:
    context = _operator(browser, server)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of actions
    return page


def _shoot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"), full_page=True)


def _mark_document(page: Page) -> None:
    """Tag the loaded document: the tag survives live updates and is gone after any reload."""
    page.evaluate("window.__notReloaded = true")


def _not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def test_a_failed_task_is_found_by_filter_and_a_retry_completes_it_live(
    server: ThreadedServer, page: Page
) -> None:
    task_id = server.post(
        "/test/enqueue/charge", order="A-17", card={"number": "4242", "api_key": "sk_live_42"}
    )["id"]
    page.goto("/queues/tasks")
    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Task name").fill("dash.charge")
    page.get_by_role("button", name="Filter").click()
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_contain_text("failed")  # the list refreshes until the worker has failed it
    expect(row).to_contain_text("card declined for order A-17")
    _shoot(page, "tasks")

    row.get_by_role("link", name="dash.charge").click()
    expect(page.get_by_role("heading", name="dash.charge")).to_be_visible()
    traceback = page.locator("pre.traceback")
    expect(traceback).to_contain_text("RuntimeError: card declined for order A-17")
    expect(traceback).to_contain_text("Traceback")
    expect(page.locator("pre.json").nth(1)).to_contain_text('"number": "4242"')
    expect(page.locator("main")).not_to_contain_text("sk_live_42")  # the default redaction
    _shoot(page, "task")

    _mark_document(page)
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#flash")).to_contain_text("requeued")
    expect(page.locator(".task-status")).to_have_text("completed")
    expect(page.locator("pre.json").nth(3)).to_contain_text('"charged": true')
    assert _not_reloaded(page)


def test_a_running_task_shows_its_progress_advancing(server: ThreadedServer, page: Page) -> None:
    task_id = server.post("/test/enqueue/report", steps=30, pause=0.2)["id"]
    page.goto(f"/queues/tasks/{task_id}")
    _mark_document(page)
    bar = page.locator("progress.task-progress[value]")
    expect(bar).to_be_visible()
    first = float(bar.get_attribute("value") or 0)
    page.wait_for_function(
        "seen => Number(document.querySelector('progress.task-progress').value) > seen", arg=first
    )
    expect(page.locator(".progress-text")).to_contain_text(" of 30")
    _shoot(page, "progress")
    expect(page.locator(".task-status")).to_have_text("completed")
    expect(bar).to_have_attribute("value", "100.0")
    assert _not_reloaded(page)


def test_pause_stops_claims_until_resume(server: ThreadedServer, page: Page) -> None:
    server.post("/test/enqueue/echo", text="warm-up")
    page.goto("/queues/")
    mail = page.locator('tr[data-queue="mail"]')
    expect(mail.locator(".count-completed")).not_to_have_text("0")
    expect(page.locator("article.worker h3").first).to_be_visible()  # a live worker
    _mark_document(page)
    mail.get_by_role("button", name="Pause").click()
    expect(mail.locator(".queue-state")).to_have_text("paused")

    task_id = server.post("/test/enqueue/echo", text="while paused")["id"]
    task = page.context.new_page()
    task.goto(f"/queues/tasks/{task_id}")
    expect(task.locator(".task-status")).to_have_text("pending")
    time.sleep(1.5)  # seven idle polls of the worker (0.2 s) and four refreshes of the page
    expect(task.locator(".task-status")).to_have_text("pending")
    expect(mail.locator(".count-pending")).to_have_text("1")
    server.post("/test/enqueue/report", steps=10, pause=0.2)
    expect(page.locator("article.worker ul.running")).to_contain_text("dash.report")  # what each worker runs
    _shoot(page, "queues")

    mail.get_by_role("button", name="Resume").click()
    expect(mail.locator(".queue-state")).to_have_text("active")
    expect(task.locator(".task-status")).to_have_text("completed")
    assert _not_reloaded(page)


def test_requests_without_the_guards_credentials_are_refused(
    browser: Browser, server: ThreadedServer
) -> None:
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        for path in ("/queues/", "/queues/tasks", "/queues/confirm/pause?queue=mail"):
            response = page.goto(path)
            assert response is not None and response.status == 401
            expect(page.locator("body")).to_contain_text("operators only: log in first")
            expect(page.locator("table")).to_have_count(0)
            expect(page.locator("form.confirm")).to_have_count(0)
        refused = context.request.post("/queues/actions/pause", form={"queue": "mail"})
        assert refused.status == 401
    finally:
        context.close()


def test_pages_are_readable_and_actions_work_with_javascript_off(
    browser: Browser, server: ThreadedServer
) -> None:
    task_id = server.post("/test/enqueue/charge", order="B-2", card={"number": "5555"})["id"]
    context = _operator(browser, server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/queues/")
        expect(page.locator("table.queues")).to_be_visible()
        expect(page.locator('tr[data-queue="billing"] th')).to_have_text("billing")
        page.goto("/queues/schedules")
        expect(page.locator('tr[data-schedule="hourly-digest"]')).to_contain_text("dash.echo")
        _shoot(page, "schedules")
        deadline = time.monotonic() + LIVE / 1000
        while True:  # no live refresh without JavaScript: reload until the worker has failed it
            page.goto("/queues/tasks?status=failed&task=dash.charge")
            if page.locator(f'tr[data-task-id="{task_id}"]').count() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        page.locator(f'tr[data-task-id="{task_id}"]').get_by_role("link").click()
        expect(page.locator("pre.traceback")).to_contain_text("card declined for order B-2")
        page.get_by_role("button", name="Retry").click()  # a confirmation page, then its form
        expect(page.locator(".question")).to_have_text(f"Run task {task_id} again?")
        page.get_by_role("button", name="Retry").click()
        expect(page.locator(".flash")).to_contain_text(f"task {task_id} was failed: requeued")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto("/queues/tasks?task=dash.charge")
        expect(page.locator("table.tasks")).to_be_visible()
        assert page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        )  # tables scroll inside
        _shoot(page, "phone")
    finally:
        context.close()


def test_a_limit_is_set_changed_and_removed_from_the_queues_page(server: ThreadedServer, page: Page) -> None:
    page.goto("/queues/")
    form = page.locator("form.limit-form")  # a queue without tasks: its name is typed
    form.get_by_label("Queue").fill("exports")
    form.get_by_label("Concurrency", exact=True).fill("3")
    form.get_by_role("button", name="Set limit…").click()
    expect(page.locator(".question")).to_contain_text("Set the limit of queue exports to concurrency 3,")
    page.get_by_role("button", name="Set limit").click()
    expect(page.locator(".flash")).to_contain_text("queue exports: limit set to concurrency 3")
    assert server.get("/test/limits")["exports"] == "concurrency 3"

    page.get_by_role("link", name="Back").click()
    row = page.locator('tr[data-queue="exports"]')
    expect(row.locator(".queue-limit")).to_have_text("concurrency 3")
    row.get_by_role("link", name="Change limit…").click()  # the form, filled in with the limit
    expect(form.get_by_label("Concurrency", exact=True)).to_have_value("3")
    form.get_by_label("Concurrency", exact=True).fill("4")
    form.get_by_role("button", name="Set limit…").click()
    page.get_by_role("button", name="Set limit").click()
    assert server.get("/test/limits")["exports"] == "concurrency 4"

    page.get_by_role("link", name="Back").click()
    expect(row.locator(".queue-limit")).to_have_text("concurrency 4")
    _mark_document(page)
    row.get_by_role("button", name="Remove limit").click()
    expect(page.locator("#flash")).to_contain_text("queue exports: limit removed")
    expect(row).to_have_count(0)  # no tasks and no limit: no longer listed
    assert "exports" not in server.get("/test/limits")
    assert _not_reloaded(page)
