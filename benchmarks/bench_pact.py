"""PACT marshalling benchmark: dump+validate and load+validate of 10,000 realistic v3 footprints.

Each side is timed against plain `json.dumps` / `json.loads` of the very same documents in the same run:
  dump:  Footprint -> validated v3 dict -> JSON text     vs  json.dumps(dict)
  load:  JSON text -> validated v3 dict -> Footprint     vs  json.loads(text)
The footprints are variations of what the engine computes for the bundled steel mill (all mandatory and
most optional PACT fields, a DQI, rules, sources, and the engine's computed-details extension).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.pact import from_v3, to_v3  # noqa: E402
from lca_models.footprint import (  # noqa: E402
    ComputedDetails,
    Contribution,
    DataQualityIndicators,
    ElectricityResult,
    EmissionFactorSource,
    Footprint,
    ProductOrSectorSpecificRule,
    Provenance,
)

from benchmarks.timing import run_times  # noqa: E402


def realistic_footprints(count: int, seed: int) -> list[Footprint]:
    rng = random.Random(seed)

    def dec(low: float, high: float, places: int = 6) -> Decimal:
        return Decimal(f"{rng.uniform(low, high):.{places}f}")

    footprints = []
    for index in range(count):
        fossil, luc = dec(0.1, 20), dec(0, 0.5)
        start = datetime(2025, 1, 1, tzinfo=timezone.utc)
        contributions = tuple(Contribution(f"process_{i}: input {i}", "input", dec(0, 2), dec(0, 1, 4)) for i in range(8))
        footprints.append(Footprint(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), spec_version="3.0.3",
            created=start + timedelta(days=400, seconds=index), status="Active",
            company_name=f"Supplier {index % 97} Co., Ltd.", company_ids=(f"urn:pact:company:cn:uscc:9113{index:010d}",),
            product_description="Hot-rolled non-alloy steel coil, width >= 600 mm, BF-BOF route",
            product_ids=(f"urn:pact:product:example:{index}", f"urn:gtin:{4_000_000_000_000 + index}"),
            product_name_company=f"HRC S235JR lot {index}",
            declared_unit_of_measurement="kilogram", declared_unit_amount=Decimal(1), product_mass_per_declared_unit=Decimal(1),
            reference_period_start=start, reference_period_end=start + timedelta(days=365),
            pcf_excluding_biogenic_uptake=fossil + luc, pcf_including_biogenic_uptake=fossil + luc,
            fossil_ghg_emissions=fossil, fossil_carbon_content=dec(0, 0.01), ipcc_characterization_factors=("AR6",),
            cross_sectoral_standards=("ISO14067", "GHGP-Product", "PACT-3.0"), exempted_emissions_percent=dec(0, 1, 2),
            product_classifications=("urn:pact:productclassification:cn:72083900",),
            geography_country_subdivision="CN-HE", boundary_processes_description="Cradle-to-gate: sintering, ironmaking, steelmaking, rolling.",
            biogenic_carbon_content=Decimal(0), land_use_change_ghg_emissions=luc, biogenic_co2_uptake=Decimal(0),
            biogenic_non_co2_emissions=Decimal(0), aircraft_ghg_emissions=Decimal(0), packaging_emissions_included=False,
            product_or_sector_specific_rules=(ProductOrSectorSpecificRule("Other", ("worldsteel LCI methodology 2017",), "worldsteel"),),
            allocation_rules_description="hot_rolling: mass",
            secondary_emission_factor_sources=(EmissionFactorSource("carbon-exchange bundled background data", "0271fb859ece"),),
            primary_data_share=dec(50, 95, 2), dqi=DataQualityIndicators(dec(1, 3, 2), dec(1, 3, 2), dec(1, 3, 2)),
            computed=ComputedDetails(
                by_gas={"CO2": fossil, "CH4": dec(0, 0.01)}, by_category={"fossil": fossil, "land_use_change": luc},
                contributions=contributions,
                electricity=ElectricityResult(dec(0, 1), dec(0, 0.5), dec(0, 0.5), fossil + luc),
                offsets=(), provenance=Provenance("ab" * 32, "carbon-exchange 0.1.0", {"bw2calc": "3.1.0"},
                                                  {"gwp100.csv": "0123456789abcdef"}, "AR6", ()),
            ),
        ))
    return footprints


def timed(function, repeat: int = 3) -> float:
    """Best of `repeat` runs with the garbage collector off, as `timeit` does, for both sides alike."""
    return min(run_times(function, repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    footprints = realistic_footprints(args.count, args.seed)
    documents = [to_v3(f) for f in footprints]
    texts = [json.dumps(d) for d in documents]

    dump_ours = timed(lambda: [json.dumps(to_v3(f)) for f in footprints])
    dump_plain = timed(lambda: [json.dumps(d) for d in documents])
    load_ours = timed(lambda: [from_v3(json.loads(t)) for t in texts])
    load_plain = timed(lambda: [json.loads(t) for t in texts])
    assert all(from_v3(json.loads(t)).footprint == f for t, f in zip(texts[:200], footprints[:200]))

    n = args.count
    size = sum(len(t) for t in texts) / n
    print(f"{n:,} realistic PACT v3 footprints, {size:,.0f} bytes of JSON each")
    print(f"dump+validate: {n / dump_ours:,.0f} footprints/s; plain json.dumps: {n / dump_plain:,.0f}/s; "
          f"ratio {dump_ours / dump_plain:.1f}x (target <= 10x)")
    print(f"load+validate: {n / load_ours:,.0f} footprints/s; plain json.loads: {n / load_plain:,.0f}/s; "
          f"ratio {load_ours / load_plain:.1f}x (target <= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
