"""The `pcf` command: one module per command group, gathered here (`pcf.cli:main` is the entry point)."""

from __future__ import annotations

import click

from .cbam import cbam
from .common import lang_option
from .compute import compute, validate
from .data import data
from .demo import demo
from .factory import factory
from .node import node
from . import node_access  # noqa: F401  (registers its commands on `pcf node`)
from .scope3 import scope3
from .serve import serve
from .tiers import fulfil_command, reject_command, request, verify_command


@click.group()
@click.version_option(package_name="carbon-exchange")
@lang_option(top_level=True)
def main() -> None:
    """carbon-exchange: product carbon footprints computed on Brightway, exchanged as PACT and CBAM.

    Every file a command reads, with an example of each: docs/reference.md."""


for command in (compute, validate, data, demo, node, serve, cbam, factory, scope3,
                request, fulfil_command, reject_command, verify_command):
    main.add_command(command)
