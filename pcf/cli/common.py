"""What the command modules share: the data dir and node database options, the node store, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from exchange.node.storage import NodeStore, StoreError

from ..engine.project import default_data_dir


def default_db_url(data_dir: Path | None = None) -> str:
    """The embedded default: a SQLite file under the data dir."""
    directory = data_dir or default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'node.sqlite'}"


def db_option(function):
    return click.option("--db", "db_url", envvar="PCF_NODE_DB", help="Database URL (sqlite:///FILE or postgresql://...); "
                        "default: a SQLite file under the data dir.")(function)


def fail(message: str, status: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def open_store(db_url: str | None, initialise: bool = False) -> NodeStore:
    store = NodeStore(db_url or default_db_url())
    try:
        store.init_schema() if initialise else store.check_schema()
    except StoreError as error:
        fail(str(error))
    return store


def fail_with(error: Exception, status: int = 1) -> None:
    """One line per problem on stderr, never wrapped (paths must stay greppable), then exit."""
    click.echo(f"error: {error}".replace("\n", "\nerror: "), err=True)
    sys.exit(status)
