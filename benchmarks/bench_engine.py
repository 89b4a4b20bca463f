"""Engine benchmark: 1,000 product footprints by gas over a synthetic 10,000-activity background.

Compares, in the same run, the engine's batch path (`pcf.engine.batch.score_by_gas`: Brightway builds the
matrices once, one factorisation, one adjoint solve per gas) with the naive loop that builds a new
`bw2calc.LCA` per product. The naive loop is timed on a sample (`--naive`, default 25 products) and
reported as products/s, so the ratio compares rates. Both paths' results are checked against each
other before any number is printed. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pcf.engine.batch import score_by_gas  # noqa: E402
from pcf.engine.project import ensure_shared_databases, gases, open_project  # noqa: E402

FLOWS = ("co2_fossil", "ch4_fossil", "n2o", "sf6", "hfc_134a", "cf4", "co2_luc", "ch4_biogenic", "co2e_fossil")


def synthetic_background(bw, shared, activities: int, seed: int) -> str:
    """A background shaped like an LCI database: a looped core of common supplies, then supply chains.

    300 core activities (energy, transport, basic chemicals) buy from each other, loops included, as
    markets do in ecoinvent. Every other activity belongs to a sector of 100: it buys 1-3 inputs from
    the core and 2-5 from earlier activities of its own or the previous sector, and 5 % of them send a
    by-product back to an earlier activity of the same sector (local loops). Each has 2-4 biosphere
    flows. Input amounts are small enough that the Leontief series converges.
    """
    name = f"bench-synthetic-v2-{activities}-{seed}"
    if name in bw.databases:
        return name
    rng = np.random.default_rng(seed)
    core, sector = 300, 100
    data = {}
    for index in range(activities):
        key = (name, f"a{index}")
        inputs: dict[int, float] = {}
        if index < core:
            for source in rng.integers(0, core, size=rng.integers(2, 6)):
                inputs[int(source)] = float(rng.uniform(0.005, 0.05))
        else:
            for source in rng.integers(0, core, size=rng.integers(1, 4)):
                inputs[int(source)] = float(rng.uniform(0.01, 0.3))
            first = max(core, (index - core) // sector * sector + core - sector)
            if index > first:
                for source in rng.integers(first, index, size=rng.integers(2, 6)):
                    inputs[int(source)] = float(rng.uniform(0.01, 0.15))
            if rng.random() < 0.05 and index > first:
                inputs[int(rng.integers(first, index))] = float(rng.uniform(0.001, 0.02))
        inputs.pop(index, None)
        exchanges = [{"input": key, "amount": 1.0, "type": "production"}]
        exchanges += [{"input": (name, f"a{source}"), "amount": amount, "type": "technosphere"} for source, amount in inputs.items()]
        for flow in rng.choice(FLOWS, size=rng.integers(2, 5), replace=False):
            scale = 1.0 if flow in ("co2_fossil", "co2e_fossil", "co2_luc") else 1e-3
            exchanges.append({"input": (shared.biosphere, str(flow)), "amount": float(rng.uniform(0.1, 2.0) * scale), "type": "biosphere"})
        data[key] = {"name": f"synthetic activity {index}", "unit": "kilogram", "location": "GLO", "type": "process", "exchanges": exchanges}
    bw.Database(name).write(data, process=True)
    return name


def naive_by_gas(bw2calc, demand: dict[int, float], method, data_objs, gas_of_row) -> dict[str, float]:
    """What a user writes without the engine: a fresh LCA, LCI, LCIA and a row sum per gas."""
    lca = bw2calc.LCA(demand=demand, method=method, data_objs=data_objs)
    lca.lci()
    lca.lcia()
    rows = np.asarray(lca.characterized_inventory.sum(axis=1)).ravel()
    result: dict[str, float] = {}
    for node_id, row in lca.dicts.biosphere.items():
        gas = gas_of_row[node_id]
        result[gas] = result.get(gas, 0.0) + float(rows[row])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--naive", type=int, default=25, help="products timed with the naive loop")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a Brightway data dir between runs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="pcf-bench-"))
    started = time.perf_counter()
    bw = open_project(data_dir)
    shared = ensure_shared_databases(bw)
    name = synthetic_background(bw, shared, args.activities, args.seed)
    load_seconds = time.perf_counter() - started
    import bw2calc

    rng = np.random.default_rng(args.seed + 1)
    ids = dict(_ids(bw, name))
    chosen = rng.choice(sorted(ids), size=args.products, replace=False)
    demands = {str(code): {ids[code]: 1.0} for code in chosen}
    gas_methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    total_method = shared.total_method("AR6")
    data_objs = [bw.Database(name).datapackage(), bw.Method(total_method).datapackage()]
    data_objs += [bw.Method(method).datapackage() for method in gas_methods.values()]

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    batch = score_by_gas(demands, gas_methods, data_objs)
    engine_seconds = time.perf_counter() - t0
    rss_engine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    gas_of_row = {bw.get_node(database=shared.biosphere, code=flow).id: bw.get_node(database=shared.biosphere, code=flow)["gas"]
                  for flow in FLOWS}
    sample = list(demands)[: args.naive]
    t0 = time.perf_counter()
    naive = {key: naive_by_gas(bw2calc, demands[key], total_method, data_objs, gas_of_row) for key in sample}
    naive_seconds = time.perf_counter() - t0

    worst = 0.0
    for key in sample:
        engine_gas = batch.by_gas(key)
        for gas, value in naive[key].items():
            worst = max(worst, abs(engine_gas[gas] - value) / max(abs(value), 1e-12))
    if worst > 1e-6:
        print(f"FAIL: engine and naive results differ by {worst:.2e} (relative)")
        return 1

    engine_rate = args.products / engine_seconds
    naive_rate = len(sample) / naive_seconds
    print(f"background: {args.activities:,} activities ({name}), built/loaded in {load_seconds:.1f} s")
    print(f"engine (batch, by gas): {args.products:,} footprints in {engine_seconds:.3f} s = {engine_rate:,.0f} products/s")
    print(f"naive loop (new LCA per product): {len(sample)} footprints in {naive_seconds:.2f} s = {naive_rate:,.1f} products/s")
    print(f"speed-up: {engine_rate / naive_rate:,.0f}x  (target >= 50x; all {args.products:,} in < 2 s: "
          f"{'yes' if engine_seconds < 2 else 'NO'})")
    print(f"agreement with the naive loop: max relative difference {worst:.1e} over {len(sample)} products x {len(gas_methods)} gases")
    print(f"peak RSS: {rss_before / 1024:,.0f} MiB before the batch, {rss_engine / 1024:,.0f} MiB after it")
    return 0


def _ids(bw, name: str):
    from bw2data.backends import ActivityDataset

    return ActivityDataset.select(ActivityDataset.code, ActivityDataset.id).where(ActivityDataset.database == name).tuples()


if __name__ == "__main__":
    sys.exit(main())
