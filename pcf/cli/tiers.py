"""The tier workflow's commands: `pcf request`, `pcf fulfil`, `pcf reject`, `pcf verify`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import requests
from sqlalchemy.exc import SQLAlchemyError

from connectors.pact_client import PactClient, PactClientError, PactDocumentRefused
from connectors.trust_store import combined_ca_bundle
from exchange.node.addresses import peer_origin
from exchange.node.storage import NodeStore, StoreError
from exchange.node.workflow import RequestRefused
from exchange.node.workflow import reject as reject_request
from exchange.pact import PactValidationError, parse_json
from exchange.pact.disclosure import DEFAULT_LEVEL, LEVELS
from exchange.pact.signing import FAILED, UNCHECKED, Check, verify_chain
from lca_models.errors import ModelError
from lca_models.i18n import gettext as _

from ..engine import Engine
from ..report.progress import progress
from ..tiers.workflow import compute_and_fulfil, request_event, sent_request, utc_now
from .common import chosen_data_dir, db_option, default_db_url, fail, open_store


def _local_store(db_url: str | None) -> NodeStore | None:
    """The requester's own node database, to record what it sends; None (said in one line) when there is none."""
    url = db_url or default_db_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        click.echo(_("note: no local node database at {url}: the request is not recorded (`pcf node init`)").format(url=url),
                   err=True)
        return None
    store = NodeStore(url)
    try:
        store.check_schema()
    except StoreError as error:
        click.echo(_("note: the request is not recorded: {reason}").format(reason=error), err=True)
        return None
    return store


def _record(store: NodeStore | None, event: dict, node_url: str, failure: str | None = None) -> None:
    if store is None:
        return
    try:
        store.record_sent_request(sent_request(event, node_url, failure))
    except (StoreError, SQLAlchemyError) as error:  # the request was (or was not) sent all the same
        click.echo(_("note: the request is not recorded: {reason}").format(reason=f"{error.__class__.__name__}: {error}"),
                   err=True)


@click.command()
@db_option
@click.option("--node", "node_url", required=True, help="The supplier's node, e.g. https://supplier.example:8443")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--product-id", "product_ids", required=True, multiple=True, help="URN of the product (repeatable).")
@click.option("--comment")
@click.option("--reply-to", envvar="PCF_NODE_URL", required=True,
              help="Your own node's URL: the supplier sends its answer there (env PCF_NODE_URL).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="CA bundle for a self-signed node.")
def request(db_url: str | None, node_url: str, client_id: str, client_secret: str, product_ids: tuple[str, ...],
            comment: str | None, reply_to: str, ca_bundle: str | None) -> None:
    """Ask a supplier's node for a product footprint (PACT RequestCreated event); your node (--db) records it, and
    its status changes when the answer arrives (`pcf node requests --sent`, the dashboard)."""
    store = _local_store(db_url)
    event = request_event(list(product_ids), reply_to, comment)
    try:
        with PactClient(node_url, client_id, client_secret, ca_bundle=ca_bundle) as client:
            client.send_event(event)
    except PactClientError as error:
        reason = _("{node} refused the request: {status} {code}: {message}").format(
            node=node_url, status=error.status, code=error.code, message=error.message)
        _record(store, event, node_url, reason)
        fail(reason)
    _record(store, event, node_url)
    click.echo(json.dumps({"requested": list(product_ids), "from": node_url, "requestEventId": event["id"],
                           "answer_to": event["source"]}))


@click.command("fulfil")
@db_option
@click.argument("request_id", type=int)
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path))
@click.option("--disclose", type=click.Choice(LEVELS), default=DEFAULT_LEVEL, show_default=True,
              help="What the requester sees beyond PACT's fields: summary, breakdown (totals by gas, category, "
                   "stage) or full (every line item, supplier names; docs/tiers.md).")
def fulfil_command(db_url: str | None, request_id: int, model_path: Path, disclose: str) -> None:
    """Compute MODEL (pulling upstream footprints), sign, publish, share with the requester and answer REQUEST_ID
    with the products its criteria match (none: the request is rejected, NotFound)."""
    store = open_store(db_url)
    try:
        with progress(f"reading {model_path.name}") as steps:
            footprints, event_id = compute_and_fulfil(store, request_id, model_path, Engine(data_dir=chosen_data_dir()),
                                                       steps, disclose)
    except (ModelError, RequestRefused, PactClientError) as error:
        fail(str(error))
    if not footprints:
        click.echo(_("rejected request {request}: none of the model's products matches its criteria; answer {event} "
                     "queued").format(request=request_id, event=event_id))
    for footprint in footprints:
        click.echo(_("fulfilled request {request}: {product} {pcf} kgCO2e per {amount} {unit} (footprint {id}); "
                     "answer {event} queued").format(
            request=request_id, product=footprint.product_name_company, pcf=footprint.pcf_excluding_biogenic_uptake,
            amount=footprint.declared_unit_amount, unit=footprint.declared_unit_of_measurement, id=footprint.id,
            event=event_id))


@click.command("reject")
@db_option
@click.argument("request_id", type=int)
@click.option("--reason", required=True)
@click.option("--code", default="NotFound", show_default=True, help="PACT error code sent with the rejection.")
def reject_command(db_url: str | None, request_id: int, reason: str, code: str) -> None:
    """Answer REQUEST_ID with a RequestRejected event carrying REASON."""
    store = open_store(db_url)
    try:
        event_id = reject_request(store, request_id, reason, utc_now(), code)
    except RequestRefused as error:
        fail(str(error))
    click.echo(_("rejected request {request}; answer {event} queued").format(request=request_id, event=event_id))


def _read_json_source(source: str, verify_tls: str | bool, headers: dict | None = None) -> dict:
    """A document from a file or URL, parsed strictly (PactValidationError with the pointer of a duplicated key or
    NaN); a `{"data": {...}}` response is unwrapped."""
    if source.startswith(("https://", "http://")):
        response = requests.get(source, headers=headers or {}, timeout=15, verify=verify_tls)
        response.raise_for_status()
        body = parse_json(response.content)
    else:
        body = parse_json(Path(source).read_bytes())
    return body["data"] if isinstance(body, dict) and isinstance(body.get("data"), dict) and "pcf" not in body else body


def _trusted_sets(sources: tuple[str, ...], verify_tls: str | bool) -> tuple[list[dict], list[Check]]:
    """The JWKS to check signatures against, and a check for each source that could not be read: unreachable is ⚠
    (the signer's key may be there), a refused document ✗."""
    sets, checks = [], []
    if not sources:
        checks.append(Check("trust store", UNCHECKED, _("no --trusted JWKS given: no signature can be checked")))
    for source in sources:
        try:
            sets.append(_read_json_source(source, verify_tls))
        except PactValidationError as error:
            checks.append(Check(f"trusted {source}", FAILED, str(error)))
        except (OSError, requests.RequestException) as error:
            checks.append(Check(f"trusted {source}", UNCHECKED, _("not reachable: not checked ({reason})").format(
                reason=error)))
    return sets, checks


@click.command("verify")
@click.argument("source")
@click.option("--trusted", "--trust", "trusted", multiple=True,
              help="JWKS (file or URL, e.g. https://node/.well-known/jwks.json) of a signer you trust (repeatable).")
@click.option("--ca-bundle", "ca_bundles", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM CA bundle to trust besides the system CAs (repeatable: e.g. a root and an intermediate).")
@click.option("--credentials", "credentials", multiple=True, metavar="URL=CLIENT_ID:SECRET",
              help="Credentials for a node whose footprints the chain references (repeatable).")
@click.option("--allow-unchecked", is_flag=True,
              help="Exit 0 even when some check could not be done (⚠ lines, e.g. an upstream node not reachable).")
def verify_command(source: str, trusted: tuple[str, ...], ca_bundles: tuple[str, ...], credentials: tuple[str, ...],
                   allow_unchecked: bool) -> None:
    """Check a footprint (file or URL): JSON, schema, consistency, signature (who signed, with which key, when) and,
    where reachable, its upstream chain. ✓ checked and holds, ⚠ a warning or not checked, ✗ fails. Exit 1 for
    any ✗, and for a check not done unless --allow-unchecked; consistency warnings (which PACT allows) exit 0."""
    try:
        verify_tls = combined_ca_bundle(ca_bundles)
    except OSError as error:
        fail(_("cannot read: {reason}").format(reason=error), status=2)
    bundle = verify_tls if isinstance(verify_tls, str) else None
    clients = {}
    for entry in credentials:
        url, _sep, pair = entry.partition("=")
        client_id, _sep, secret = pair.partition(":")
        clients[peer_origin(url)] = PactClient(peer_origin(url), client_id, secret, ca_bundle=bundle, max_retries=1)

    def fetch(footprint_id: str, url: str | None):
        if not url:
            return None
        client = clients.get(peer_origin(url))
        if client is not None:
            return client.get_footprint(url.rstrip("/").rsplit("/", 1)[-1])
        return _read_json_source(url, verify_tls)

    try:
        document = fetch("", source) if source.startswith("https://") else _read_json_source(source, verify_tls)
    except (PactValidationError, PactDocumentRefused) as error:  # duplicate keys, NaN: refused, with the pointer
        click.echo(f"✗ json: {error}")
        sys.exit(1)
    except (OSError, requests.RequestException, PactClientError, ValueError) as error:
        fail(_("cannot read: {reason}").format(reason=error), status=2)
    keys, checks = _trusted_sets(trusted, verify_tls)

    with progress("verifying; upstream footprints asked for") as steps:

        def fetch_counted(footprint_id: str, url: str | None):
            steps.advance()
            return fetch(footprint_id, url)

        checks += verify_chain(document, keys, fetch_counted)
    for check in checks:
        click.echo(f"{check.symbol} {check.name}: {check.detail}")
    if any(check.status == FAILED for check in checks):
        sys.exit(1)
    unchecked = sum(check.status == UNCHECKED for check in checks)
    if unchecked and not allow_unchecked:
        click.echo(_("{count} check(s) not done (⚠ not checked): exit status 1; --allow-unchecked accepts that").format(
            count=unchecked), err=True)
        sys.exit(1)
