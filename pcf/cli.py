"""The `pcf` command: compute footprints from product models and show what they are made of.

Every error a user can cause (a bad model, a unit mismatch, an unsolvable loop) ends as one clear
message and exit status 1; a file that cannot be read is status 2. Never a traceback.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click
from rich.console import Console

from lca_models.errors import ModelError
from lca_models.footprint_json import footprints_to_json
from lca_models.model_schema import load_model

from .brightway_project import DATA_DIR_ENV
from .engine import Engine
from .report import print_footprint

DEMO_MODELS = ("steel_mill.yaml", "fastener_maker.yaml", "aluminium_profiles.yaml")


def _engine(data_dir: Path | None) -> Engine:
    return Engine(data_dir=data_dir)


def _fail(error: Exception, status: int = 1) -> None:
    """One line per problem on stderr, never wrapped (paths must stay greppable), then exit."""
    click.echo(f"error: {error}".replace("\n", "\nerror: "), err=True)
    sys.exit(status)


@click.group()
@click.version_option(package_name="carbon-exchange")
def main() -> None:
    """carbon-exchange: product carbon footprints computed on Brightway, exchanged as PACT and CBAM."""


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--gwp", type=click.Choice(["ar6", "ar5"], case_sensitive=False), help="IPCC GWP100 set (default: the model's, AR6).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the footprints as JSON to this file.")
@click.option("--top", default=8, show_default=True, help="How many contributors to list.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV, help="Where Brightway keeps its project.")
def compute(model: Path, gwp: str | None, json_out: Path | None, top: int, data_dir: Path | None) -> None:
    """Compute the cradle-to-gate footprint of every product in MODEL (YAML or JSON)."""
    console = Console()
    if not model.is_file():
        _fail(ModelError("file not found", file=str(model)), status=2)
    try:
        product_model = load_model(model)
        footprints = _engine(data_dir).compute(product_model, gwp)
    except ModelError as error:
        _fail(error)
    for footprint in footprints:
        print_footprint(console, footprint, top)
    if json_out:
        json_out.write_text(footprints_to_json(footprints), encoding="utf-8")
        console.print(f"wrote {len(footprints)} footprint(s) to {json_out}")


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV, help="Where Brightway keeps its project.")
def demo(data_dir: Path | None) -> None:
    """Compute the bundled example supply chain: steel mill -> fastener maker, and aluminium profiles."""
    console = Console()
    engine = _engine(data_dir)
    examples = resources.files("lca_models").joinpath("examples")
    for name in DEMO_MODELS:
        with resources.as_file(examples.joinpath(name)) as path:
            console.rule(f"[bold]{name}")
            try:
                footprints = engine.compute(load_model(path))
            except ModelError as error:
                _fail(error)
            for footprint in footprints:
                print_footprint(console, footprint, top=6)
