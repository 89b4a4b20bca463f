"""`pcf scope3 PURCHASES.csv|xlsx [--suppliers SUPPLIERS.yaml] -o OUT.xlsx|csv`: Scope 3 category 1 from supplier nodes.

Input problems (a bad row, a currency without a rate, an unset credential variable, a bad factor table) stop the
command before any node is called, with one line per problem and exit 1; an unreachable supplier does not: it is
reported, its lines are estimated and flagged, and the rest is computed. Suppliers answering through the portal are
read from this buyer's node database (`--db`). The progress bar (stderr, pcf/report/progress.py) is shown only on a
terminal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click

from connectors.scope3 import Pulled, assess, pull_footprints, read_declared
from connectors.scope3_factors import SpendFactorTable, bundled_spend_factors, read_spend_factors
from connectors.scope3_inputs import Scope3Config, Scope3InputError, read_purchases, read_suppliers
from connectors.scope3_output import write_csv, write_xlsx

from lca_models.i18n import gettext as _

from ..report.progress import progress
from .common import db_option, fail, open_store


def _fail(error: Exception, status: int = 1) -> None:
    fail(str(error), status)


def _fmt(value: Decimal | None, places: int = 1) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _factors(path: Path | None, config: Scope3Config) -> SpendFactorTable:
    """The spend-based factors (yours or the bundled EPA table); each of their currencies needs a rate."""
    table = read_spend_factors(path) if path else bundled_spend_factors()
    missing = sorted(table.currencies() - config.usd_per_unit.keys())
    if missing:
        raise Scope3InputError(str(path), [f"factors in {', '.join(missing)}: configure fx_to_usd for it in the "
                                           "suppliers file (rates are never guessed)"])
    return table


@click.command("scope3")
@click.argument("purchases", type=click.Path(path_type=Path))
@click.option("--suppliers", "suppliers_file", type=click.Path(path_type=Path),
              help="YAML: supplier nodes (url, client_id_env, client_secret_env, ca_bundle, jwks) and fx_to_usd rates.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="OUT.xlsx (all sheets) or OUT.csv (lines).")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64), help="Supplier nodes asked at once.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(0, 10), help="Retries per node for transient failures.")
@click.option("--year", type=int, help="CBAM default-value year for estimates (default: this year, at least 2026).")
@click.option("--spend-factors", "factors_file", type=click.Path(path_type=Path),
              help="CSV of spend-based factors replacing the bundled US EPA v1.3.0 table (docs/procurement.md).")
@db_option
def scope3(purchases: Path, suppliers_file: Path | None, output: Path, workers: int, retries: int, year: int | None,
           factors_file: Path | None, db_url: str | None) -> None:
    """Scope 3 category 1 of PURCHASES from the suppliers' PACT footprints, estimates flagged where there are none.

    Suppliers marked `portal: true` in the suppliers file answer through this buyer's supplier portal: their
    footprints are read from the buyer's node database (--db), flagged supplier-declared, unsigned."""
    if output.suffix.lower() not in (".xlsx", ".csv"):
        _fail(ValueError(f"{output}: " + _("the output must end in .xlsx or .csv")))
    if not output.parent.is_dir():
        _fail(ValueError(f"{output}: " + _("directory {path} does not exist").format(path=output.parent)), status=2)
    try:
        config = read_suppliers(suppliers_file)
        lines = read_purchases(purchases, config)
        factors = _factors(factors_file, config)
        declared = read_declared(open_store(db_url), config, lines) if config.portal else {}
        asked = sorted({p.supplier for p in lines if p.supplier in config.suppliers})
        with progress(f"pulling footprints from {len(asked)} supplier node(s)", total=len(asked)) as steps:

            def done(pulled: Pulled) -> None:
                steps.advance()

            pulled = pull_footprints(config, lines, done, max_workers=workers, retries=retries)
    except Scope3InputError as error:
        _fail(error)
    result = assess(lines, {**pulled, **declared}, config, year, factors)
    try:
        (write_xlsx if output.suffix.lower() == ".xlsx" else write_csv)(result, output)
    except OSError as exc:
        _fail(ValueError(f"{output}: " + _("cannot write ({reason})").format(reason=exc.strerror or exc)), status=2)
    total = result.overall
    declared = _(" (of which supplier-declared, unsigned {declared} kgCO2e)").format(
        declared=_fmt(total.declared_kgco2e)) if total.declared_kgco2e else ""
    click.echo(_("Scope 3 category 1: {total} kgCO2e over {lines} line(s); primary (supplier footprints) {primary} "
                 "kgCO2e = {primary_share} %{declared}, estimated {estimated} kgCO2e; primary data share "
                 "{data_share} %, DQR {dqr}").format(
        total=_fmt(total.kgco2e), lines=len(result.lines), primary=_fmt(total.primary_kgco2e),
        primary_share=_fmt(total.primary_share_percent), declared=declared, estimated=_fmt(total.estimated_kgco2e),
        data_share=_fmt(total.primary_data_share), dqr=_fmt(total.dqr, 2)))
    click.echo(_("unresolved: {unresolved} line(s) whose supplier footprint could not be applied (unit: estimated "
                 "instead, in the total); {without} line(s) without any figure (not in the total)").format(
        unresolved=total.unresolved_lines, without=total.lines_without_estimate))
    click.echo(_("spend-based estimates: {origin}").format(origin=factors.origin))
    for problem in result.problems:
        click.echo(_("problem: {where}: {message}").format(where=problem.where, message=problem.message), err=True)
    click.echo(_("wrote {path}").format(path=output))
