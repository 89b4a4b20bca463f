"""`pcf compute` and `pcf validate`: footprints of a product model, and checking a PACT document.

Every error a user can cause (a bad model, a unit mismatch, an unsolvable loop) ends as one clear
message and exit status 1; a file that cannot be read is status 2. Never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from exchange.pact import (
    PactMappingError,
    PactValidationError,
    footprints_in,
    load_footprint,
    parse_json,
    to_v2,
    to_v3,
)
from exchange.pact.disclosure import DEFAULT_LEVEL, LEVELS, disclosed
from lca_models.errors import ModelError
from lca_models.i18n import gettext as _
from lca_models.footprint import Footprint
from lca_models.footprint_json import footprints_to_json
from lca_models.model import ProductModel
from lca_models.model_schema import load_model

from ..engine import Engine
from ..engine.exclusions import check_pact_exemptions
from ..engine.project import DATA_DIR_ENV
from ..factory.assess import assess, assessment_html, load_criteria
from ..factory.inventory import build_inventory
from ..report.html import ReportSection, write_report
from ..report.progress import progress
from ..report.terminal import print_footprint
from .common import fail_with, lang_option

FORMATS = {"pact-v3": to_v3, "pact-v2": to_v2}


def _pact_document(footprints: list[Footprint], fmt: str, level: str = DEFAULT_LEVEL) -> dict:
    """One product: its ProductFootprint; several: the `{"data": [...]}` shape of PACT's list response. Only what
    `level` discloses goes in (summary by default: PACT is what leaves; full detail stays in --json and --report).

    Declared cut-offs over PACT's limit are refused here, before anything is written."""
    check_pact_exemptions(footprints)
    documents = [FORMATS[fmt](disclosed(footprint, level)) for footprint in footprints]
    return documents[0] if len(documents) == 1 else {"data": documents}


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--gwp", type=click.Choice(["ar6", "ar5"], case_sensitive=False), help="IPCC GWP100 set (default: the model's, AR6).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), help="Write PACT JSON (to -o FILE, else stdout).")
@click.option("--disclose", type=click.Choice(LEVELS), default=DEFAULT_LEVEL, show_default=True,
              help="What the --format document discloses beyond PACT's fields: summary, breakdown (totals by gas, "
                   "category, stage) or full (every line item; docs/tiers.md).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File for the --format document.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the canonical footprints (all computed details) as JSON.")
@click.option("--top", default=8, show_default=True, help="How many contributors to list.")
@click.option("--report", "report_out", type=click.Path(path_type=Path),
              help="Write a self-contained HTML report (docs/report.md), in the --lang language.")
@click.option("--criteria", type=click.Path(path_type=Path),
              help="Zero-carbon criteria for the report's plant section (default: the bundled, illustrative file).")
@click.option("--uncertainty", "iterations", type=click.IntRange(min=2, max=1_000_000), default=None,
              help="Monte Carlo draws through bw2calc: mean, median and the 2.5-97.5 % interval per product.")
@click.option("--seed", type=click.IntRange(min=1, max=2**31 - 1), default=None,
              help="Seed of the Monte Carlo (default: a new one, reported), to repeat a run exactly.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV, help="Where Brightway keeps its project.")
@lang_option
def compute(model: Path, gwp: str | None, fmt: str | None, disclose: str, output: Path | None, json_out: Path | None,
            top: int, report_out: Path | None, criteria: Path | None, iterations: int | None, seed: int | None,
            data_dir: Path | None) -> None:
    """Compute the cradle-to-gate footprint of every product in MODEL (YAML or JSON)."""
    if seed is not None and iterations is None:
        fail_with(ModelError(_("--seed needs --uncertainty N (the number of Monte Carlo draws)")))
    console = Console()
    if not model.is_file():
        fail_with(ModelError(_("file not found"), file=str(model)), status=2)
    try:
        with progress(f"reading {model.name}") as steps:
            product_model = load_model(model)
            footprints = Engine(data_dir=data_dir).compute(product_model, gwp, steps=steps, iterations=iterations or 0,
                                                           seed=seed)
            document = plant = None
            if fmt:
                steps.phase(f"converting to {fmt} and validating")
                document = _pact_document(footprints, fmt, disclose)
            if report_out:
                steps.phase("plant inventory and assessment for the report")
                plant = _plant_section(product_model, gwp, criteria)
    except (ModelError, PactMappingError, PactValidationError) as error:  # the last: our output failed the schema
        fail_with(error)
    if json_out:
        json_out.write_text(footprints_to_json(footprints), encoding="utf-8")
    if report_out:
        try:
            write_report(report_out, footprints, source=str(model), extra_sections=[plant])
        except OSError as exc:
            fail_with(ModelError(_("cannot write the report: {reason}").format(reason=exc.strerror or exc),
                                 file=str(report_out)), status=2)
    if document is not None and output is None:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    for footprint in footprints:
        print_footprint(console, footprint, top)
    if json_out:
        console.print(_("wrote {count} footprint(s) to {path}").format(count=len(footprints), path=json_out))
    if report_out:
        console.print(_("wrote the HTML report to {path}").format(path=report_out))
    if document is not None:
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(_("wrote {format} to {path}").format(format=fmt, path=output))


def _plant_section(model: ProductModel, gwp: str | None, criteria: Path | None) -> ReportSection:
    """The plant's zero-carbon assessment for the HTML report: the same model, its inventory against the criteria."""
    if criteria is not None and not criteria.is_file():
        raise ModelError(_("file not found"), file=str(criteria))
    result = assess(build_inventory(model, gwp), load_criteria(criteria))
    return ReportSection(_("Plant inventory and zero-carbon assessment"), assessment_html(result))


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Refuse fields the spec does not define (default: keep them).")
@click.option("--version", "version", type=click.Choice(["v2", "v3"]), help="Skip auto-detection.")
def validate(file: Path, strict: bool, version: str | None) -> None:
    """Validate a PACT ProductFootprint (or a response or event holding some): 0 valid, 1 invalid, 2 unreadable."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail_with(ModelError(_("cannot read file: {reason}").format(reason=exc.strerror or exc), file=str(file)), status=2)
    try:
        footprints = footprints_in(parse_json(raw))
    except PactValidationError as error:
        _report_invalid(error.issues, "")
    problems = 0
    for prefix, document in footprints:
        try:
            loaded = load_footprint(document, strict=strict, version=version)
        except PactValidationError as error:
            problems += len(error.issues)
            _print_issues(error.issues, prefix)
            continue
        click.echo(f"{prefix or '/'}: valid PACT {loaded.version} ProductFootprint {loaded.footprint.id}")
        _print_issues(loaded.warnings, prefix)
    if problems:
        sys.exit(1)


def _print_issues(issues, prefix: str) -> None:
    for issue in issues:
        click.echo(f"{issue.severity}: {prefix}{issue.pointer or ('' if prefix else '/')}: {issue.message}",
                   err=issue.severity == "error")


def _report_invalid(issues, prefix: str) -> None:
    _print_issues(issues, prefix)
    sys.exit(1)
