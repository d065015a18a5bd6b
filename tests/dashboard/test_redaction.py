"""Secrets are hidden before the dashboard shows them; connection URLs never show a password."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueueService
from litestar_queues_litestar import QueuePlugin
from litestar_queues_litestar.dashboard import (
    DEFAULT_SECRET_KEYS,
    DashboardConfig,
    KeyRedactor,
    default_redact,
)
from litestar_queues_litestar.dashboard.mount import DashboardMount
from litestar_queues_litestar.dashboard.redaction import MASK, mask_url_passwords, redact_field, redact_url
from tests.dashboard._apps import LOOPBACK, make_app, ok

if TYPE_CHECKING:
    from litestar import Litestar


def test_default_masks_secret_keys_at_any_depth_and_case() -> None:
    value = {
        "user": "ada",
        "Password": "hunter2",
        "auth": {
            "API-Key": "k1",
            "access_token": "t1",
            "Authorization": "Bearer x",
            "nested": [{"client_secret": "s"}],
        },
        "cards": [{"number": "4242", "cvc": "123"}],
        "session_id": "abc",
        "count": 3,
    }
    shown = default_redact("kwargs", value)
    assert shown == {
        "user": "ada",
        "Password": MASK,
        "auth": {
            "API-Key": MASK,
            "access_token": MASK,
            "Authorization": MASK,
            "nested": [{"client_secret": MASK}],
        },
        "cards": [{"number": "4242", "cvc": "123"}],
        "session_id": MASK,
        "count": 3,
    }
    assert value["Password"] == "hunter2"  # the stored value is not changed


def test_default_masks_passwords_in_urls_inside_strings() -> None:
    assert default_redact("args", ["postgresql://app:s3cret@db:5432/x", 7]) == [
        f"postgresql://app:{MASK}@db:5432/x",
        7,
    ]
    assert (
        mask_url_passwords("connect redis://:pw@cache:6379/0 failed")
        == f"connect redis://:{MASK}@cache:6379/0 failed"
    )
    assert (
        mask_url_passwords("https://example.com/a:b@c") == "https://example.com/a:b@c"
    )  # a path, not userinfo


def test_key_redactor_takes_more_keys() -> None:
    redact = KeyRedactor((*DEFAULT_SECRET_KEYS, "ssn"), mask="[hidden]")
    assert redact("metadata", {"SSN": "123-45", "password": "x", "name": "n"}) == {
        "SSN": "[hidden]",
        "password": "[hidden]",
        "name": "n",
    }


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("postgresql://app:s3cret@db/x?table_prefix=t_", f"postgresql://app:{MASK}@db/x?table_prefix=t_"),
        (
            "postgresql://db/x?password=s3cret&sslmode=require",
            f"postgresql://db/x?password={MASK}&sslmode=require",
        ),
        ("redis://user@cache:6379", "redis://user@cache:6379"),
        ("sqlite:///queue.db", "sqlite:///queue.db"),
    ],
)
def test_connection_urls_never_show_a_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_header_shows_the_backend_url_without_its_password() -> None:
    mount = DashboardMount(
        DashboardConfig(), QueueConfig(queue_backend="redis://:pw@cache:6379/0"), QueueService
    )
    assert mount.dashboard.backend_label == f"redis://:{MASK}@cache:6379/0"


def test_a_failing_hook_hides_the_whole_value(caplog: pytest.LogCaptureFixture) -> None:
    def broken(field: str, value: Any) -> Any:
        raise KeyError(field)

    with caplog.at_level(logging.ERROR, "litestar_queues.litestar"):
        shown = redact_field(broken, "kwargs", {"password": "x"})
    assert "x" not in str(shown).replace("hidden", "").replace("fail", "") and "redact hook failed" in shown
    assert any("redact hook failed" in r.getMessage() for r in caplog.records)
    assert redact_field(None, "kwargs", {"password": "x"}) == {"password": "x"}


def _task_page(app: Litestar, **kwargs: Any) -> str:
    with TestClient(app, base_url=LOOPBACK) as client:
        plugin = client.app.plugins.get(QueuePlugin)
        with client.portal() as portal:
            handle = portal.call(lambda: plugin.service.enqueue(ok, **kwargs))
        return client.get(f"/queues/tasks/{handle.id}").text


def test_the_task_page_shows_redacted_arguments_and_metadata() -> None:
    html = _task_page(make_app(), password="hunter2", dsn="redis://:pw9@cache/0", visible="yes")
    assert "hunter2" not in html and "pw9" not in html
    assert "visible" in html and "yes" in html and MASK in html


def test_a_custom_hook_sees_each_field() -> None:
    seen: list[str] = []

    def hide_kwargs(field: str, value: Any) -> Any:
        seen.append(field)
        return "(kwargs hidden)" if field == "kwargs" else value

    html = _task_page(make_app(DashboardConfig(redact=hide_kwargs)), note="plain")
    assert "(kwargs hidden)" in html and "plain" not in html
    assert {"args", "kwargs", "metadata"} <= set(seen)
