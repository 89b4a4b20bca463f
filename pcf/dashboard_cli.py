"""`pcf node admin-password`: open the node's web dashboard (/dashboard) to its admin."""

from __future__ import annotations

import os

import click

from exchange.node.dashboard import MIN_PASSWORD_LENGTH, set_admin_password

from .node_cli import _db_option, _fail, _store


@click.command("admin-password")
@_db_option
@click.option("--password-env", metavar="VAR",
              help="Read the password from this environment variable (for scripts); default: prompt for it.")
def admin_password(db_url: str | None, password_env: str | None) -> None:
    """Set the dashboard's admin password (stored hashed; the dashboard stays closed until one is set)."""
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            _fail(f"environment variable {password_env} is not set")
    else:
        password = click.prompt(f"admin password (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True,
                                confirmation_prompt=True)
    try:
        set_admin_password(_store(db_url), password)
    except ValueError as error:
        _fail(str(error))
    click.echo("dashboard admin password set: log in at https://HOST:PORT/dashboard/")
