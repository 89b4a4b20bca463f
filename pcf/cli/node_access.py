"""`pcf node` commands that take access back and bound what the node keeps: remove-client, revoke-tokens, unshare,
prune-events and limits. Each takes effect at once for every server on the database (no restart), except `limits`,
which servers read when they start."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from exchange.node.app import NodeConfig
from exchange.node.event_quota import prune_events
from exchange.node.limits import configured, current, parse_duration, set_limit
from exchange.node.storage import StoreError
from lca_models.i18n import gettext as _

from .common import db_option, fail, open_store
from .node import node


@node.command("remove-client")
@db_option
@click.argument("client_id")
def remove_client(db_url: str | None, client_id: str) -> None:
    """Delete a client credential; its access tokens stop working at once."""
    if not open_store(db_url).remove_client(client_id):
        fail(_("no client {client}").format(client=client_id))
    click.echo(_("client {client} removed; its tokens no longer work").format(client=client_id))


@node.command("revoke-tokens")
@db_option
@click.argument("client_id")
def revoke_tokens(db_url: str | None, client_id: str) -> None:
    """Invalidate every access token the client holds (it can ask for new ones with its secret)."""
    if not open_store(db_url).revoke_tokens(client_id, datetime.now(timezone.utc)):
        fail(_("no client {client}").format(client=client_id))
    click.echo(_("tokens of client {client} issued until now are revoked").format(client=client_id))


@node.command()
@db_option
@click.argument("footprint_id")
@click.argument("org")
def unshare(db_url: str | None, footprint_id: str, org: str) -> None:
    """Stop sharing a published footprint with organisation ORG (it is no longer listed or readable by it)."""
    store = open_store(db_url)
    try:
        removed = store.unshare(footprint_id, org)
    except StoreError as error:
        fail(str(error))
    if not removed:
        fail(_("{footprint} was not shared with {org}").format(footprint=footprint_id, org=org))
    stored = store.get(footprint_id)
    if stored is not None and stored.public:
        click.echo(_("note: {footprint} is public: every client still sees it").format(footprint=footprint_id),
                   err=True)
    click.echo(_("{footprint} no longer shared with {org}").format(footprint=footprint_id, org=org))


@node.command("prune-events")
@db_option
@click.option("--older-than", help="Age of the events to delete, e.g. 30d (default: the node's event-retention).")
def prune(db_url: str | None, older_than: str | None) -> None:
    """Delete received events older than the retention; requests still awaiting an answer are kept."""
    store = open_store(db_url)
    try:
        age = parse_duration(older_than) if older_than else configured(NodeConfig(store.url), store).event_retention
    except ValueError as error:
        fail(str(error))
    deleted = prune_events(store, datetime.now(timezone.utc) - age)
    click.echo(json.dumps({"deleted": deleted}))


@node.command()
@db_option
@click.option("--set", "changes", multiple=True, metavar="NAME=VALUE",
              help="Change a limit for this node (repeatable), e.g. token-failures-per-address=100, event-retention=30d.")
def limits(db_url: str | None, changes: tuple[str, ...]) -> None:
    """Show this node's rate limits, event quota and retention; change them with --set (restart `pcf serve`)."""
    store = open_store(db_url)
    defaults = NodeConfig(store.url)
    for change in changes:
        name, _sep, value = change.partition("=")
        try:
            set_limit(store, defaults, name.strip(), value.strip())
        except ValueError as error:
            fail(str(error))
    click.echo(json.dumps(current(configured(defaults, store)), indent=2))
