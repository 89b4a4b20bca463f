"""`pcf data`: bring your own LCI databases and factors, and browse every dataset a model can use.

    pcf data import ecospold2 DIR | simapro FILE.csv | olca-jsonld FILE.zip [--name NAME] [--allow-unlinked] [--allow-unmapped]
    pcf data list [--library FILE]... [--json]
    pcf data show REF [--library FILE]... [--gwp ar6|ar5] [--json]
    pcf data search WORDS... [--database NAME] [--library FILE]... [--limit N] [--json]
    pcf data remove NAME

A refused import prints one `error: ...` line per problem (every unlinked exchange, every unmapped GHG flow)
and exits 1 with nothing changed; a missing file exits 2. Formats and the mapping: docs/data.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lca_models.errors import ModelError
from lca_models.i18n import gettext as _
from lca_models.gwp import normalise_gwp_set

from ..data import catalogue
from ..data.imports import FORMAT_NAMES, FORMATS, import_database, remove_database
from ..engine.imported import read_registry
from ..engine.project import DATA_DIR_ENV, default_data_dir
from ..report.progress import progress
from .common import fail_with

_DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV,
                         help="Where Brightway keeps its project (and the imported databases).")
_LIBRARY = click.option("--library", "libraries", multiple=True, type=click.Path(path_type=Path),
                        help="A user factor library (CSV or YAML) to include; repeatable.")
_GWP = click.option("--gwp", default="ar6", type=click.Choice(["ar6", "ar5"], case_sensitive=False),
                    show_default=True, help="IPCC GWP100 set for the values shown.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group()
def data() -> None:
    """Your own LCI databases (EcoSpold2, SimaPro CSV, openLCA JSON-LD) and factor libraries, and the bundled data."""


@data.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", help="Database name models use (default: from the file or folder name).")
@click.option("--allow-unlinked", is_flag=True, help="Import without the technosphere exchanges no activity provides (recorded).")
@click.option("--allow-unmapped", is_flag=True, help="Import without greenhouse-gas flows the mapping table lacks (recorded).")
@_DATA_DIR
def import_cmd(fmt: str, source: Path, name: str | None, allow_unlinked: bool, allow_unmapped: bool,
               data_dir: Path | None) -> None:
    """Import an LCI database through bw2io: linked, checked, mapped onto the project's GHG flows."""
    if not source.exists():
        fail_with(ModelError(_("file not found"), file=str(source)), status=2)
    name = name or _default_name(source)
    console = Console(soft_wrap=True)  # paths and names stay on one line, greppable
    try:
        with progress(f"importing {FORMAT_NAMES[fmt]} {source.name}"):
            entry, report = import_database(fmt, source, name, data_dir or default_data_dir(),
                                            allow_unlinked=allow_unlinked, allow_unmapped=allow_unmapped)
    except ModelError as error:  # DataImportError included: one line per refused finding
        fail_with(error)
    console.print(f"imported {FORMAT_NAMES[fmt]} {source} as [bold]{entry.name}[/bold]: {report.activities} activities, "
                  f"{report.exchanges} exchanges")
    mapped = ", ".join(f"{flow} x{count}" for flow, count in sorted(report.mapped.items())) or "none"
    console.print(f"elementary flows mapped onto the project's GHG flows: {mapped}")
    console.print(f"elementary flows that are not GHGs, left out: {report.dropped_non_ghg} exchanges of "
                  f"{report.dropped_non_ghg_flows} flows")
    for finding in report.unlinked:
        console.print(f"[yellow]left out (--allow-unlinked)[/yellow]: unlinked {finding.line()}", soft_wrap=True)
    for finding in report.unmapped_ghg:
        console.print(f"[yellow]left out (--allow-unmapped)[/yellow]: GHG {finding.line()}", soft_wrap=True)
    console.print(f"models name its activities as: activity: {{database: {entry.name}, name: ..., "
                  "reference_product: ..., location: ...}")


def _default_name(source: Path) -> str:
    stem = source.resolve().name if source.is_dir() else source.stem
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", stem).strip("-.")[:64] or "imported"


@data.command("remove")
@click.argument("name")
@_DATA_DIR
def remove_cmd(name: str, data_dir: Path | None) -> None:
    """Delete an imported database (its Brightway database, index and inventory)."""
    try:
        entry = remove_database(name, data_dir or default_data_dir())
    except ModelError as error:
        fail_with(error)
    click.echo(f"removed imported database {entry.name} ({entry.counts.get('activities', 0)} activities)")


@data.command("list")
@_LIBRARY
@_JSON
@_DATA_DIR
def list_cmd(libraries: tuple[Path, ...], as_json: bool, data_dir: Path | None) -> None:
    """The sources of datasets: bundled data, imported databases, the libraries given."""
    data_dir = data_dir or default_data_dir()
    rows = [{"origin": "bundled", "name": "carbon-exchange background", "format": "cited CSV (lca_models/data)",
             "datasets": sum(1 for _ in catalogue.bundled("AR6")), "source": "lca_models/data/README.md"}]
    try:
        for entry in read_registry(data_dir).values():
            rows.append({"origin": "imported", "name": entry.name, "format": FORMAT_NAMES[entry.format],
                         "datasets": entry.counts.get("activities", 0),
                         "source": f"{entry.source} ({entry.imported_at})",
                         "allowed": [k for k in ("allowed_unlinked", "allowed_unmapped") if entry.report.get(k)]})
        for path in libraries:
            rows.append({"origin": "library", "name": str(path), "format": "user factor library",
                         "datasets": sum(1 for _ in catalogue.library(path, "AR6")), "source": str(path)})
    except ModelError as error:
        fail_with(error)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title="datasets a model can use")
    for column in ("origin", "name", "format", "datasets", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        note = f" [yellow](imported with {', '.join(row['allowed'])})[/yellow]" if row.get("allowed") else ""
        table.add_row(row["origin"], row["name"] + note, row["format"], str(row["datasets"]), row["source"])
    Console().print(table)


@data.command("show")
@click.argument("ref")
@_LIBRARY
@_GWP
@_JSON
@_DATA_DIR
def show_cmd(ref: str, libraries: tuple[Path, ...], gwp: str, as_json: bool, data_dir: Path | None) -> None:
    """One dataset by what a model writes: a bundled id (material:steel_bf_bof), DATABASE/ACTIVITY NAME, a factor id."""
    gwp = normalise_gwp_set(gwp)
    try:
        found = [e for e in catalogue.entries(data_dir or default_data_dir(), gwp, libraries) if e.ref == ref]
    except ModelError as error:
        fail_with(error)
    if not found:
        fail_with(ModelError(f"no dataset {ref!r} (try `pcf data search WORDS`)"))
    if as_json:
        click.echo(json.dumps([e.to_json() for e in found], indent=2, ensure_ascii=False))
        return
    console = Console(soft_wrap=True)
    for entry in found:
        console.print(f"[bold]{entry.ref}[/bold]  {entry.name}" + (f" -> {entry.detail}" if entry.detail else ""))
        console.print(f"  origin {entry.origin}; location {entry.location or '-'}; per 1 {entry.unit}")
        console.print(f"  {_num(entry.kgco2e)} kgCO2e ({gwp} GWP100, cradle to gate)")
        for gas, value in entry.by_gas.items():
            console.print(f"    {gas}: {_num(value)} kgCO2e")
        console.print(f"  source: {entry.source}", soft_wrap=True)


@data.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--database", help="Only this imported database.")
@_LIBRARY
@_GWP
@click.option("--limit", default=25, show_default=True, help="How many matches to print.")
@_JSON
@_DATA_DIR
def search_cmd(words: tuple[str, ...], database: str | None, libraries: tuple[Path, ...], gwp: str, limit: int,
               as_json: bool, data_dir: Path | None) -> None:
    """Datasets whose id, name, product or location contain every word (`show REF` gives the source)."""
    gwp = normalise_gwp_set(gwp)
    try:
        found = catalogue.search(catalogue.entries(data_dir or default_data_dir(), gwp, libraries, database),
                                 " ".join(words))
    except ModelError as error:
        fail_with(error)
    if as_json:
        click.echo(json.dumps([e.to_json() for e in found[:limit]], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} dataset(s) matching {' '.join(words)!r}"
                  + (f" (first {limit})" if len(found) > limit else ""))
    for column in ("ref", "product", "location", "unit", f"kgCO2e ({gwp})", "origin"):  # sources: `pcf data show`
        table.add_column(column, overflow="fold")
    for entry in found[:limit]:
        table.add_row(entry.ref, entry.detail, entry.location, entry.unit, _num(entry.kgco2e), entry.origin)
    Console().print(table)


def _num(value) -> str:
    return f"{value:.6g}"
