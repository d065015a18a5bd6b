"""Runs the three scenarios for one system, inside that system's own virtual environment.

Started by ``run.py`` as ``<venv>/bin/python benchmarks/_driver.py --peer NAME --url URL ...``;
it starts the worker of the system as another process of the same interpreter
(``--role worker``) and prints one JSON object with its measurements on its last stdout line.

Stdlib only, apart from the peer module (``peers/<name>_bench.py`` or ``ours.py``) which imports
the system under test. A peer module provides:

* ``BATCH``: whether the system has a batch-enqueue API (used in chunks of ``BATCH_SIZE``).
* ``versions() -> dict[str, str]``: the installed versions that matter.
* ``async setup(url)``: create the schema on an empty database (no-op on Redis).
* ``async open_client(url)``: an object with ``async enqueue(i)``, ``async enqueue_batch(ids)``
  (when ``BATCH``), ``async outstanding() -> int`` (tasks not finished yet, as the system itself
  reports them) and ``async close()``.
* ``run_worker(url, concurrency, ready)``: run one worker in the foreground until SIGTERM,
  calling ``ready()`` right before the system's worker entry point (which connects).

With ``BENCH_PROFILE=<dir>`` in the environment the worker runs under cProfile and writes
``<dir>/worker-<peer>-<scheme>.prof`` when it stops (timings are then not comparable).

The no-op task of every system calls ``bench_signal.send(i)`` (one UDP datagram) and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BATCH_SIZE = 1000
# psql for the resets: run.py passes the bindir of the server it started (tests/servers/postgres.py)
PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))


def load_peer(name: str) -> Any:
    sys.path[:0] = [str(HERE), str(HERE / "peers")]
    return importlib.import_module("ours" if name == "ours" else f"{name}_bench")


# -- resetting the server between scenarios ----------------------------------------------------


def reset_server(url: str) -> None:
    """Empty the database the system uses (FLUSHDB, DROP/CREATE DATABASE, or delete the file)."""
    scheme = url.split("://", 1)[0]
    if scheme.startswith("redis"):
        rest = url.split("://", 1)[1]
        hostport, _, db = rest.partition("/")
        host, port = hostport.rsplit(":", 1)
        subprocess.run(
            ["redis-cli", "-h", host, "-p", port, "-n", db or "0", "FLUSHDB"], check=True, capture_output=True
        )
    elif scheme.startswith("postgres"):
        rest = url.split("://", 1)[1]
        userhost, _, database = rest.partition("/")
        user, _, hostport = userhost.rpartition("@")
        host, port = hostport.rsplit(":", 1)
        base = [
            str(PG_BIN / "psql"),
            "-h",
            host,
            "-p",
            port,
            "-U",
            user or "postgres",
            "-d",
            "postgres",
            "-q",
        ]
        subprocess.run(
            [
                *base,
                "-c",
                f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
                "-c",
                f'CREATE DATABASE "{database}"',
            ],
            check=True,
            capture_output=True,
        )
    elif scheme.startswith("sqlite"):
        path = url.split(":///", 1)[1].split("?", 1)[0]
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)
    else:
        raise ValueError(f"cannot reset {url!r}")


# -- the completion signal -----------------------------------------------------------------------


class Signals(asyncio.DatagramProtocol):
    """Receives the tasks' UDP datagrams: counts them and wakes latency probes."""

    def __init__(self) -> None:
        self.count = 0
        self.seen: set[int] = set()
        self.last_at = 0.0
        self.target = -1
        self.reached = asyncio.Event()  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        self.waiting: dict[int, asyncio.Future[float]] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.time()
        i = int(data)
        self.count += 1
        self.seen.add(i)
        self.last_at = now
        if 0 <= self.target <= self.count:
            self.reached.set()
        fut = self.waiting.pop(i, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())


async def open_signals() -> tuple[Signals, str, asyncio.DatagramTransport]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Signals, sock=sock)
    port = sock.getsockname()[1]
    return protocol, f"127.0.0.1:{port}", transport


# -- the scenarios -------------------------------------------------------------------------------


async def timed_enqueue(client: Any, ids: range, *, batch: bool) -> float:
    start = time.perf_counter()
    if batch:
        for lo in range(ids.start, ids.stop, BATCH_SIZE):
            await client.enqueue_batch(list(range(lo, min(lo + BATCH_SIZE, ids.stop))))
    else:
        for i in ids:
            await client.enqueue(i)
    return time.perf_counter() - start


def start_worker(args: argparse.Namespace) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--role", "worker", "--peer", args.peer]
    cmd += ["--url", args.url, "--concurrency", str(args.concurrency)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())


async def wait_ready(proc: subprocess.Popen[str], timeout: float = 120.0) -> float:
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout)
        if not line:
            raise RuntimeError(f"worker did not start (exit {proc.poll()})")
        if line.startswith("READY "):
            return float(line.split()[1])


def stop_worker(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    peer = load_peer(args.peer)
    n = args.tasks
    result: dict[str, Any] = {"system": args.peer, "url": args.url, "tasks": n, "versions": peer.versions()}
    signals, address, transport = await open_signals()
    os.environ["BENCH_SIGNAL"] = address

    # (1) enqueue rate: batch API first (then reset), then one by one (those tasks stay queued).
    if peer.BATCH and not args.skip_batch:
        reset_server(args.url)
        await peer.setup(args.url)
        client = await peer.open_client(args.url)
        seconds = await timed_enqueue(client, range(n), batch=True)
        await client.close()
        result["enqueue_batch_per_s"] = n / seconds
    reset_server(args.url)
    await peer.setup(args.url)
    client = await peer.open_client(args.url)
    seconds = await timed_enqueue(client, range(n), batch=False)
    result["enqueue_single_per_s"] = n / seconds

    # (2) drain: one worker process at the given concurrency, from its start to the moment the
    # system reports nothing outstanding (checked once every task has signalled it ran).
    signals.target = n
    if signals.count >= n:
        signals.reached.set()
    worker = start_worker(args)
    try:
        started = await wait_ready(worker)
        try:
            await asyncio.wait_for(signals.reached.wait(), args.drain_timeout)
        except TimeoutError:
            result["drain_error"] = f"only {signals.count} of {n} tasks ran in {args.drain_timeout} s"
        ran_at = signals.last_at
        while (left := await client.outstanding()) > 0:
            if time.time() - ran_at > args.drain_timeout:
                result["drain_error"] = f"{left} tasks still outstanding"
                break
            await asyncio.sleep(0.005)  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        done_at = time.time()
        result["drain_per_s"] = n / (done_at - started)
        result["drain_seconds"] = done_at - started
        result["ack_lag_ms"] = (done_at - ran_at) * 1000
        await asyncio.sleep(0.5)  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        result["executions"] = signals.count
        result["distinct_executed"] = len(signals.seen)

        # (3) idle latency: sequential enqueue -> task ran, with the worker idle in between.
        await asyncio.sleep(1.0)  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        latencies, enqueue_times = [], []
        loop = asyncio.get_running_loop()
        for k in range(args.latency):
            i = 10_000_000 + k
            fut: asyncio.Future[float] = loop.create_future()
            signals.waiting[i] = fut
            start = time.perf_counter()
            await client.enqueue(i)
            enqueue_times.append(time.perf_counter() - start)
            try:
                end = await asyncio.wait_for(fut, 30)
            except TimeoutError:
                result["latency_error"] = f"probe {k} did not run within 30 s"
                break
            latencies.append(end - start)
            await asyncio.sleep(args.latency_gap)  # noqa: TID251 (stdlib only: runs in the peers' venvs)
        if latencies:
            result["latency_samples"] = len(latencies)
            result["latency_p50_ms"] = statistics.median(latencies) * 1000
            result["latency_p99_ms"] = percentile(latencies, 99) * 1000
            result["latency_enqueue_p50_ms"] = statistics.median(enqueue_times) * 1000
    finally:
        stop_worker(worker)
        await client.close()
        transport.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--role", choices=["driver", "worker"], default="driver")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--latency-gap", type=float, default=0.02)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    os.environ["BENCH_URL"] = args.url
    if args.role == "worker":
        peer = load_peer(args.peer)

        def ready() -> None:
            print(f"READY {time.time()}", flush=True)

        profile_dir = os.environ.get("BENCH_PROFILE")
        if not profile_dir:
            peer.run_worker(args.url, args.concurrency, ready)
            return
        import cProfile

        profiler = cProfile.Profile()
        try:
            profiler.runcall(peer.run_worker, args.url, args.concurrency, ready)
        finally:
            scheme = args.url.split(":", 1)[0]
            profiler.dump_stats(Path(profile_dir) / f"worker-{args.peer}-{scheme}.prof")
        return
    print(json.dumps(asyncio.run(drive(args))), flush=True)


if __name__ == "__main__":
    main()
