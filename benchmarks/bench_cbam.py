"""CBAM QReport benchmark: 10,000 imported-good lines built with lxml and validated against the official XSD.

Timed in the same run against plain `lxml.etree.tostring` of the very same tree (the floor for any lxml writer):
  ours:      goods -> checks -> lxml tree -> bytes -> parse -> XSD validation   (qreport_xml, what the CLI writes)
  baseline:  etree.tostring(tree) of the finished report
  validate:  validate_qreport(bytes) alone, to show where the time goes
Median of several repeats, garbage collector off during each run (as `timeit` does), for every side alike.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from decimal import Decimal
from pathlib import Path
from typing import Callable

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.cbam import Declarant, ImportedGood, qreport_xml, validate_qreport  # noqa: E402
from exchange.cbam.qreport import NS  # noqa: E402

from benchmarks.timing import run_times  # noqa: E402

CN_CODES = ("72083900", "72085120", "72163110", "73181595", "76061100", "76042990", "25232900", "31021010",
            "28141000", "72021120")
COUNTRIES = ("CN", "IN", "TR", "UA", "KR", "VN", "EG", "BR")


def goods_lines(count: int, seed: int) -> list[ImportedGood]:
    rng = random.Random(seed)
    goods = []
    for index in range(count):
        country = rng.choice(COUNTRIES)
        goods.append(ImportedGood(
            cn_code=rng.choice(CN_CODES), origin_country=country,
            net_mass_t=Decimal(f"{rng.uniform(0.5, 500):.6f}"), installation_id=f"{country}-{index % 700:05d}",
            installation_name=f"Works {index % 700}", installation_country=country,
            see_direct=Decimal(f"{rng.uniform(0.1, 20):.7f}"), see_indirect=Decimal(f"{rng.uniform(0, 5):.7f}"),
            value_type=rng.choice(("actual", "default")),
            installation_city=f"City {index % 90}" if index % 3 else None,   # both Installation and remark paths
        ))
    return goods


def median_time(function: Callable[[], object], repeat: int) -> float:
    return statistics.median(run_times(function, repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    declarant = Declarant(year=2026, quarter="Q1", identification_number="DE123456789012345",
                          name="Muster Import GmbH", country="DE", city="Hamburg", signatory="Erika Mustermann",
                          signatory_position="Head of Compliance")
    goods = goods_lines(args.count, args.seed)
    xml = qreport_xml(declarant, goods)
    tree = etree.fromstring(xml)
    assert len(tree.findall(f"{{{NS}}}ImportedGood")) == args.count

    ours = median_time(lambda: qreport_xml(declarant, goods), args.repeat)
    plain = median_time(lambda: etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True),
                        args.repeat)
    validate = median_time(lambda: validate_qreport(xml), args.repeat)

    n = args.count
    print(f"{n:,} imported goods, QReport of {len(xml) / 1e6:.1f} MB, median of {args.repeat}")
    print(f"build+validate (qreport_xml): {ours:.3f} s ({n / ours:,.0f} goods/s), of which XSD validation "
          f"{validate:.3f} s; plain etree.tostring of the same tree: {plain:.3f} s; ratio {ours / plain:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
