"""The install facts a new user needs are on the pages they read first."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_websocket_streams_say_they_need_uvicorn_standard() -> None:
    for page in (ROOT / "docs" / "litestar.md", ROOT / "packages" / "litestar-adapter" / "README.md"):
        text = page.read_text()
        assert 'pip install "uvicorn[standard]"' in text, page
    assert "405 Method Not Allowed" in (ROOT / "docs" / "litestar.md").read_text()


def test_the_install_pages_list_every_extra() -> None:
    for page in (ROOT / "docs" / "index.md", ROOT / "README.md"):
        text = page.read_text()
        for extra in ("sql", "postgres", "psycopg", "redis", "litestar", "cloudrun", "cron"):
            assert f"| `{extra}`" in text, (page, extra)
    core = (ROOT / "packages" / "core" / "README.md").read_text()
    for line in (
        "litestar-queues[sql]",
        "litestar-queues[postgres]",
        "litestar-queues[litestar,redis,sql]",
        "litestar-queues[cron]",
    ):
        assert f'pip install "{line}"' in core


def test_every_distribution_ships_the_license() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    for package in (ROOT / "packages").iterdir():
        if (package / "pyproject.toml").exists():
            assert (package / "LICENSE").read_text() == license_text, package
            assert 'license-files = ["LICENSE"]' in (package / "pyproject.toml").read_text(), package
