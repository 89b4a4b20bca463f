"""The tier workflow, wired: requests out, fulfilment with upstream footprints pulled in, delivery, verification.

This is the composition root's part: it hands the node's outbox a transport that authenticates to peer nodes
with `connectors.PactClient` (events out, and the footprints peers announce fetched in), gives the engine a supplier
loader that fetches footprint URLs with the node's peer credentials, and signs what the node sends.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from connectors.pact_client import PactClient, PactClientError
from exchange.node.addresses import peer_origin
from exchange.node.events import REQUEST_CREATED, event_type
from exchange.node.keys import node_identity, node_signing_key
from exchange.node.records import STANDARD_WEBHOOK, signed_record
from exchange.node.storage import FAILED, FAILED_TO_SEND, FETCHED, INVALID, PENDING, SENT, NodeStore, SentRequest
from exchange.node.versions import with_predecessors
from exchange.node.workflow import PACT_EVENT, PACT_FETCH, RequestRefused, fulfil, record_matches, reject, request_criteria
from exchange.pact import PactValidationError, from_v2, from_v3
from exchange.pact.disclosure import SUMMARY
from exchange.pact.own_extensions import EXTENSION_SPEC_VERSION
from exchange.pact.signing import PROVENANCE_SCHEMA, canonical_digest, provenance_extension
from lca_models.footprint import Extension, Footprint
from lca_models.model_schema import load_model
from webhooks.delivery import RETRYABLE_4XX, Deliverer, DeliveryError, standard_webhook_transport
from webhooks.outbox import Outbox, OutboxItem

from ..engine import Engine
from ..engine.exclusions import check_pact_exemptions
from ..engine.suppliers import SupplierLoader
from ..report.progress import SILENT, Steps


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def peer_client(store: NodeStore, base_url: str, **options) -> PactClient:
    """A client for the node at `base_url` (its origin, or origin + subpath), with the credentials kept for it."""
    origin = peer_origin(base_url)
    peer = store.get_peer(origin)
    if peer is None:
        raise PactClientError(None, None, f"no credentials for {origin}: add it with `pcf node add-peer`", base_url)
    return PactClient(base_url, peer["client_id"], peer["client_secret"], auth_base_url=origin,
                      ca_bundle=peer["ca_bundle"], **options)


def pact_transport(store: NodeStore):
    """Outbox transport for PACT events: POST to the target's `/3/events` (or `/2/events`) with a bearer token.

    The outbox does the retrying, so the client makes one attempt; 4xx refusals are permanent.
    """
    clients: dict[str, PactClient] = {}

    def send(item: OutboxItem) -> None:
        base, version_path, _ = item.target.rsplit("/", 2)  # http(s)://host[:port][/subpath] / 3|2 / events
        version = "v2" if version_path == "2" else "v3"
        try:
            if base not in clients:
                clients[base] = peer_client(store, base, max_retries=0)
            clients[base].send_event(json.loads(item.body), version=version)
        except PactClientError as error:
            message = f"{item.target}: {error.status} {error.code}: {error.message}"
            raise DeliveryError(message, _permanent(error)) from None

    return send


def _permanent(error: PactClientError) -> bool:
    """A refusal retrying cannot change: 4xx other than 408/429."""
    return error.status is not None and 400 <= error.status < 500 and error.status not in RETRYABLE_4XX


def _checked(document: dict, footprint_id: str, version: str) -> tuple[str, str | None]:
    """(FETCHED, None) for a valid footprint with the announced id, else (INVALID, why)."""
    if str(document.get("id", "")).lower() != footprint_id:
        return INVALID, f"the peer answered with footprint {document.get('id')!r}, not {footprint_id}"
    try:
        (from_v3 if version == "v3" else from_v2)(document)
    except PactValidationError as error:
        return INVALID, "; ".join(str(issue) for issue in error.issues[:5])
    return FETCHED, None


def fetch_transport(store: NodeStore):
    """Outbox transport for the footprints a peer announced (PublishedEvent): GET each from the peer's API with
    the peer's credentials into `received_footprints`. A refusal for one id (e.g. 404) ends that id (FAILED);
    a transient failure leaves it PENDING and has the outbox retry the ids still pending."""

    def send(item: OutboxItem) -> None:
        job = json.loads(item.body)
        origin = peer_origin(item.target)
        try:
            client = peer_client(store, item.target, max_retries=0)
        except PactClientError as error:
            raise DeliveryError(str(error), permanent=True) from None
        transient = []
        with client:
            for footprint_id in store.pending_received(origin, job["pfIds"]):
                now = utc_now()
                try:
                    document = client.get_footprint(footprint_id, version=job["version"])
                except PactClientError as error:
                    status = FAILED if _permanent(error) else PENDING
                    store.record_received(origin, footprint_id, status, None, str(error), now)
                    if status == PENDING:
                        transient.append(f"{footprint_id}: {error}")
                    continue
                status, problem = _checked(document, footprint_id, job["version"])
                text = json.dumps(document, ensure_ascii=False)
                store.record_received(origin, footprint_id, status, text, problem, now)
        if transient:
            raise DeliveryError("; ".join(transient)[:1000])

    return send


def deliverer(store: NodeStore) -> Deliverer:
    """The node's outbox deliverer: PACT events to peer nodes, Standard Webhooks to subscribers."""
    return Deliverer(Outbox(store.engine), {
        PACT_EVENT: pact_transport(store),
        PACT_FETCH: fetch_transport(store),
        STANDARD_WEBHOOK: standard_webhook_transport(lambda url: store.subscriptions()[url]),
    })


def request_event(product_ids: list[str], reply_to: str, comment: str | None) -> dict:
    """A PACT v3 RequestCreated event whose `source` is the requester's node (where the answer goes)."""
    data: dict = {"productId": product_ids}
    if comment:
        data["comment"] = comment
    source = "//" + reply_to.split("://", 1)[-1].rstrip("/")
    return {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}


def sent_request(event: dict, node_url: str, failure: str | None = None) -> SentRequest:
    """What the requester's node keeps of a RequestCreated it POSTed to `node_url` (or failed to, with why)."""
    data = event["data"]
    return SentRequest(event["id"], node_url, {k: v for k, v in data.items() if k != "comment"}, data.get("comment"),
                       utc_now(), FAILED_TO_SEND if failure else SENT, answer={"reason": failure} if failure else None)


def with_provenance(footprint: Footprint, loader: SupplierLoader) -> Footprint:
    """Declare the upstream footprints a computation used (id, canonical digest, URL where fetched)."""
    upstream = []
    for ref, document in loader.documents.items():
        url = ref if ref.startswith(("https://", "http://")) else None
        upstream.append((document.get("id", ""), canonical_digest(document), url))
    if not upstream:
        return footprint
    extension = provenance_extension(upstream)
    return dataclasses.replace(footprint, extensions=footprint.extensions + (
        Extension(EXTENSION_SPEC_VERSION, PROVENANCE_SCHEMA, extension["data"]),))


def compute_and_fulfil(store: NodeStore, request_pk: int, model_path: Path, engine: Engine,
                       steps: Steps = SILENT, level: str = SUMMARY) -> tuple[list[Footprint], str]:
    """Compute the model (pulling node-hosted supplier footprints), sign, publish, share at disclosure `level` and
    answer the request with exactly the products its criteria match; none matching rejects it with `NotFound`
    (then no footprint is returned). A product published here before gets a new version (`versions.py`).
    `steps` hears the engine's phases and the final one."""
    criteria = request_criteria(store, request_pk)  # RequestRefused before any work for a request not waiting

    def fetch(url: str) -> dict:  # https://node[/subpath]/3/footprints/<id>
        base, _, footprint_id = url.rstrip("/").rpartition("/3/footprints/")
        return peer_client(store, base).get_footprint(footprint_id)

    loader = SupplierLoader(fetch=fetch)
    footprints = engine.compute(load_model(model_path), suppliers=loader, steps=steps)
    check_pact_exemptions(footprints)  # what leaves as PACT keeps the Methodology's cut-off limit
    identity = node_identity(store)
    foreign = [f.id for f in footprints if identity.company_ids and not identity.owns(f.company_ids)]
    if foreign:  # the node signs only its own organisation's footprints (exchange/node/keys.py)
        raise RequestRefused(f"the model's company ids are not this node's organisation ({', '.join(identity.company_ids)}): "
                             "this node signs only footprints its own organisation computed")
    steps.phase("signing, publishing and queuing the answer")
    key = node_signing_key(store)
    now = utc_now()
    footprints, replaced = with_predecessors(store, [with_provenance(f, loader) for f in footprints])
    records = {f.id: signed_record(f, key, now) for f in footprints}
    matching = [f for f in footprints if record_matches(records[f.id], criteria)]
    if not matching:
        message = "none of the products this node computed for the request matches its criteria"
        return [], reject(store, request_pk, message, now, "NotFound")
    replaced = {new: old for new, old in replaced.items() if new in {f.id for f in matching}}
    event_id = fulfil(store, request_pk, [records[f.id] for f in matching], now, level, replaced, key)
    return matching, event_id
