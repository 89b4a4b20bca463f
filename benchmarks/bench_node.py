"""Node benchmark: the real node against a trivial app returning the same bytes, same server set-up, with wrk.

Starts the real node (`pcf serve --self-signed --workers N`: its own server configuration, TLS) over 1,000 stored
footprints, and beside it a trivial Flask app that answers the same two requests with fixed bytes (the node's own
answers, fetched once) through the very function the node is served with (exchange/node/server.py `serve_app`): same
server, workers, threads (hot reads in their own pool, as the node's on SQLite), TLS certificate. wrk (Debian
package `wrk`) then loads, alternately and in several rounds,
  GET /3/footprints?limit=50   (authenticated list: 50 stored footprints)   vs the trivial app's same bytes
  GET /3/footprints/{id}       (authenticated get of one footprint)        vs the trivial app's same bytes
with keep-alive connections, and prints req/s, latency and the node/trivial ratio per round, and the medians.
The ratio is what counts (both sides share the machine's load at the moment); absolute figures depend on the
machine. Talks only to 127.0.0.1. Run it on a quiet machine: `flock /tmp/bench.lock .venv/bin/python ...`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pact import realistic_footprints  # noqa: E402

from exchange.node.records import publish_footprints  # noqa: E402
from exchange.node.server import read_threads_for  # noqa: E402
from exchange.node.storage import NodeStore  # noqa: E402
from pcf.tiers.local_nodes import answers_health  # noqa: E402
from tests.support.node import add_clients, free_port, start_node  # noqa: E402

ROUTES = {"list": "/3/footprints?limit=50", "get": "/3/footprints/{id}"}
TRIVIAL_PATHS = {"list": "/3/footprints", "get": "/3/footprints/<id>"}  # the same requests, answered with fixed bytes


def trivial_server(port: int, cert: str, key: str, bodies: str, workers: int, read_threads: int) -> None:
    """The baseline: a Flask app returning fixed bytes at the node's own paths, under the node's server
    configuration (its hot reads in a pool of `read_threads`, as the node's: server.read_threads_for)."""
    from flask import Flask, Response

    from exchange.node.server import serve_app

    directory = Path(bodies)

    def load() -> Flask:
        app = Flask("trivial")
        for name in ROUTES:
            body = (directory / f"{name}.json").read_bytes()
            answer = partial(Response, body, mimetype="application/json")
            app.add_url_rule(TRIVIAL_PATHS[name], name, lambda answer=answer, **_: answer())
        app.add_url_rule("/health", "health", lambda: Response('{"status":"ok"}', mimetype="application/json"))
        return app

    serve_app(load, "127.0.0.1", port, Path(cert), Path(key), workers, read_threads=read_threads)


def start_trivial(node, headers: dict[str, str], paths: dict[str, str], data_dir: Path,
                  workers: int) -> tuple[subprocess.Popen, int]:
    """The trivial app, answering each of `paths` (at the node's paths, ROUTES' names) with the node's own answer
    (fetched once into `data_dir`/trivial-bodies), under the node's server set-up and TLS certificate: (process,
    port)."""
    bodies = data_dir / "trivial-bodies"
    bodies.mkdir()
    for name, path in paths.items():
        response = requests.get(node.base + path, headers=headers, verify=node.ca, timeout=30)
        response.raise_for_status()
        (bodies / f"{name}.json").write_bytes(response.content)
    port, cert = free_port(), node.ca
    process = subprocess.Popen([sys.executable, __file__, "--trivial-server", str(port), cert,
                                str(data_dir / "tls" / "key.pem"), str(bodies), str(workers),
                                str(read_threads_for(node.db_url))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"trivial app exited: {process.stderr.read().decode()[-2000:]}")
        if answers_health(f"https://127.0.0.1:{port}", cert):
            return process, port
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the trivial app did not start within 30 s")


def wrk(url: str, seconds: int, connections: int, threads: int, headers: dict[str, str]) -> dict[str, float]:
    """req/s and latency percentiles (ms) of one wrk run; SystemExit if any answer was not 2xx."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"FAIL: wrk saw errors on {url}:\n{output}")
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * units[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": latency("50%"), "p99": latency("99%")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footprints", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds (node, trivial) per route")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration of each run")
    parser.add_argument("--connections", type=int, default=8, help="wrk keep-alive connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (both apps)")
    parser.add_argument("--trivial-server", nargs=6, metavar=("PORT", "CERT", "KEY", "BODIES", "WORKERS", "READS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trivial_server:
        port, cert, key, bodies, workers, read_threads = args.trivial_server
        trivial_server(int(port), cert, key, bodies, int(workers), int(read_threads))
        return 0
    if shutil.which("wrk") is None:
        print("bench_node needs wrk (HTTP load generator): `apt-get install -y wrk` (Debian/Ubuntu package wrk)")
        return 1

    data_dir = Path(tempfile.mkdtemp(prefix="pcf-bench-node-"))
    db_url = f"sqlite:///{data_dir / 'node.sqlite'}"
    store = NodeStore(db_url)
    store.init_schema()
    add_clients(store, {"bench": ("bench-secret", "BenchCo")})
    footprints = realistic_footprints(args.footprints, seed=11)
    for i in range(0, len(footprints), 500):
        publish_footprints(store, footprints[i:i + 500], share_with=("BenchCo",))
    node = start_node(data_dir, db_url, workers=args.workers, extra=("--deliver-every", "0"))
    trivial = None
    try:
        headers = {"Authorization": f"Bearer {node.token('bench', 'bench-secret')}"}
        paths = {"list": ROUTES["list"], "get": ROUTES["get"].format(id=footprints[len(footprints) // 2].id)}
        trivial, port = start_trivial(node, headers, paths, data_dir, args.workers)
        sizes = {name: (data_dir / "trivial-bodies" / f"{name}.json").stat().st_size for name in paths}
        print(f"{args.footprints:,} footprints stored (SQLite); node and trivial app: {args.workers} server workers (Hypercorn, serve_app), "
              f"TLS on loopback; wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, keep-alive")
        print(f"bodies: list {sizes['list']:,} bytes, get {sizes['get']:,} bytes")
        ratios: dict[str, list[float]] = {name: [] for name in paths}
        for round_number in range(1, args.rounds + 1):
            for name, path in paths.items():
                runs = [("node", node.base + path, headers), ("trivial", f"https://127.0.0.1:{port}{path}", {})]
                if round_number % 2 == 0:
                    runs.reverse()  # alternate who goes first, so drift in the machine's load hits both alike
                results = {who: wrk(url, args.seconds, args.connections, args.threads, h) for who, url, h in runs}
                ratio = results["node"]["rps"] / results["trivial"]["rps"]
                ratios[name].append(ratio)
                print(f"round {round_number} {name:<4} node {results['node']['rps']:8,.0f} req/s "
                      f"(p50 {results['node']['p50']:6.1f} ms, p99 {results['node']['p99']:6.1f} ms)   trivial "
                      f"{results['trivial']['rps']:8,.0f} req/s (p50 {results['trivial']['p50']:6.1f} ms, "
                      f"p99 {results['trivial']['p99']:6.1f} ms)   ratio {ratio:.2f}")
        for name, path in paths.items():
            print(f"median ratio {name} ({ROUTES[name]}): {statistics.median(ratios[name]):.2f} "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in ratios[name])})")
    finally:
        if trivial is not None:
            trivial.terminate()
            trivial.wait(timeout=10)
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
