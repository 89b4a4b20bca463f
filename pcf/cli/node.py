"""`pcf node ...`: set up, fill and look into a PACT node: database, clients, peers, catalogue, published
footprints, received requests and events, subscriptions, outbox delivery, the dashboard's admin password."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from exchange.node.auth import hash_secret
from exchange.node.dashboard import MIN_PASSWORD_LENGTH, set_admin_password
from exchange.node.events import REQUEST_CREATED, kind_of
from exchange.node.invites import create_invite, list_invites
from exchange.node.keys import node_signing_key, rotate_key, set_identity
from exchange.node.records import NotOurFootprint, publish_documents
from exchange.node.storage import PORTAL, WAITING_FOR_CREDENTIALS, StoreError
from exchange.node.workflow import release_waiting
from exchange.pact import PactValidationError, footprints_in, load_footprint, parse_json
from exchange.pact.disclosure import DEFAULT_LEVEL, LEVELS, SUMMARY
from lca_models.i18n import gettext as _

from ..tiers.workflow import deliverer
from .common import db_option, fail, open_store


def _json_file(file: Path):
    """FILE's JSON (the project's parser), or one error line and exit: 2 unreadable, 1 not JSON."""
    try:
        return parse_json(file.read_bytes())
    except OSError as exc:
        fail(f"{file}: " + _("cannot read file: {reason}").format(reason=exc.strerror or exc), status=2)
    except PactValidationError as error:
        fail(f"{file}: {error}")


DISCLOSE = click.option(
    "--disclose", type=click.Choice(LEVELS), default=DEFAULT_LEVEL, show_default=True,
    help="What these organisations see beyond PACT's fields: summary, breakdown (totals by gas, category, stage) or "
         "full (every line item, supplier names; docs/tiers.md).")


@click.group()
def node() -> None:
    """Administer a PACT node: its database, client credentials and published footprints."""


@node.command()
@db_option
@click.option("--org", "org_name", help="Your organisation's name: its keys are published as its keys.")
@click.option("--company-id", "company_ids", multiple=True,
              help="Your organisation's company id (URN, repeatable): footprints with one of these companyIds are yours, "
                   "the only ones this node signs.")
def init(db_url: str | None, org_name: str | None, company_ids: tuple[str, ...]) -> None:
    """Create (or upgrade) the node database; with --org/--company-id, say whose node it is."""
    store = open_store(db_url, initialise=True)
    if org_name or company_ids:
        identity = set_identity(store, org_name, company_ids)
        click.echo(_("organisation: {name} ({ids})").format(name=identity.name or "?", ids=", ".join(identity.company_ids)))
    click.echo(_("node database ready: {url}").format(url=store.url))


def _when_option(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        fail(_("--at: {value!r} is not a date-time (RFC 3339, e.g. 2026-05-01T00:00:00Z)").format(value=value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@node.command("rotate-key")
@db_option
def rotate_key_command(db_url: str | None) -> None:
    """Make a new signing key; the old public keys stay in the JWKS so what they signed still verifies."""
    store = open_store(db_url)
    before = [k.kid for k in store.signing_keys() if k.active]
    key = rotate_key(store, datetime.now(timezone.utc))
    click.echo(_("new signing key {kid} (previous: {previous}; still published for verification)").format(
        kid=key.kid, previous=", ".join(before) or "none"))


@node.command("revoke-key")
@db_option
@click.argument("kid")
@click.option("--at", "at", help="Revoked from this time (RFC 3339; default now): signatures dated from then on fail.")
def revoke_key_command(db_url: str | None, kid: str, at: str | None) -> None:
    """Revoke signing key KID (e.g. it leaked): verify fails its signatures from the revocation time on; a new key
    signs from now if it was the active one. A KID beginning with "-" goes after "--": revoke-key -- -8fGO..."""
    store = open_store(db_url)
    moment = _when_option(at)
    if not store.revoke_signing_key(kid, moment):
        fail(_("no signing key {kid} on this node (pcf node keys lists them)").format(kid=kid))
    active = node_signing_key(store)
    click.echo(_("key {kid} revoked from {time}; signing key now {active}").format(
        kid=kid, time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"), active=active.kid))


@node.command("keys")
@db_option
def keys_command(db_url: str | None) -> None:
    """This node's signing keys: the active one, older ones (still verifying) and revoked ones."""
    store = open_store(db_url)
    node_signing_key(store)
    for key in store.signing_keys():
        state = "active" if key.active else ("revoked " + key.revoked.strftime("%Y-%m-%dT%H:%M:%SZ") if key.revoked
                                             else "retired")
        created = key.created.strftime("%Y-%m-%dT%H:%M:%SZ") if key.created else "?"
        click.echo(f"{key.kid}  {state:<28}  created {created}")


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
@click.option("--public", is_flag=True, help="Visible to every authenticated client (at the summary level).")
@DISCLOSE
def publish(db_url: str | None, file: Path, share_with: tuple[str, ...], public: bool, disclose: str) -> None:
    """Publish the PACT footprints in FILE (v3 or v2; one, a JSON array, or a {"data": [...]} list).

    Your organisation's unsigned footprints (companyIds set by `pcf node init --company-id`) are signed with the
    node's key; a signed footprint is published as it is, its author's signature and provenance kept; another
    organisation's unsigned footprint is refused (get the signed document from its author). Publishing a product of
    yours published before (same productIds, companyIds, reference period and geography) makes it the new version:
    the old one is Deprecated."""
    store = open_store(db_url)
    document = _json_file(file)
    items = [("/" + str(i), item) for i, item in enumerate(document)] if isinstance(document, list) else footprints_in(document)
    loaded, problems = [], []
    for prefix, item in items:
        try:
            loaded.append((item, load_footprint(item).footprint))
        except PactValidationError as error:
            problems += [f"{prefix}{issue}" for issue in error.issues]
    if problems:
        fail(f"{file}: " + _("nothing published:") + "\n" + "\n".join(problems))
    try:
        ids = publish_documents(store, loaded, share_with, public, level=disclose)
    except (StoreError, NotOurFootprint) as error:
        fail(f"{file}: " + _("nothing published:") + f" {error}")
    audience = "public" if public else (", ".join(share_with) or "nobody yet")
    click.echo(json.dumps({"published": ids, "visible_to": audience, "disclosed": disclose if share_with else SUMMARY}))


@node.command()
@db_option
@click.argument("footprint_id")
@click.option("--with", "orgs", multiple=True, required=True, help="Organisation to share with (repeatable).")
@DISCLOSE
def share(db_url: str | None, footprint_id: str, orgs: tuple[str, ...], disclose: str) -> None:
    """Share a published footprint with more organisations (sharing again changes what they see)."""
    try:
        open_store(db_url).share(footprint_id, orgs, level=disclose)
    except StoreError as error:
        fail(str(error))
    click.echo(_("{footprint} shared with {orgs}").format(footprint=footprint_id, orgs=", ".join(orgs))
               + f" ({disclose})")


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
    """Footprints other nodes announced (PACT Published events from peers) and what fetching them gave, and those
    suppliers declared through the portal (pcf node invite)."""
    for item in open_store(db_url).list_received():
        when = f"  received {item.received:%Y-%m-%d %H:%M:%S}Z" if item.received else ""
        how = (f"supplier-declared through the portal, invitation {item.invite_id}" if item.channel == PORTAL
               else item.peer)
        click.echo(f"{item.footprint_id}  {item.status:<9} from {item.org} ({how}, {item.version}){when}"
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


def _lifetime(text: str) -> timedelta:
    """"14d", "48h" or "30m" -> a timedelta; click.BadParameter otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text or "")
    if not found or int(found.group(1)) == 0:
        raise click.BadParameter(f"{text!r}: a lifetime like 14d, 48h or 30m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[found.group(2)]
    return timedelta(**{unit: int(found.group(1))})


@node.command()
@db_option
@click.option("--org", required=True, help="The supplier organisation invited (the companyName of what it declares).")
@click.option("--product", "products", multiple=True, required=True, help="URN of a product asked for (repeatable).")
@click.option("--expires", default="14d", show_default=True, help="How long the link works: e.g. 14d, 48h, 30m.")
@click.option("--url", "node_url", envvar="PCF_NODE_URL", required=True,
              help="This node's public base URL, where the supplier opens the link (default: $PCF_NODE_URL).")
@click.option("--email", help="The supplier's contact, kept with the invitation (no mail is sent: send the link yourself).")
@click.option("--company-id", "company_ids", multiple=True, help="The supplier's company URN (repeatable).")
@click.option("--from", "requester", help="Your organisation's name, as the supplier sees it on the page.")
@click.option("--message", help="A line shown to the supplier above the form.")
def invite(db_url: str | None, org: str, products: tuple[str, ...], expires: str, node_url: str, email: str | None,
           company_ids: tuple[str, ...], requester: str | None, message: str | None) -> None:
    """Invite a supplier without a node to the portal: prints a single-use, expiring link (shown once; only its
    hash is kept) and records the request (pcf node requests --sent) that its answer closes."""
    if not node_url.lower().startswith("https://"):
        fail(f"--url {node_url}: the portal is served over HTTPS only (https://HOST:PORT)")
    store = open_store(db_url)
    try:
        invitation, token = create_invite(store, org, list(products), _lifetime(expires), datetime.now(timezone.utc),
                                          company_ids, requester, email, message)
    except ValueError as error:
        fail(str(error))
    click.echo(f"invitation {invitation.id} for {invitation.org}: {', '.join(invitation.products)}; single use, "
               f"valid until {invitation.expires:%Y-%m-%d %H:%M} UTC")
    click.echo(f"{node_url.rstrip('/')}/portal/{token}")
    click.echo("send this link to the supplier yourself: it is shown only now (the node keeps its hash)", err=True)


@node.command()
@db_option
def invites(db_url: str | None) -> None:
    """Portal invitations: open, used or expired, with what they ask for (the links themselves are not kept)."""
    now = datetime.now(timezone.utc)
    for item in list_invites(open_store(db_url)):
        used = f"  used {item.used:%Y-%m-%d %H:%M:%S}Z" if item.used else ""
        click.echo(f"{item.id}  {item.state(now):<7}  {item.org}{' <' + item.email + '>' if item.email else ''}  "
                   f"{', '.join(item.products)}  until {item.expires:%Y-%m-%d %H:%M}Z{used}")


@node.command()
@db_option
@click.option("--url", required=True, help="The peer node's base URL whose footprints these keys sign.")
@click.option("--jwks", "jwks_file", required=True, type=click.Path(path_type=Path),
              help="The peer's public keys (a JWKS file, e.g. saved from its /.well-known/jwks.json).")
def trust(db_url: str | None, url: str, jwks_file: Path) -> None:
    """Trust a peer's public keys: the dashboard checks the footprints received from peers against them."""
    document = _json_file(jwks_file)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) and k.get("kid") for k in keys):
        fail(f"{jwks_file}: not a JWK Set: expected {{\"keys\": [...]}} with a kid on every key")
    origin = open_store(db_url).trust(url, document, datetime.now(timezone.utc))
    click.echo(f"{len(keys)} key(s) trusted for {origin}: {', '.join(k['kid'] for k in keys)}")
