"""`pcf cbam`: EU CBAM default values and the Quarterly Report XML.

    pcf cbam default --country CN --cn-code 72083900 --year 2026 [--variant grey]
    pcf cbam qreport GOODS.csv --declarant DECLARANT.yaml -o REPORT.xml

Invalid input exits 1 with one `error: ...` line (no traceback); nothing is written then.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click
import yaml

from exchange.cbam import CbamError, Declarant, default_value, read_goods_csv, write_qreport


def _fail(message: str, status: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


@click.group()
def cbam() -> None:
    """EU CBAM: default values (IR 2025/2621) and the Quarterly Report (QReport v23.00) XML."""


@cbam.command("default")
@click.option("--country", required=True, help="Country of production, ISO 3166-1 alpha-2 (e.g. CN).")
@click.option("--cn-code", required=True, help="CN code, 4 to 8 digits (e.g. 72083900).")
@click.option("--year", required=True, type=int, help="Year of import: sets the mark-up (2026, 2027, 2028+).")
@click.option("--variant", help="Where Annex I lists a code twice (white/grey clinker): part of the description.")
def default_cmd(country: str, cn_code: str, year: int, variant: str | None) -> None:
    """Print the Annex I default value (tCO2e/t) with the year's mark-up, as JSON."""
    try:
        value = default_value(country, cn_code, year, variant=variant)
    except CbamError as exc:
        _fail(str(exc))
    click.echo(json.dumps(value.as_json(), indent=2, ensure_ascii=False))


@cbam.command("qreport")
@click.argument("goods_csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--declarant", "declarant_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="YAML with the declarant and reporting-period fields (see exchange/cbam/qreport.py).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The QReport XML to write (only once it validates against the XSD).")
def qreport_cmd(goods_csv: Path, declarant_file: Path, output: Path) -> None:
    """Build, validate and write the CBAM Quarterly Report XML for the goods in GOODS_CSV."""
    try:
        data = yaml.safe_load(declarant_file.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"{declarant_file}: cannot read ({exc.strerror or exc})")
    except yaml.YAMLError as exc:
        _fail(f"{declarant_file}: not valid YAML ({' '.join(str(exc).split())})")
    try:
        declarant = Declarant.from_mapping(data)
        goods = read_goods_csv(goods_csv)
        if not output.parent.is_dir():
            _fail(f"{output.parent}: no such directory")
        path = write_qreport(declarant, goods, output)
    except CbamError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{output}: cannot write ({exc.strerror or exc})")
    click.echo(f"wrote {path}: {len(goods)} good(s), {declarant.quarter} {declarant.year}, validated against "
               f"QReport_ver23.00.xsd")
