"""What the command modules share: the data dir and node database options, the node store, one-line errors in
the user's language, and the `--lang` option."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from exchange.node.private_files import private_directory
from exchange.node.storage import NodeStore, StoreError
from lca_models import i18n
from lca_models.i18n import gettext as _

from ..engine.project import DATA_DIR_ENV, default_data_dir

_DATA_DIR_META = "pcf.data_dir"  # where `--data-dir` leaves its value for default_db_url (click context meta)


def _remember_data_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    ctx.meta[_DATA_DIR_META] = value
    return value


def data_dir_option(function=None, *, expose: bool = True):
    """`--data-dir DIR` (env PCF_DATA_DIR): Brightway's project, the node's default SQLite database and its TLS
    files live there, so several nodes run on one host, each with its own directory."""
    option = click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV, expose_value=expose,
                          callback=_remember_data_dir,
                          help="Data directory: the Brightway project, the node database (node.sqlite) and TLS "
                               "files; one per node when several run on one host (env PCF_DATA_DIR).")
    return option if function is None else option(function)


def chosen_data_dir() -> Path:
    """The `--data-dir` of the running command, else PCF_DATA_DIR, else ./.pcf-data."""
    context = click.get_current_context(silent=True)
    chosen = context.find_root().meta.get(_DATA_DIR_META) if context else None
    return Path(chosen).resolve() if chosen else default_data_dir()


def default_db_url(data_dir: Path | None = None) -> str:
    """The embedded default: a SQLite file under the data dir, which is created 0700 (the database holds the
    node's keys: exchange/node/private_files.py)."""
    directory = private_directory(data_dir or chosen_data_dir())
    return f"sqlite:///{directory / 'node.sqlite'}"


def db_option(function):
    """`--db URL` and `--data-dir DIR` for a command that opens the node database."""
    function = click.option("--db", "db_url", envvar="PCF_NODE_DB",
                            help="Database URL (sqlite:///FILE or postgresql://...); default: node.sqlite under the "
                                 "data dir.")(function)
    return data_dir_option(function, expose=False)


def _language_from_environment(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    ctx.call_on_close(i18n.activate(value or i18n.from_environment()))
    return value


def _language(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.call_on_close(i18n.activate(value))
    return value


def lang_option(function=None, *, top_level: bool = False):
    """`--lang en|zh-CN`: the language of messages, errors and the HTML report. On the `pcf` group it falls back on
    PCF_LANG, then the POSIX locale variables (LC_ALL, LC_MESSAGES, LANG), then English; on a command it overrides."""
    option = click.option("--lang", type=click.Choice(["en", "zh-CN"], case_sensitive=False), expose_value=False,
                          is_eager=True, callback=_language_from_environment if top_level else _language,
                          help="Language of messages, errors and reports: en or zh-CN (default: PCF_LANG, LC_ALL, "
                               "LC_MESSAGES, LANG, else en).")
    return option if function is None else option(function)


def fail(message: str, status: int = 1) -> None:
    """One line per problem on stderr, each `error: ...` in the user's language, then exit."""
    lines = str(message).split("\n")
    click.echo("\n".join(_("error: {message}").format(message=line) for line in lines), err=True)
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
    fail(str(error), status)
