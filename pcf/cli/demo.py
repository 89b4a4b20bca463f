"""`pcf demo`: the bundled examples computed, the mill's plant inventory, then the chain across three nodes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
from rich.console import Console

from lca_models.errors import ModelError
from lca_models.model_schema import load_model

from ..engine import Engine
from ..engine.project import DATA_DIR_ENV
from ..report.progress import progress
from ..report.terminal import print_footprint
from .common import fail_with
from .factory import print_demo as print_factory_demo

DEMO_MODELS = ("steel_mill.yaml", "fastener_maker.yaml", "aluminium_profiles.yaml")


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV, help="Where Brightway keeps its project.")
@click.option("--network/--no-network", default=True, show_default=True,
              help="Also run the three-node request -> fulfil -> verify scenario on loopback.")
def demo(data_dir: Path | None, network: bool) -> None:
    """The bundled example chain: footprints of a steel mill, a fastener maker and an aluminium extruder, then
    three PACT nodes exchanging them (request, compute with upstream data, sign, deliver, verify)."""
    console = Console()
    engine = Engine(data_dir=data_dir)
    examples = resources.files("lca_models").joinpath("examples")
    for name in DEMO_MODELS:
        with resources.as_file(examples.joinpath(name)) as path:
            console.rule(f"[bold]{name}")
            try:
                with progress(f"reading {name}") as steps:
                    footprints = engine.compute(load_model(path), steps=steps)
            except ModelError as error:
                fail_with(error)
            for footprint in footprints:
                print_footprint(console, footprint, top=6)
    with resources.as_file(examples.joinpath(DEMO_MODELS[0])) as path:
        console.rule(f"[bold]{DEMO_MODELS[0]}: the plant's inventory and zero-carbon assessment")
        print_factory_demo(console, engine, path)
    if network:
        from ..tiers.demo_chain import run_chain_demo

        console.rule("[bold]across tiers: three PACT nodes on this machine")
        if not run_chain_demo(console, engine):
            fail_with(RuntimeError("the chain did not verify"))
