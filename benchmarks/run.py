"""Benchmark litestar-queues against its peers on the same servers, in the same run.

Usage (after ``bash benchmarks/setup.sh`` created the peers' virtual environments)::

    uv run python benchmarks/run.py --redis --postgres --tasks 10000

Starts a throwaway redis-server and PostgreSQL server on loopback ports (``tests/servers/``, the
code the test fixtures use too), then runs, one system after the other, each system's driver
(``_driver.py``) in that system's own virtual environment (``.bench/venvs/<peer>``; ours runs in
the workspace environment). Each driver measures:

1. enqueue rate of ``--tasks`` no-op tasks, one by one, and through the batch API where the
   system has one (chunks of 1,000);
2. drain rate of the ``--tasks`` tasks enqueued one by one, with ONE worker process at
   ``--concurrency``, from the worker's start to the moment the system reports no task left;
3. idle enqueue-to-run latency over ``--latency`` sequential tasks, the worker idle in between.

``--observed`` runs only ours, each backend with and without both observers on (metrics and
traces, ``_observers.py``), ``--rounds`` times in turn: the cost of observability in one run.

Prints a Markdown table (and writes the raw JSON to ``.bench/results-<time>.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENVS = ROOT / ".bench" / "venvs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import PostgresServer, RedisServer  # noqa: E402


@dataclass(frozen=True)
class System:
    label: str
    peer: str  # module: peers/<peer>_bench.py, or "ours"
    server: str  # "redis", "postgres" or "sqlite"
    database: str = ""
    checkout: Path | None = None  # ours at another commit: a checkout with its own uv venv
    observed: str = ""  # ours with both observers on (BENCH_OBSERVED: "all" or "sampled")

    @property
    def python(self) -> str:
        if self.checkout is not None:
            return str(self.checkout / ".venv" / "bin" / "python")
        if self.peer == "ours":
            return sys.executable
        venv_peer = {"saq": "saq", "arq": "arq", "taskiq": "taskiq", "lq012": "lq012", "lq012_sql": "lq012"}
        return str(VENVS / venv_peer.get(self.peer, self.peer) / "bin" / "python")

    def url(self, redis: RedisServer | None, pg: PostgresServer | None, tmp: Path) -> str:
        if self.server == "redis":
            assert redis is not None
            return redis.url
        if self.server == "postgres":
            assert pg is not None
            return pg.dsn(self.database)
        return f"sqlite:///{tmp / (self.database + '.db')}"


REDIS_SYSTEMS = [
    System("SAQ (Redis)", "saq", "redis"),
    System("arq", "arq", "redis"),
    System("taskiq-redis (RedisStreamBroker)", "taskiq", "redis"),
    System("litestar-queues 0.12 (Redis)", "lq012", "redis"),
    System("ours (Redis)", "ours", "redis"),
]
POSTGRES_SYSTEMS = [
    System("procrastinate", "procrastinate", "postgres", "bench_procrastinate"),
    System("SAQ (Postgres)", "saq", "postgres", "bench_saq"),
    System("litestar-queues 0.12 (advanced-alchemy, PostgreSQL)", "lq012_sql", "postgres", "bench_lq012"),
    System("ours (PostgreSQL)", "ours", "postgres", "bench_ours"),
    System("ours (SQLite file, reference)", "ours", "sqlite", "bench_ours"),
]


def run_system(
    system: System, url: str, args: argparse.Namespace, pg_bin: Path | None = None
) -> dict[str, Any]:
    driver = (system.checkout / "benchmarks" if system.checkout is not None else HERE) / "_driver.py"
    cmd = [system.python, str(driver), "--peer", system.peer, "--url", url]
    cmd += [
        "--tasks",
        str(args.tasks),
        "--concurrency",
        str(args.concurrency),
        "--latency",
        str(args.latency),
    ]
    print(f"-- {system.label}: {url}", file=sys.stderr, flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "BENCH_OBSERVED")}
    if system.observed:
        env["BENCH_OBSERVED"] = system.observed
    if pg_bin is not None:
        env["BENCH_PG_BIN"] = str(pg_bin)  # the driver's psql (reset between scenarios) matches the server
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        return {"system": system.peer, "label": system.label, "error": f"exit {proc.returncode}: {tail[-1:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["label"] = system.label
    print(f"   {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| system | versions | enqueue one-by-one /s | enqueue batch /s | drain /s | "
        "p50 latency ms | p99 latency ms | ran / distinct |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['label']} | — | error: {r['error']} | | | | | |")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        notes = [r[k] for k in ("drain_error", "latency_error") if k in r]
        rows.append(
            f"| {r['label']} | {versions} | {fmt(r.get('enqueue_single_per_s'))} | "
            f"{fmt(r.get('enqueue_batch_per_s'))} | {fmt(r.get('drain_per_s'))} | "
            f"{fmt(r.get('latency_p50_ms'), 1)} | {fmt(r.get('latency_p99_ms'), 1)} | "
            f"{r.get('executions', '—')} / {r.get('distinct_executed', '—')}"
            + (f" ({'; '.join(notes)})" if notes else "")
            + " |"
        )
    return "\n".join(rows)


def git_state(checkout: Path = ROOT) -> str:
    """The commit ours was measured at, and whether its packages had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=checkout
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "packages"], capture_output=True, text=True, cwd=checkout
        )
    except OSError:
        return "an unknown commit"
    state = f"commit {head.stdout.strip() or '?'}"
    return state + (" (packages/ with uncommitted changes)" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis", action="store_true", help="run the Redis systems")
    parser.add_argument("--postgres", action="store_true", help="run the PostgreSQL (and SQLite) systems")
    parser.add_argument("--only", default="", help="comma-separated peer modules to run (e.g. saq,ours)")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=2400)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of ours at an earlier commit (with a venv: uv sync there); each 'ours' system "
        "then also runs from it, alternating with the current tree, for a before/after in one run; "
        "peers run (once, first) only when --only names them",
    )
    parser.add_argument(
        "--observed",
        action="store_true",
        help="run each 'ours' system also with PrometheusObserver and OpenTelemetryObserver on "
        "(the SDK sampling every trace, then one in ten: benchmarks/_observers.py), alternating",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --baseline or --observed: alternations per system"
    )
    args = parser.parse_args()
    if not (args.redis or args.postgres):
        args.redis = args.postgres = True
    only = {p for p in args.only.split(",") if p}
    tmp = ROOT / ".bench" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    ours_at = git_state()
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        # the same durability for every system: redis without persistence; PostgreSQL with fsync
        # and full_page_writes off, synchronous_commit on (docs/benchmarks.md)
        redis = stack.enter_context(RedisServer(aof=False, unix_socket=False)) if args.redis else None
        pg = (
            stack.enter_context(PostgresServer(synchronous_commit=True, shared_buffers="128MB"))
            if args.postgres
            else None
        )
        servers = []
        if redis:
            servers.append(f"redis-server {redis.version()}")
        if pg:
            servers.append(f"PostgreSQL {pg.version()}")
        systems = (REDIS_SYSTEMS if args.redis else []) + (POSTGRES_SYSTEMS if args.postgres else [])
        if args.baseline is not None:
            # peers run once, first, and only when --only names them; ours alternates with the baseline
            peers = [s for s in systems if s.peer != "ours" and s.peer in only]
            systems = [s for s in systems if s.peer == "ours" and s.server != "sqlite"]
            at = git_state(args.baseline.resolve())
            systems = peers + [
                variant
                for system in systems
                for _ in range(args.rounds)
                for variant in (
                    System(
                        f"{system.label} before ({at})", "ours", system.server, system.database, args.baseline
                    ),
                    system,
                )
            ]
        if args.observed:
            systems = [s for s in systems if s.peer == "ours" and s.server != "sqlite"]
            systems = [
                variant
                for system in systems
                for _ in range(args.rounds)
                for variant in (
                    system,
                    *(
                        System(
                            f"{system.label} + observers ({label})",
                            "ours",
                            system.server,
                            system.database,
                            system.checkout,
                            observed=mode,
                        )
                        for mode, label in (("all", "every trace"), ("sampled", "1 trace in 10"))
                    ),
                )
            ]
        for system in systems:
            if only and system.peer not in only:
                continue
            results.append(run_system(system, system.url(redis, pg, tmp), args, pg.bindir if pg else None))
    print(
        f"\nMeasured {started:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs), "
        f"Python {platform.python_version()}, {', '.join(servers)}; "
        f"{args.tasks} tasks, concurrency {args.concurrency}, {args.latency} latency probes; "
        f"ours at {ours_at}.\n"
    )
    print(table(results))
    out = ROOT / ".bench" / f"results-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(
        json.dumps(
            {"started": started.isoformat(), "ours_at": ours_at, "servers": servers, "results": results},
            indent=2,
        )
    )
    print(f"\nraw results: {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
