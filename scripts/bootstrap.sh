#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian/Ubuntu machine with Python 3.11+:
# uv (from PyPI), then the project's virtual environment. With --servers also redis-server, the
# PostgreSQL server binaries and Chromium for the dashboard's browser tests (Debian packages; needs
# root). Playwright (a dev dependency from PyPI) drives /usr/bin/chromium: no browser download.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet uv 2>/dev/null || python3 -m pip install --quiet --break-system-packages uv
fi
export PATH="$HOME/.local/bin:$PATH"

if [ "${1:-}" = "--servers" ]; then
    missing=()
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
        # the packaged services are not used: the tests start their own servers on loopback ports
        $SUDO service redis-server stop >/dev/null 2>&1 || true
        $SUDO service postgresql stop >/dev/null 2>&1 || true
    fi
fi

uv sync --frozen --quiet
