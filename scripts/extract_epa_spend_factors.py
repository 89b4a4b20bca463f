"""Write the bundled spend-based factors from US EPA's Supply Chain GHG Emission Factors CSV.

    python scripts/extract_epa_spend_factors.py SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv [OUT_CSV]

Input: the "CO2e" file of US EPA, "Supply Chain Greenhouse Gas Emission Factors for US Industries and Commodities"
v1.3.0 (EPA Office of Research and Development, 2024; catalog.data.gov "Supply Chain Greenhouse Gas Emission Factors
v1.3 by NAICS-6"): 1,016 commodities by 2017 NAICS code, kg CO2e per 2022 USD at purchaser price, built with USEEIO
v2.2 on GHG data of 2022 and IPCC AR5 GWP100 (the model spec `USEEIOv2.2.22-GHG.yml` of github.com/USEPA/
supply-chain-factors). A work of the US federal government: public domain in the US (17 U.S.C. 105).
Output (default lca_models/data/spend_factors.csv): the layout `pcf scope3` reads (docs/procurement.md), the factor
with margins (cradle to the point of sale: what a purchaser price buys) in `kgco2e_per_currency_unit`, the parts
beside it. Values are copied as published (three significant digits), never recomputed.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "lca_models" / "data" / "spend_factors.csv"
SOURCE = "US EPA Supply Chain GHG Emission Factors v1.3.0 (2024), with margins"
HEADER = ("naics", "title", "kgco2e_per_currency_unit", "currency", "price_year", "price_basis", "without_margins",
          "margins", "useeio_code", "gwp", "source", "year")
UNIT = re.compile(r"kg CO2e/(\d{4}) USD, purchaser price")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    source, out = Path(argv[1]), Path(argv[2]) if len(argv) > 2 else OUT
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    written = []
    for row in rows:
        unit = UNIT.fullmatch(row["Unit"])
        if row["GHG"] != "All GHGs" or unit is None:
            raise SystemExit(f"{source}: {row['2017 NAICS Code']}: not a CO2e factor per USD: {row['GHG']}, {row['Unit']}")
        written.append((row["2017 NAICS Code"], row["2017 NAICS Title"], row["Supply Chain Emission Factors with Margins"],
                        "USD", unit.group(1), "purchaser", row["Supply Chain Emission Factors without Margins"],
                        row["Margins of Supply Chain Emission Factors"], row["Reference USEEIO Code"], "AR5", SOURCE,
                        "2022"))
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(written)
    print(f"{len(written)} factors written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
