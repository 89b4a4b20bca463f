"""Monte Carlo benchmark: N = 1,000 draws of the bundled steel mill's PCF through bw2calc, with the standard error.

Timed in the same run, on the same warm Brightway project and databases:
  monte carlo:  `pcf.engine.uncertainty.monte_carlo` (bw2calc `LCA(use_distributions=True, seed_override)`, one
                `next(lca)` and one adjoint solve per draw), what `pcf compute --uncertainty N` runs
  baseline:     one deterministic LCA of the same product (bw2calc `LCA.lci()` + `lcia()` on the same datapackages:
                matrices built from the datapackages, then solved)
Reports the time per draw as a multiple of the deterministic solve, and the standard error of the mean (sd/sqrt(N)),
which tells how many draws a figure needs. Garbage collector off during each timed run, as `timeit` does.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import warnings
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lca_models.model_schema import load_model  # noqa: E402
from pcf.engine import Engine  # noqa: E402
from pcf.engine.foreground import build_foreground  # noqa: E402
from pcf.engine.uncertainty import monte_carlo  # noqa: E402

from benchmarks.timing import run_times  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    engine = Engine(data_dir=Path(tempfile.mkdtemp(prefix="bench-uncertainty-")))
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        model = load_model(path)
    [footprint] = engine.compute(model)  # writes the project and databases once: not timed
    bw, shared = engine._project()
    product = model.products[0]
    foreground = build_foreground(model, shared, None, "AR6")
    node = bw.get_node(database=foreground.name, code=foreground.producers[product.flow][1])
    amount = foreground.product_demand(product.flow, product.declared_unit, product.declared_unit_amount)
    _, data_objs, _ = bw.prepare_lca_inputs(demand={node: amount}, method=shared.pcf_method("AR6"), remapping=False)

    import bw2calc  # after the engine set Brightway's directory

    def deterministic() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lca = bw2calc.LCA(demand={node.id: amount}, data_objs=data_objs)
            lca.lci()
            lca.lcia()
        return float(lca.score)

    def draws():
        return monte_carlo({"coil": {node.id: amount}}, data_objs, args.draws, args.seed).scores["coil"]

    baseline = statistics.median(run_times(deterministic, args.repeat * 5))
    timed = run_times(draws, args.repeat)
    scores = draws()
    again = draws()
    mc = statistics.median(timed)
    mean, sd = float(scores.mean()), float(scores.std(ddof=1))
    low, median, high = (float(x) for x in np.percentile(scores, [2.5, 50, 97.5]))
    print(f"steel mill hot-rolled coil, PCF {footprint.pcf_excluding_biogenic_uptake} kgCO2e/kg (deterministic)")
    print(f"deterministic solve (baseline): {baseline * 1000:.1f} ms")
    print(f"Monte Carlo, {args.draws} draws (seed {args.seed}): {mc:.2f} s, {mc / args.draws * 1000:.2f} ms per draw "
          f"= {mc / args.draws / baseline:.2f}x one deterministic solve (median of {args.repeat})")
    print(f"mean {mean:.4f}, median {median:.4f}, 95 % interval {low:.4f} to {high:.4f} kgCO2e/kg; "
          f"standard error of the mean {sd / math.sqrt(args.draws):.5f} ({sd / math.sqrt(args.draws) / mean * 100:.2f} %)")
    print(f"same seed, same draws: {bool((scores == again).all())}; "
          f"deterministic result inside the interval: {low < float(footprint.pcf_excluding_biogenic_uptake) < high}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
