"""Engine benchmark: footprints by gas at database scale, against Brightway's own `MultiLCA` in the same run.

1. **A 20,000-activity ecoinvent-like background**: ~13 technosphere exchanges and 5-10 GHG elementary flows per
   activity, a looped core of 1,000 and local loops. After bw2calc has loaded its matrices, every product's
   per-unit footprint by gas (20,000 x 15) in < 1 s, checked against bw2calc's `LCA` on a sample.
2. **A product model linked to it**: the background registered as an imported database (`pcf data import`'s
   registry, per-unit inventories from the batch path), a model whose inputs name 40 of its activities,
   computed by a fresh `Engine` (foreground written and solved) in < 2 s.
3. **1,000 demands on a 10,000-activity background** (the looped core, sector chains and local loops below):
   the engine's batch path (`pcf.engine.batch.score_by_gas`: bw2calc builds the matrices, one factorisation of
   `A^T` in block triangular form, one solve per gas) against bw2calc's `MultiLCA` on the same demands, data
   packages and one GWP100 method per gas (`lci()` + `lcia()`), the anchor; a naive new `bw2calc.LCA` per product
   on a sample is printed as context only. Target: >= 10x. Every one of the 1,000 x gases is compared.

Peak memory (RSS) is reported after parts 1-2 and again after part 3 (MultiLCA's dense arrays dominate).
Run with `make bench`; `--data-dir` keeps the backgrounds between runs (writing them takes a minute).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import run_times  # noqa: E402
from lca_models.model_schema import load_model  # noqa: E402
from pcf.data.imports import ImportReport, register  # noqa: E402
from pcf.engine import Engine  # noqa: E402
from pcf.engine.batch import load, score_by_gas  # noqa: E402
from pcf.engine.foreground import database_name  # noqa: E402
from pcf.engine.imported import ImportedCatalogue, read_registry  # noqa: E402
from pcf.engine.project import ensure_shared_databases, gases, open_project  # noqa: E402
from pcf.engine.suppliers import SupplierLoader  # noqa: E402

FLOWS = ("co2_fossil", "ch4_fossil", "n2o", "sf6", "hfc_134a", "cf4", "co2_luc", "ch4_biogenic", "co2e_fossil")
DENSE_FLOWS = FLOWS + ("nf3", "hfc_32", "hfc_125", "c2f6", "co2_biogenic", "co2_uptake", "co2e_luc")


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


def ecoinvent_like_background(bw, shared, activities: int, seed: int) -> str:
    """ecoinvent's density (ecoinvent 3.9 cut-off: ~21,000 activities, ~15 technosphere inputs each) in the shape
    of `synthetic_background`: a looped core of 1,000 markets for common supplies, each buying 4-11 inputs from
    the core; every other activity, in sectors of 200, buys 4-7 from the core and 5-9 from earlier activities of
    its own or the previous sector, 5 % of them with a by-product loop; 5-10 GHG elementary flows each."""
    name = f"bench-ecoinvent-like-v1-{activities}-{seed}"
    if name in bw.databases:
        return name
    rng = np.random.default_rng(seed)
    core, sector = 1_000, 200
    data = {}
    for index in range(activities):
        key = (name, f"a{index}")
        inputs: dict[int, float] = {}
        if index < core:
            for source in rng.integers(0, core, size=rng.integers(4, 12)):
                inputs[int(source)] = float(rng.uniform(0.002, 0.03))
        else:
            for source in rng.integers(0, core, size=rng.integers(4, 8)):
                inputs[int(source)] = float(rng.uniform(0.005, 0.05))
            first = max(core, (index - core) // sector * sector + core - sector)
            if index > first:
                for source in rng.integers(first, index, size=rng.integers(5, 10)):
                    inputs[int(source)] = float(rng.uniform(0.005, 0.05))
            if rng.random() < 0.05 and index > first:
                inputs[int(rng.integers(first, index))] = float(rng.uniform(0.001, 0.01))
        inputs.pop(index, None)
        exchanges = [{"input": key, "amount": 1.0, "type": "production"}]
        exchanges += [{"input": (name, f"a{source}"), "amount": amount, "type": "technosphere"}
                      for source, amount in inputs.items()]
        for flow in rng.choice(DENSE_FLOWS, size=rng.integers(5, 11), replace=False):
            scale = 1.0 if flow in ("co2_fossil", "co2e_fossil", "co2_luc", "co2_biogenic", "co2_uptake") else 1e-3
            exchanges.append({"input": (shared.biosphere, str(flow)), "amount": float(rng.uniform(0.1, 2.0) * scale),
                              "type": "biosphere"})
        data[key] = {"name": f"activity {index}", "reference product": f"product {index}", "unit": "kilogram",
                     "location": "GLO", "type": "process", "exchanges": exchanges}
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


def multilca_by_gas(bw2calc, demands, gas_methods, data_objs) -> dict[str, dict[str, float]]:
    """Brightway's own answer for many demands and methods: `MultiLCA` (one spsolve for all demands, then LCIA)."""
    mlca = bw2calc.MultiLCA(demands=demands, method_config={"impact_categories": list(gas_methods.values())},
                            data_objs=data_objs)
    mlca.lci()
    mlca.lcia()
    scores = mlca.scores
    return {key: {gas: float(scores[(method, key)]) for gas, method in gas_methods.items()} for key in demands}


def _ids(bw, name: str) -> dict[str, int]:
    from bw2data.backends import ActivityDataset

    return dict(ActivityDataset.select(ActivityDataset.code, ActivityDataset.id)
                .where(ActivityDataset.database == name).tuples())


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def part_multilca(bw, shared, args) -> bool:
    import bw2calc

    started = time.perf_counter()
    name = synthetic_background(bw, shared, args.activities, args.seed)
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(args.seed + 1)
    ids = _ids(bw, name)
    chosen = rng.choice(sorted(ids), size=args.products, replace=False)
    demands = {str(code): {ids[code]: 1.0} for code in chosen}
    gas_methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    total_method = shared.total_method("AR6")
    data_objs = [bw.Database(name).datapackage(), bw.Method(total_method).datapackage()]
    data_objs += [bw.Method(method).datapackage() for method in gas_methods.values()]

    engine_runs = run_times(lambda: score_by_gas(demands, gas_methods, data_objs), args.repeat)
    batch = score_by_gas(demands, gas_methods, data_objs)
    rss_engine = _rss()  # the engine runs first: this peak is the engine's (background loaded included)
    multi_runs = run_times(lambda: multilca_by_gas(bw2calc, demands, gas_methods, data_objs), args.multilca_repeat)
    multi = multilca_by_gas(bw2calc, demands, gas_methods, data_objs)
    gas_of_row = {bw.get_node(database=shared.biosphere, code=f).id: bw.get_node(database=shared.biosphere, code=f)["gas"]
                  for f in FLOWS}
    sample = list(demands)[: args.naive]
    t0 = time.perf_counter()
    naive = {key: naive_by_gas(bw2calc, demands[key], total_method, data_objs, gas_of_row) for key in sample}
    naive_rate = len(sample) / (time.perf_counter() - t0)

    worst_multi = max(_relative(batch.by_gas(key)[gas], value) for key, by_gas in multi.items()
                      for gas, value in by_gas.items() if value)
    worst_naive = max(_relative(batch.by_gas(key)[gas], value) for key in sample for gas, value in naive[key].items())
    engine_s, multi_s = statistics.median(engine_runs), statistics.median(multi_runs)
    ratio = multi_s / engine_s
    print(f"[3] background: {args.activities:,} activities ({name}), built/loaded in {load_seconds:.1f} s")
    print(f"    engine (batch, by gas): {args.products:,} footprints x {len(gas_methods)} gases in {engine_s:.3f} s "
          f"(median of {args.repeat}) = {args.products / engine_s:,.0f} products/s")
    print(f"    bw2calc MultiLCA, same demands, data and gas methods: {multi_s:.2f} s (median of {args.multilca_repeat})")
    print(f"    ratio vs MultiLCA: {ratio:.1f}x (target >= 10x: {'yes' if ratio >= 10 else 'NO'})")
    print(f"    context: naive new LCA per product {naive_rate:,.1f} products/s -> "
          f"{args.products / engine_s / naive_rate:,.0f}x")
    print(f"    agreement: max relative difference {worst_multi:.1e} vs MultiLCA over {args.products:,} x "
          f"{len(gas_methods)}, {worst_naive:.1e} vs the naive loop over {len(sample)}")
    print(f"    peak RSS: {rss_engine:,.0f} MiB after the engine's runs, {_rss():,.0f} MiB after MultiLCA's "
          f"(dense supply arrays and one characterised inventory per demand and gas)")
    return ratio >= 10 and worst_multi <= 1e-6 and worst_naive <= 1e-6


def part_database_scale(bw, shared, args, data_dir: Path) -> bool:
    import bw2calc

    started = time.perf_counter()
    name = ecoinvent_like_background(bw, shared, args.large, args.seed)
    write_seconds = time.perf_counter() - started
    gas_methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    data_objs = [bw.Database(name).datapackage()] + [bw.Method(m).datapackage() for m in gas_methods.values()]
    t0 = time.perf_counter()
    system = load(gas_methods, data_objs)
    load_seconds = time.perf_counter() - t0
    technosphere = system.technosphere
    per_activity = (technosphere.nnz - technosphere.shape[0]) / technosphere.shape[0]
    biosphere_per_activity = system.biosphere.nnz / technosphere.shape[0]

    def all_products():
        system._solver = system._per_unit = None
        return system.per_unit_matrix()

    rss_loaded = _rss()
    runs = run_times(all_products, args.repeat)
    per_unit = system.per_unit()
    rss_batch = _rss()  # before the bw2calc checks, whose default solver fills in far more
    solver = system.solver
    seconds = statistics.median(runs)

    total_method = shared.total_method("AR6")
    check_objs = data_objs + [bw.Method(total_method).datapackage()]
    gas_of_row = {node_id: bw.get_node(id=node_id)["gas"] for node_id in system.biosphere_row}
    ids = _ids(bw, name)
    rng = np.random.default_rng(args.seed + 2)
    sample = [ids[c] for c in rng.choice(sorted(ids), size=args.naive, replace=False)]
    worst = 0.0
    for product in sample:
        expected = naive_by_gas(bw2calc, {product: 1.0}, total_method, check_objs, gas_of_row)
        got = per_unit.by_gas(product)
        worst = max([worst] + [_relative(got[gas], value) for gas, value in expected.items() if value])
    print(f"[1] background: {args.large:,} activities ({name}), {per_activity:.1f} technosphere and "
          f"{biosphere_per_activity:.1f} GHG exchanges per activity; written in {write_seconds:.1f} s")
    print(f"    bw2calc loads its matrices in {load_seconds:.2f} s; then every per-unit footprint by gas "
          f"({per_unit.values.shape[0]:,} products x {len(gas_methods)} gases) in {seconds:.3f} s (median of "
          f"{args.repeat}; target < 1 s: {'yes' if seconds < 1 else 'NO'})")
    print(f"    solver: SuperLU on A^T in block triangular form; largest block (loop) {solver.largest_block:,} "
          f"activities, L+U {solver.fill:,} non-zeros ({solver.fill / technosphere.nnz:.1f}x the matrix)")
    print(f"    agreement with bw2calc LCA: max relative difference {worst:.1e} over {len(sample)} products x gases")

    if name not in {entry.brightway_database for entry in read_registry(data_dir).values()}:
        t0 = time.perf_counter()
        report = ImportReport("bench-20k", "brightway", name, exchanges=technosphere.nnz + system.biosphere.nnz)
        register(data_dir, "bench-20k", name, fmt="ecospold2", source=name,
                 source_digest=hashlib.sha256(name.encode()).hexdigest(), digest=name[-16:], report=report)
        print(f"    registered as imported database 'bench-20k' (index + per-unit inventories) in "
              f"{time.perf_counter() - t0:.2f} s")
    model_path = _linked_model(data_dir, args)
    model = load_model(model_path)
    foreground = database_name(model, SupplierLoader(), ImportedCatalogue(data_dir))
    if foreground in bw.databases:  # a kept data dir: time the first compute of a new model, as a user sees it
        del bw.databases[foreground]
    fresh = Engine(data_dir=data_dir)
    t0 = time.perf_counter()
    footprints = fresh.compute(model)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    Engine(data_dir=data_dir).compute(model)
    again = time.perf_counter() - t0
    inputs = sum(1 for p in model.processes for i in p.inputs if i.kind == "activity")
    print(f"[2] product model linked to it ({len(model.processes)} processes, {inputs} inputs naming its activities): "
          f"{len(footprints)} footprints in {first:.2f} s with a fresh engine (foreground written), {again:.2f} s "
          f"again (target < 2 s: {'yes' if first < 2 else 'NO'})")
    print(f"    peak RSS: {rss_loaded:,.0f} MiB with the matrices loaded, {rss_batch:,.0f} MiB after the batch path "
          f"(factorisation, 20,000 x 15 results), {_rss():,.0f} MiB after the bw2calc checks and the linked model")
    return seconds < 1 and first < 2 and worst <= 1e-6


def _linked_model(data_dir: Path, args) -> Path:
    """Three processes of a cell maker; 40 inputs name activities of the 20,000-activity background."""
    rng = np.random.default_rng(args.seed + 3)
    picks = [int(i) for i in rng.choice(args.large, size=40, replace=False)]

    def inputs(chunk):
        return [{"activity": {"database": "bench-20k", "name": f"activity {i}", "reference_product": f"product {i}"},
                 "amount": float(rng.uniform(1, 50)), "unit": "kg"} for i in chunk]

    processes = [
        {"id": "electrodes", "outputs": [{"flow": "electrode", "amount": 1000, "unit": "kg"}],
         "inputs": inputs(picks[:15]), "electricity": [{"grid": "CN-EAST", "amount": 8000, "unit": "kWh"}]},
        {"id": "assembly", "outputs": [{"flow": "cell", "amount": 2000, "unit": "piece"}],
         "inputs": [{"flow": "electrode", "amount": 1000, "unit": "kg"}] + inputs(picks[15:30]),
         "electricity": [{"grid": "CN-EAST", "amount": 5000, "unit": "kWh"}]},
        {"id": "module", "outputs": [{"flow": "module", "amount": 100, "unit": "piece"}],
         "inputs": [{"flow": "cell", "amount": 2000, "unit": "piece"}] + inputs(picks[30:]),
         "fuels": [{"fuel": "natural_gas", "amount": 50, "unit": "GJ"}]},
    ]
    products = [{"flow": flow, "name": flow, "ids": [f"urn:pact:product:{flow}"], "declared_unit": unit,
                 "mass_per_declared_unit": mass} for flow, unit, mass in
                (("electrode", "kilogram", 1), ("cell", "piece", "0.5"), ("module", "piece", 12))]
    document = {"company": {"name": "Bench Cells", "ids": ["urn:pact:company:bench"]},
                "reference_period": {"start": "2025-01-01", "end": "2025-12-31"}, "geography": {"country": "CN"},
                "products": products, "processes": processes}
    path = data_dir / "bench-linked-model.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=20_000, help="activities of the ecoinvent-like background")
    parser.add_argument("--naive", type=int, default=10, help="products checked with a new bw2calc LCA each")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--multilca-repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a Brightway data dir between runs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="pcf-bench-"))).resolve()
    bw = open_project(data_dir)
    shared = ensure_shared_databases(bw)
    ok = part_database_scale(bw, shared, args, data_dir)  # first: its peak memory is its own
    ok = part_multilca(bw, shared, args) and ok
    print("all targets met" if ok else "FAIL: a target was missed or results disagree")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
