"""`pcf node ...`: set up, fill and look into a PACT node: database, clients, peers, catalogue, published
footprints, received requests and events, subscriptions, outbox delivery, the dashboard's admin password."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from exchange.node.auth import hash_secret
from exchange.node.dashboard import MIN_PASSWORD_LENGTH, set_admin_password
from exchange.node.events import REQUEST_CREATED, kind_of
from exchange.node.records import publish_footprints
from exchange.node.storage import WAITING_FOR_CREDENTIALS, StoreError
from exchange.node.workflow import release_waiting
from exchange.pact import PactValidationError, footprints_in, load_footprint, parse_json

from ..tiers.workflow import deliverer
from lca_models.i18n import gettext as _

from .common import db_option, fail, open_store


@click.group()
def node() -> None:
    """Administer a PACT node: its database, client credentials and published footprints."""


@node.command()
@db_option
def init(db_url: str | None) -> None:
    """Create (or upgrade) the node database."""
    store = open_store(db_url, initialise=True)
    click.echo(_("node database ready: {url}").format(url=store.url))


@node.command("add-client")
@db_option
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--org", required=True, help="The organisation the client belongs to (what footprints are shared with).")
def add_client(db_url: str | None, client_id: str, client_secret: str, org: str) -> None:
    """Add an OAuth2 client credential; the secret is stored hashed."""
    store = open_store(db_url)
    try:
        store.add_client(client_id, hash_secret(client_secret), org, datetime.now(timezone.utc))
    except StoreError as error:
        fail(str(error))
    click.echo(_("client {client} added for {org}").format(client=client_id, org=org))


@node.command()
@db_option
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--share-with", multiple=True, help="Organisation that may see the footprints (repeatable).")
@click.option("--public", is_flag=True, help="Visible to every authenticated client.")
def publish(db_url: str | None, file: Path, share_with: tuple[str, ...], public: bool) -> None:
    """Publish the PACT footprints in FILE (v3 or v2; one, a JSON array, or a {"data": [...]} list)."""
    store = open_store(db_url)
    try:
        document = parse_json(file.read_bytes())
    except OSError as exc:
        fail(f"{file}: " + _("cannot read file: {reason}").format(reason=exc.strerror or exc), status=2)
    except PactValidationError as error:
        fail(f"{file}: {error}")
    items = [("/" + str(i), item) for i, item in enumerate(document)] if isinstance(document, list) else footprints_in(document)
    footprints, problems = [], []
    for prefix, item in items:
        try:
            footprints.append(load_footprint(item).footprint)
        except PactValidationError as error:
            problems += [f"{prefix}{issue}" for issue in error.issues]
    if problems:
        fail(f"{file}: " + _("nothing published:") + "\n" + "\n".join(problems))
    try:
        ids = publish_footprints(store, footprints, share_with, public)
    except StoreError as error:
        fail(f"{file}: " + _("nothing published:") + f" {error}")
    audience = "public" if public else (", ".join(share_with) or "nobody yet")
    click.echo(json.dumps({"published": ids, "visible_to": audience}))


@node.command()
@db_option
@click.argument("footprint_id")
@click.option("--with", "orgs", multiple=True, required=True, help="Organisation to share with (repeatable).")
def share(db_url: str | None, footprint_id: str, orgs: tuple[str, ...]) -> None:
    """Share a published footprint with more organisations."""
    try:
        open_store(db_url).share(footprint_id, orgs)
    except StoreError as error:
        fail(str(error))
    click.echo(_("{footprint} shared with {orgs}").format(footprint=footprint_id, orgs=", ".join(orgs)))


@node.command("requests")
@db_option
@click.option("--sent", is_flag=True, help="The requests this node sent (`pcf request`) and their answers instead.")
def list_requests(db_url: str | None, sent: bool) -> None:
    """The footprint requests this node received (or, with --sent, sent), with their status."""
    store = open_store(db_url)
    if sent:
        for item in store.list_sent_requests():
            answered = f"  answered {item.answered:%Y-%m-%d %H:%M:%S}Z: {json.dumps(item.answer)}" if item.answered else ""
            failed = f"  {item.answer['reason']}" if item.status == "failed-to-send" and item.answer else ""
            click.echo(f"{item.event_id}  {item.status:<14}  to {item.target}  {json.dumps(item.criteria)}"
                       f"{'  comment: ' + item.comment if item.comment else ''}  sent {item.created:%Y-%m-%d %H:%M:%S}Z"
                       f"{answered}{failed}")
        return
    for event in store.list_events(REQUEST_CREATED):
        data = json.loads(event["body"]).get("data", {})
        criteria = {k: v for k, v in data.items() if k != "comment"}
        waiting = event["status"] == WAITING_FOR_CREDENTIALS
        hint = "  " + _("(answered once you add its node: pcf node add-peer)") if waiting else ""
        click.echo(f"{event['pk']:>5}  {event['status']:<9}  from {event['org']} ({event['source']})  "
                   f"{json.dumps(criteria)}{'  comment: ' + data['comment'] if data.get('comment') else ''}{hint}")


@node.command()
@db_option
def inbox(db_url: str | None) -> None:
    """Every event this node received (requests, answers, notifications)."""
    store = open_store(db_url)
    for event in store.list_events():
        body = json.loads(event["body"])
        pfs = [pf.get("id") for pf in body.get("data", {}).get("pfs", [])]
        click.echo(f"{event['pk']:>5}  {kind_of(event['type']) or event['type']:<16} {event['status']:<9} "
                   f"from {event['org']} ({event['source']}){'  footprints: ' + ', '.join(pfs) if pfs else ''}")


@node.command()
@db_option
def received(db_url: str | None) -> None:
    """Footprints other nodes announced (PACT Published events from peers) and what fetching them gave."""
    for item in open_store(db_url).list_received():
        when = f"  received {item.received:%Y-%m-%d %H:%M:%S}Z" if item.received else ""
        click.echo(f"{item.footprint_id}  {item.status:<8} from {item.org} ({item.peer}, {item.version}){when}"
                   f"{'  ' + item.error if item.error else ''}")


@node.command("add-peer")
@db_option
@click.option("--url", required=True, help="The other node's base URL.")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False))
def add_peer(db_url: str | None, url: str, client_id: str, client_secret: str, ca_bundle: str | None) -> None:
    """Credentials this node uses to send events to (and pull footprints from) another node; requests from that
    node that waited for them are answered now (or wait for the operator, as any other)."""
    store = open_store(db_url)
    origin = store.add_peer(url, client_id, client_secret, str(Path(ca_bundle).resolve()) if ca_bundle else None)
    click.echo(_("peer {origin} added").format(origin=origin))
    for request_pk, status in release_waiting(store, origin, datetime.now(timezone.utc)):
        click.echo(_("request {request} from {origin}: {status}").format(request=request_pk, origin=origin, status=status)
                   + (_(" (answer queued)") if status in ("fulfilled", "rejected") else " (pcf fulfil / pcf reject)"))


@node.command("add-product")
@db_option
@click.argument("product_ids", nargs=-1, required=True)
def add_product(db_url: str | None, product_ids: tuple[str, ...]) -> None:
    """Products this node makes: requests for anything else are refused at once."""
    open_store(db_url).add_products(product_ids)
    click.echo(_("{count} product(s) in the catalogue").format(count=len(product_ids)))


@node.command()
@db_option
@click.option("--url", required=True, help="Where to POST notices (e.g. your ERP's webhook endpoint).")
@click.option("--secret", help="Signing secret (whsec_...); generated and printed when not given.")
def subscribe(db_url: str | None, url: str, secret: str | None) -> None:
    """Notify URL with Standard Webhooks (webhook-id/-timestamp/-signature) whenever footprints are published."""
    from webhooks.signing import new_secret

    secret = secret or new_secret()
    open_store(db_url).add_subscription(url, secret)
    click.echo(json.dumps({"subscribed": url, "secret": secret}))


@node.command()
@db_option
def deliver(db_url: str | None) -> None:
    """Send every due event of the outbox once (the server does this continuously)."""
    counts = deliverer(open_store(db_url)).run_once()
    click.echo(json.dumps(counts))


@node.command("admin-password")
@db_option
@click.option("--password-env", metavar="VAR",
              help="Read the password from this environment variable (for scripts); default: prompt for it.")
def admin_password(db_url: str | None, password_env: str | None) -> None:
    """Set the dashboard's admin password (stored hashed; the dashboard stays closed until one is set)."""
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            fail(_("environment variable {name} is not set").format(name=password_env))
    else:
        password = click.prompt(_("admin password (at least {count} characters)").format(count=MIN_PASSWORD_LENGTH),
                                hide_input=True,
                                confirmation_prompt=True)
    try:
        set_admin_password(open_store(db_url), password)
    except ValueError as error:
        fail(str(error))
    click.echo(_("dashboard admin password set: log in at https://HOST:PORT/dashboard/"))
