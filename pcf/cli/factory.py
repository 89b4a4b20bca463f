"""`pcf factory`: the plant's inventory, its zero-carbon assessment, reduction scenarios and meter data.

    pcf factory inventory MODEL [--json OUT] [--registry OFFSETS.json]
    pcf factory assess MODEL [--criteria CRITERIA.yaml] [--json OUT] [--html OUT]
    pcf factory scenario MODEL (--set PATH=VALUE ... | --scenarios FILE) [--cost-per-t X] [--json OUT]
    pcf factory meters MODEL READINGS.csv --meters METERS.yaml [-o NEW_MODEL.yaml] [--allow-gaps] [--json OUT]

A bad file exits 1 with one `error: ...` line per problem (2 when a file is missing); nothing is written then.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from lca_models.errors import ModelError
from lca_models.i18n import gettext as _
from lca_models.model import ProductModel
from lca_models.model_schema import load_model

from ..engine import Engine
from ..engine.project import DATA_DIR_ENV
from ..factory import assess as assessment
from ..factory import inventory as inv
from ..factory import meters as meter_data
from ..factory import scenario as scenarios
from ..factory.offsets import OffsetRegistry
from ..factory.render import print_assessment, print_comparison, print_inventory
from ..report.progress import SILENT, Steps, progress
from .common import fail

_DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV,
                         help="Where Brightway keeps its project.")
_GWP = click.option("--gwp", type=click.Choice(["ar6", "ar5"], case_sensitive=False),
                    help="IPCC GWP100 set (default: the model's).")


def _fail(error: Exception, status: int = 1) -> NoReturn:
    fail(str(error), status)


def _model(path: Path) -> ProductModel:
    if not path.is_file():
        _fail(ModelError(_("file not found"), file=str(path)), status=2)
    try:
        return load_model(path)
    except ModelError as error:
        _fail(error)


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@click.group()
def factory() -> None:
    """The plant view of a factory model: GHG inventory, zero-carbon assessment, scenarios, meter data."""


def plant_inventory(engine: Engine, model: ProductModel, gwp: str | None = None,
                    steps: Steps = SILENT) -> tuple[inv.Inventory, inv.Conservation]:
    """The inventory and its conservation check against the engine's product footprints."""
    inventory = inv.build_inventory(model, gwp, data_dir=engine.data_dir)
    return inventory, inv.conservation(inventory, engine.compute(model, gwp, steps=steps))


@factory.command("inventory")
@click.argument("model", type=click.Path(path_type=Path))
@_GWP
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the inventory as JSON.")
@click.option("--registry", type=click.Path(dir_okay=False, path_type=Path),
              help="Offsets registry (JSON): record the model's retired credits, refusing any serial used before.")
@_DATA_DIR
def inventory_cmd(model: Path, gwp: str | None, json_out: Path | None, registry: Path | None,
                  data_dir: Path | None) -> None:
    """Plant GHG inventory of MODEL for its reference period: Scopes 1-3, energy, renewable share, offsets."""
    product_model = _model(model)
    try:
        with progress("plant inventory") as steps:
            inventory, check = plant_inventory(Engine(data_dir=data_dir), product_model, gwp, steps)
        if registry is not None:
            period = f"{inventory.period_start.date()}/{inventory.period_end.date()}"
            recorded = OffsetRegistry(registry).record(inventory.company, period, product_model.offsets)
    except ModelError as error:
        _fail(error)
    console = Console()
    print_inventory(console, inventory, check)
    if registry is not None:
        console.print(_("offsets registry {path}: {count} new lot(s) recorded").format(path=registry, count=len(recorded)),
                      highlight=False)
    if json_out:
        _write_json(json_out, inv.to_json(inventory, check))
        console.print(_("wrote {path}").format(path=json_out), highlight=False)


@factory.command("assess")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--criteria", type=click.Path(path_type=Path),
              help=f"Criteria YAML (default: the bundled {assessment.BUNDLED_CRITERIA}).")
@_GWP
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the assessment as JSON.")
@click.option("--html", "html_out", type=click.Path(path_type=Path), help="Write the assessment as an HTML fragment.")
def assess_cmd(model: Path, criteria: Path | None, gwp: str | None, json_out: Path | None, html_out: Path | None) -> None:
    """Zero-carbon indicators of MODEL's plant against the thresholds of a criteria file, with the gap list."""
    product_model = _model(model)
    if criteria is not None and not criteria.is_file():
        _fail(ModelError(_("file not found"), file=str(criteria)), status=2)
    try:
        result = assessment.assess(inv.build_inventory(product_model, gwp), assessment.load_criteria(criteria))
    except ModelError as error:
        _fail(error)
    console = Console()
    print_assessment(console, result)
    if json_out:
        _write_json(json_out, assessment.to_json(result))
        console.print(_("wrote {path}").format(path=json_out), highlight=False)
    if html_out:
        html_out.write_text(assessment.assessment_html(result) + "\n", encoding="utf-8")
        console.print(_("wrote {path}").format(path=html_out), highlight=False)


@factory.command("scenario")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE",
              help="A change, e.g. electricity.green_share=0.6 or boiler.fuel=natural_gas (docs/factory.md).")
@click.option("--name", default="scenario", show_default=True, help="Name of the --set scenario.")
@click.option("--cost-per-t", type=str, help="Abatement cost per tCO2e of the --set scenario.")
@click.option("--scenarios", "scenario_file", type=click.Path(path_type=Path),
              help="YAML with several scenarios (name, set, abatement_cost_per_t) compared side by side.")
@_GWP
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the comparison as JSON.")
@_DATA_DIR
def scenario_cmd(model: Path, settings: tuple[str, ...], name: str, cost_per_t: str | None, scenario_file: Path | None,
                 gwp: str | None, json_out: Path | None, data_dir: Path | None) -> None:
    """Re-solve MODEL under reduction scenarios; print the change in inventory and in each product's PCF."""
    product_model = _model(model)
    if bool(settings) == bool(scenario_file):
        _fail(ModelError(_("give either --set PATH=VALUE (one or more) or --scenarios FILE")))
    currency = ""
    try:
        if scenario_file:
            if not scenario_file.is_file():
                _fail(ModelError(_("file not found"), file=str(scenario_file)), status=2)
            currency, variants = scenarios.load_scenarios(scenario_file)
        else:
            cost = _decimal(cost_per_t) if cost_per_t is not None else None
            variants = (scenarios.Scenario(name, scenarios.parse_settings(list(settings)), cost),)
        with progress("solving the scenarios") as steps:
            comparison = scenarios.run(Engine(data_dir=data_dir), product_model, variants, gwp, steps)
    except ModelError as error:
        _fail(error)
    console = Console()
    print_comparison(console, comparison, currency)
    if json_out:
        _write_json(json_out, scenarios.to_json(comparison, currency))
        console.print(_("wrote {path}").format(path=json_out), highlight=False)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ModelError(f"--cost-per-t {text!r} is not a number") from None


@factory.command("meters")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("readings", type=click.Path(path_type=Path))
@click.option("--meters", "meters_file", required=True, type=click.Path(path_type=Path),
              help="YAML declaring each meter: id, kind (cumulative|interval), unit, interval_minutes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a copy of MODEL with the metered amounts (only when the data has no blocking problem).")
@click.option("--allow-gaps", is_flag=True, help="Accept gaps: the total is what was measured (still reported).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the meter report as JSON.")
def meters_cmd(model: Path, readings: Path, meters_file: Path, output: Path | None, allow_gaps: bool,
               json_out: Path | None) -> None:
    """Import meter readings (CSV: meter_id,timestamp,value,unit) into MODEL's activity data for its period."""
    product_model = _model(model)
    for path in (readings, meters_file):
        if not path.is_file():
            _fail(ModelError(_("file not found"), file=str(path)), status=2)
    try:
        setup = meter_data.load_meters(meters_file)
        with progress(f"reading {readings.name}") as steps:
            report = meter_data.read_meters(readings, setup, product_model, allow_gaps, steps)
    except ModelError as error:
        _fail(error)
    console = Console()
    for meter_id, total in report.totals.items():
        state = _("complete") if total.complete else _("INCOMPLETE (gaps accepted)") if total.total is not None else \
            _("no total")
        console.print(_("{meter}: {count} reading(s), {total} {unit} - {state}").format(
            meter=meter_id, count=total.readings, total="-" if total.total is None else f"{total.total:,f}",
            unit=total.meter.unit, state=state), highlight=False)
    for issue in report.issues:
        click.echo(_("problem: {where}: {message}").format(where=readings, message=issue), err=True)
    if json_out:
        _write_json(json_out, meter_data.to_json(report))
    if output is not None:
        try:
            changed = meter_data.apply_to_model(model, report, output)
        except ModelError as error:
            _fail(error)
        console.print(_("wrote {path}: {count} metered line(s) updated ({lines})").format(
            path=output, count=len(changed), lines=", ".join(changed)), highlight=False)
    if report.blocking:
        sys.exit(1)


def print_demo(console: Console, engine: Engine, model_path: Path) -> None:
    """`pcf demo`: the example factory's plant inventory and zero-carbon assessment, concisely."""
    with progress("plant inventory") as steps:
        inventory, check = plant_inventory(engine, load_model(model_path), steps=steps)
    print_inventory(console, inventory, check)
    print_assessment(console, assessment.assess(inventory, assessment.load_criteria()))
