"""Node benchmark: 10,000 stored footprints, concurrent HTTPS clients on loopback, real vs trivial endpoints.

Starts `pcf serve --self-signed --workers N` on a free loopback port, publishes realistic footprints, then
runs the same fixed number of requests with the same client threads against
  GET /health                    (trivial JSON, no auth, no database: the baseline of this server set-up)
  GET /3/footprints?limit=50     (authenticated list: 50 footprints, ~160 kB)
  GET /3/footprints/{id}         (authenticated get of a random footprint)
and prints req/s, p50 and p99 for each, and each real endpoint's throughput as a share of the baseline's.
Bounded in count and time; talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pact import realistic_footprints  # noqa: E402

from exchange.node.records import publish_footprints  # noqa: E402
from exchange.node.storage import NodeStore  # noqa: E402
from tests.support.node import add_clients, start_node  # noqa: E402


def run(base: str, ca: str, paths: list[str], headers: dict, clients: int) -> tuple[float, list[float]]:
    """Send every path once, spread over `clients` threads with keep-alive sessions; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [paths[i::clients] for i in range(clients)]
    failures: list[str] = []

    def worker(chunk: list[str]) -> None:
        session = requests.Session()
        mine = []
        for path in chunk:
            started = time.perf_counter()
            try:
                response = session.get(base + path, headers=headers, verify=ca, timeout=30)
            except requests.RequestException as exc:
                failures.append(f"{path}: {exc!r}")
                continue
            mine.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(f"{path}: {response.status_code}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"FAIL: {len(failures)} requests failed, e.g. {failures[:3]}")
    return elapsed, latencies


def report(name: str, elapsed: float, latencies: list[float], baseline: float | None = None) -> float:
    rate = len(latencies) / elapsed
    quantiles = statistics.quantiles(latencies, n=100)
    share = f"  {rate / baseline * 100:5.1f} % of baseline" if baseline else ""
    print(f"{name:<32} {rate:8,.0f} req/s   p50 {quantiles[49] * 1000:7.1f} ms   p99 {quantiles[98] * 1000:7.1f} ms{share}")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footprints", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="pcf-bench-node-"))
    db_url = f"sqlite:///{data_dir / 'node.sqlite'}"
    store = NodeStore(db_url)
    store.init_schema()
    add_clients(store, {"bench": ("bench-secret", "BenchCo")})
    footprints = realistic_footprints(args.footprints, seed=11)
    started = time.perf_counter()
    for i in range(0, len(footprints), 500):
        publish_footprints(store, footprints[i:i + 500], share_with=("BenchCo",))
    print(f"published {len(footprints):,} footprints in {time.perf_counter() - started:.1f} s")
    node = start_node(data_dir, db_url, workers=args.workers)
    try:
        headers = {"Authorization": f"Bearer {node.token('bench', 'bench-secret')}"}
        rng = random.Random(5)
        ids = [f.id for f in footprints]
        plans = {
            "GET /health (baseline)": ["/health"] * args.requests,
            "GET /3/footprints?limit=50": [f"/3/footprints?limit=50&productId={rng.choice(footprints).product_ids[0]}"
                                           if i % 4 == 3 else "/3/footprints?limit=50" for i in range(args.requests)],
            "GET /3/footprints/{id}": [f"/3/footprints/{rng.choice(ids)}" for _ in range(args.requests)],
        }
        run(node.base, node.ca, ["/health"] * 50, headers, args.clients)  # warm up connections and workers
        print(f"{args.requests:,} requests per endpoint, {args.clients} client threads, {args.workers} server workers, TLS on loopback")
        baseline = None
        for name, paths in plans.items():
            elapsed, latencies = run(node.base, node.ca, paths, headers, args.clients)
            rate = report(name, elapsed, latencies, baseline)
            baseline = baseline or rate
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
