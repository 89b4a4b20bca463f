"""`pcf cbam`: EU CBAM default values and the Quarterly Report XML.

    pcf cbam default --country CN --cn-code 72083900 --year 2026 [--variant grey]
    pcf cbam qreport GOODS.csv|xlsx --declarant DECLARANT.yaml -o REPORT.xml
    pcf cbam declaration GOODS.csv|xlsx --declarant DECLARANT.yaml --year 2026 [--certificate-price EUR]
        -o OUT.json [--csv OUT.csv]
    pcf cbam import-template FILE.xlsx [-o MODEL.yaml]    (operator's communication template -> installation model)
    pcf cbam see MODEL.yaml|FILE.xlsx                      (SEE per good, computed on Brightway; MODEL:
                                                           an installation or a product model)
    pcf cbam template MODEL.yaml -o FILE.xlsx              (installation model -> communication template)

Invalid input exits 1 with one `error: ...` line (no traceback); nothing is written then.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NoReturn

import click
import yaml

from exchange.cbam import (
    CbamError,
    Declarant,
    DeclarationDeclarant,
    declaration,
    default_value,
    read_declaration_goods,
    read_goods,
    write_declaration,
    write_qreport,
)

from lca_models.i18n import gettext as _

from ..report.progress import progress
from .common import fail


def _fail(message: str, status: int = 1) -> NoReturn:
    fail(message, status)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"{path}: " + _("cannot read ({reason})").format(reason=exc.strerror or exc))
    except yaml.YAMLError as exc:
        _fail(f"{path}: " + _("not valid YAML: {reason}").format(reason=" ".join(str(exc).split())))


@click.group()
def cbam() -> None:
    """EU CBAM: default values (IR 2025/2621), the Quarterly Report (QReport v23.00) XML, the declaration summary."""


@cbam.command("default")
@click.option("--country", required=True, help="Country of production, ISO 3166-1 alpha-2 (e.g. CN).")
@click.option("--cn-code", required=True, help="CN code of a CBAM good, 8 digits (e.g. 72083900).")
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
              help="YAML with the declarant and reporting-period fields (docs/reference.md, \"Declarant\").")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The QReport XML to write (only once it validates against the XSD).")
def qreport_cmd(goods_csv: Path, declarant_file: Path, output: Path) -> None:
    """Build, validate and write the CBAM Quarterly Report XML for the goods in GOODS_CSV (.csv or .xlsx)."""
    data = _read_yaml(declarant_file)
    try:
        declarant = Declarant.from_mapping(data)
        with progress(f"reading {goods_csv.name}"):
            goods = read_goods(goods_csv)
        if not output.parent.is_dir():
            _fail(f"{output.parent}: " + _("no such directory"))
        with progress(f"building the QReport for {len(goods):,} good(s), validating it against the XSD"):
            path = write_qreport(declarant, goods, output)
    except CbamError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{output}: " + _("cannot write ({reason})").format(reason=exc.strerror or exc))
    click.echo(_("wrote {path}: {count} good(s), {quarter} {year}, validated against QReport_ver23.00.xsd").format(
        path=path, count=len(goods), quarter=declarant.quarter, year=declarant.year))


@cbam.command("declaration")
@click.argument("goods_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--declarant", "declarant_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="YAML with identification_number, name, country (the QReport declarant file also works).")
@click.option("--year", required=True, type=int, help="Calendar year of import declared (2026 or later).")
@click.option("--certificate-price", type=str, metavar="EUR",
              help="CBAM certificate price in EUR: converts carbon prices paid abroad, estimates the cost.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The declaration summary JSON to write.")
@click.option("--csv", "csv_output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the lines, per-CN-code and total rows as CSV.")
def declaration_cmd(goods_file: Path, declarant_file: Path, year: int, certificate_price: str | None, output: Path,
                    csv_output: Path | None) -> None:
    """Summarise the annual CBAM declaration (not an official format: docs/cbam.md) for the goods in GOODS_FILE."""
    data = _read_yaml(declarant_file)
    try:
        price = None if certificate_price is None else Decimal(certificate_price)
    except InvalidOperation:
        _fail("--certificate-price: " + _("{value!r} is not a number").format(value=certificate_price))
    for target in filter(None, (output, csv_output)):
        if not target.parent.is_dir():
            _fail(f"{target.parent}: " + _("no such directory"))
    try:
        declarant = DeclarationDeclarant.from_mapping(data, year)
        with progress(f"reading {goods_file.name}") as steps:
            goods = read_declaration_goods(goods_file)
            steps.phase(f"the declaration over {len(goods):,} line(s)")
            result = declaration(declarant, year, goods, price)
            steps.phase(f"writing {output.name}")
            write_declaration(result, output, csv_output)
    except CbamError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_("cannot write ({reason})").format(reason=f"{exc.strerror or exc}: {exc.filename}"))
    for warning in result.warnings:
        click.echo(_("warning: {warning}").format(warning=warning), err=True)
    exemption = _("exempt (de minimis, Art. 2a)") if result.de_minimis.exempt else _("above the 50 t threshold")
    written = f"{output} + {csv_output}" if csv_output else str(output)
    click.echo(_("wrote {path}: {lines} line(s), {mass} t counted, {exemption}; embedded {embedded} tCO2e; "
                 "{certificates} certificate(s) to surrender by {deadline}").format(
        path=written, lines=len(result.lines), mass=result.de_minimis.counted_mass_t, exemption=exemption,
        embedded=result.embedded_t, certificates=result.certificates_to_surrender, deadline=result.submission_deadline))


# --- the communication template and SEE (exchange/cbam/template_*.py, pcf/cbam/see.py)


def _installation(model: Path):
    """An installation from its YAML model, a product model (pcf/cbam/from_model.py), or a filled template (.xlsx)."""
    from exchange.cbam.codes import installation_code_problems
    from exchange.cbam.template_import import import_template
    from lca_models.cbam_installation import load_installation
    from lca_models.errors import ModelError
    from lca_models.model_schema import load_model

    from ..cbam.from_model import installation_from_model, is_product_model

    try:
        with progress(f"reading {model.name}"):
            if model.suffix.lower() == ".xlsx":
                return import_template(model)
            if is_product_model(model):
                return installation_from_model(load_model(model))
            installation = load_installation(model)
            problems = installation_code_problems(installation)
    except (CbamError, ModelError) as exc:
        _fail(str(exc))
    if problems:
        _fail("\n".join(f"{model}: {where}: {reason}" for where, reason in problems))
    return installation


@cbam.command("import-template")
@click.argument("template", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the installation model (YAML) here; without it, print the YAML.")
def import_template_cmd(template: Path, output: Path | None) -> None:
    """Read an operator's filled communication template (inputs only, never cached formula results)."""
    from lca_models.cbam_installation import installation_document

    installation = _installation(template)
    text = yaml.safe_dump(installation_document(installation), sort_keys=False, allow_unicode=True)
    if output is None:
        click.echo(text, nl=False)
        return
    if not output.parent.is_dir():
        _fail(f"{output.parent}: " + _("no such directory"))
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        _fail(f"{output}: " + _("cannot write ({reason})").format(reason=exc.strerror or exc))
    click.echo(_("wrote {path}: {processes} process(es), {precursors} purchased precursor(s), {products} product(s)")
               .format(path=output, processes=len(installation.processes),
                       precursors=len(installation.purchased_precursors), products=len(installation.products)))


@cbam.command("see")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="PCF_DATA_DIR",
              help="Where Brightway keeps its project.")
@click.option("--compare", is_flag=True,
              help="For a filled template (.xlsx): compare with the SEE its Summary_Products sheet states.")
def see_cmd(model: Path, data_dir: Path | None, compare: bool) -> None:
    """Specific embedded emissions (tCO2e/t) per good: direct, indirect, total, share of default values."""
    from rich.console import Console
    from rich.table import Table

    from lca_models.errors import ModelError

    from ..cbam.see import compute_see

    if compare and model.suffix.lower() != ".xlsx":
        _fail(_("--compare needs a filled communication template (.xlsx): only it states its own SEE"))
    installation = _installation(model)
    try:
        with progress(f"solving {len(installation.processes)} process(es) on Brightway"):
            result = compute_see(installation, data_dir)
    except (ModelError, CbamError) as exc:
        _fail(str(exc))
    table = Table(title=f"CBAM specific embedded emissions (tCO2e/t): {installation.name} ({installation.country})")
    for column in ("good", "process", "CN code", "category", "route", "AL (t)", "SEE direct", "SEE indirect",
                   "SEE total", "default share"):
        numeric = column.startswith(("AL", "SEE", "default"))
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric)
    rows = [(p.product.name, p.product.cn_code, p.see) for p in result.products]
    rows += [("", "", see) for see in result.processes if all(p.see is not see for p in result.products)]
    for good, cn_code, see in rows:
        table.add_row(good, see.process, cn_code, see.goods_category, ", ".join(see.routes),
                      f"{see.activity_level:,.0f}", f"{see.see_direct:.6f}", f"{see.see_indirect:.6f}",
                      f"{see.see_total:.6f}", f"{see.default_share:.1%}")
    console = Console()
    console.width = max(console.width, 160)
    console.print(table)
    if compare:
        _print_comparison(console, model, result)


def _print_comparison(console, model: Path, result) -> None:
    """Our SEE against what the workbook's own formulas computed (its cached Summary_Products values)."""
    from exchange.cbam.template_import import stated_see

    try:
        stated = stated_see(model)
    except CbamError as exc:
        _fail(str(exc))
    if not any(row.total is not None for row in stated):
        console.print(f"{model.name} states no SEE of its own (saved without evaluated formulas): nothing to compare")
        return
    worst = 0.0
    for ours, theirs in zip(result.products, stated):
        for name, mine, stated_value in (("direct", ours.see.see_direct, theirs.direct),
                                         ("indirect", ours.see.see_indirect, theirs.indirect),
                                         ("total", ours.see.see_total, theirs.total)):
            if stated_value is None:
                console.print(f"{theirs.process} {theirs.cn_code}: the template states no SEE {name}")
                continue
            difference = abs(mine - stated_value) / abs(stated_value) if stated_value else abs(mine)
            worst = max(worst, difference)
            console.print(f"{theirs.process} {theirs.cn_code} SEE {name}: ours {mine:.6f}, template {stated_value:.6f}, "
                          f"relative difference {difference:.1e}", highlight=False)
    console.print(f"largest relative difference from the template's own summary: {worst:.1e}", highlight=False)


@cbam.command("template")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The communication template (.xlsx) to write.")
def template_cmd(model: Path, output: Path) -> None:
    """Write the installation into the Commission's communication template v2.1.1 for the importer."""
    from exchange.cbam.template_export import write_template

    installation = _installation(model)
    try:
        path = write_template(installation, output)
    except CbamError as exc:
        _fail(str(exc))
    click.echo(_("wrote {path}: communication template v2.1.1 with {processes} process(es) and {products} product(s)")
               .format(path=path, processes=len(installation.processes), products=len(installation.products)))
