"""The request workflow of a data owner's node (PACT v3 "Asynchronous request and retrieval").

A `RequestCreated` event lands in the inbox (the events table). The node refuses it at once (4xx) when it can
already tell it cannot serve it: a product it does not make, or a requester whose node it has no credentials
for (it could never send the answer back). When footprints matching the criteria are already shared with the
requester, it answers straight away (auto-fulfil). Otherwise an operator runs `pcf fulfil` or `pcf reject`.
Every answer is one transaction: the footprint published and shared, the response event put in the outbox,
the request's status changed; the outbox then delivers it to the node named in the request's `source`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from webhooks.outbox import enqueue

from .events import REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED
from .records import footprint_record, notify_published
from .storage import Filters, NodeStore, answer_of

PACT_EVENT = "pact-event"  # outbox kind: a CloudEvent POSTed to another node's /3/events with a bearer token
_SOURCE = re.compile(r"^//([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?(/[^\s?#]*)?$")
NODE_URL_KEY = "node-url"


class RequestRefused(Exception):
    """A request the node refuses immediately; the API answers 400 BadRequest with this message."""


def origin_of_source(source: str) -> str:
    """`//host[:port][/path]` (CloudEvents `source` as PACT uses it) -> `https://host[:port][/path]`."""
    if not _SOURCE.match(source):
        raise RequestRefused(f"source {source!r} is not //host[:port][/path]: the answer could not be sent back")
    return "https:" + source.rstrip("/")


def events_url(source: str, version: str = "v3") -> str:
    return origin_of_source(source) + ("/2/events" if version == "v2" else "/3/events")


def request_version(data: dict) -> str:
    """A v2 RequestCreated carries a ProductFootprint fragment in `pf`; v3 carries the criteria directly."""
    return "v2" if isinstance(data.get("pf"), dict) else "v3"


def criteria(data: dict) -> dict:
    """The request's criteria in v3 form (a v2 fragment's productIds and companyIds become productId/companyId)."""
    if request_version(data) == "v3":
        return data
    fragment = data["pf"]
    return {"productId": fragment.get("productIds", []), "companyId": fragment.get("companyIds", [])}


def peer_origin(url: str) -> str:
    """scheme://host[:port] of a URL: the key under which a peer node's credentials are kept."""
    match = re.match(r"^(https?://[^/]+)", url)
    return match.group(1) if match else url


def filters_of(data: dict) -> Filters:
    """The criteria of a RequestCreated event as ListFootprints filters (the spec: the same criteria)."""
    return Filters(product=tuple(data.get("productId", ())), company=tuple(data.get("companyId", ())),
                   classification=tuple(data.get("classification", ())), geography=tuple(data.get("geography", ())),
                   valid_on=data.get("validOn"), valid_after=data.get("validAfter"), valid_before=data.get("validBefore"),
                   status=data.get("status"))


def cloud_event(event_type: str, source: str, data: dict, now: datetime) -> dict:
    return {"type": event_type, "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}


def own_source(store: NodeStore) -> str:
    """This node's `source` for the events it sends: `//host:port` of its public URL (set by `pcf serve`)."""
    url = store.setting(NODE_URL_KEY) or "https://localhost:8443"
    return "//" + url.split("://", 1)[-1].rstrip("/")


def receive_request(store: NodeStore, event: dict, org: str, body: str, now: datetime) -> None:
    """Record a RequestCreated event (v3, or v2 with its fragment); refuse it at once, or answer it when possible."""
    version = request_version(event["data"])
    data = criteria(event["data"])
    target = events_url(event["source"], version)
    if store.get_peer(peer_origin(target)) is None:
        raise RequestRefused(f"this node has no credentials for {peer_origin(target)}: it cannot send the answer; "
                             "ask its operator to add your node as a peer")
    product_ids = data.get("productId", ())
    if product_ids and store.product_known(product_ids) is False:
        raise RequestRefused(f"unknown product(s): {', '.join(product_ids)}")
    page = store.list_visible(org, filters_of(data), 0, None, 100, version)
    with store.transaction() as connection:
        request_pk = store.record_event(event["id"], event["source"], REQUEST_CREATED, org, body, now, connection)
        if request_pk is None or not page.items:
            return  # a repeat (already handled), or waiting for the operator
        pfs = [json.loads(document) for _, document in page.items]
        answer = cloud_event(REQUEST_FULFILLED, own_source(store), {"requestEventId": event["id"], "pfs": pfs}, now)
        enqueue(connection, answer["id"], target, PACT_EVENT, json.dumps(answer), now)
        store.set_event_status(request_pk, "fulfilled", connection)


def receive_other(store: NodeStore, event: dict, org: str, body: str, now: datetime) -> None:
    """Keep any event but a request (answers, Published notices). An answer whose `requestEventId` names a
    request this node sent closes it in the same transaction; an unknown id only lands in the inbox. A repeated
    (source, id) changes nothing, and the first answer to a request is the one kept."""
    try:
        with store.transaction() as connection:
            pk = store.record_event(event["id"], event["source"], event["type"], org, body, now, connection)
            if pk is not None and event["type"] in (REQUEST_FULFILLED, REQUEST_REJECTED):
                status, answer = answer_of(event["type"], event["data"])
                store.mark_request_answered(event["data"]["requestEventId"], status, answer, now, connection)
    except IntegrityError:
        return  # the same event, stored by a concurrent delivery a moment earlier


def _pending_request(store: NodeStore, request_pk: int) -> dict:
    request = store.get_event(request_pk)
    if request is None or request["type"] != REQUEST_CREATED:
        raise RequestRefused(f"no request {request_pk} in this node's inbox")
    if request["status"] != "received":
        raise RequestRefused(f"request {request_pk} was {request['status']} already")
    return request


def fulfil(store: NodeStore, request_pk: int, signed_documents: list[dict[str, Any]], now: datetime) -> str:
    """Publish the footprints (shared with the requester), queue RequestFulfilled, close the request: one transaction.

    A v2 request is answered with the v2 form of the footprints, at the requester's /2/events.
    """
    request = _pending_request(store, request_pk)
    version = request_version(json.loads(request["body"]).get("data", {}))
    records = [footprint_record(document) for document in signed_documents]
    if version == "v2":
        if any(record.v2_json is None for record in records):
            raise RequestRefused("the request came in PACT v2, which cannot express this footprint (e.g. no CPC code)")
        pfs = [json.loads(record.v2_json) for record in records]
    else:
        pfs = signed_documents
    answer = cloud_event(REQUEST_FULFILLED, own_source(store), {"requestEventId": request["event_id"], "pfs": pfs}, now)
    existing = [r for r in records if store.get(r.id) is not None]  # the same model computed before: same id
    with store.transaction() as connection:
        store.publish([r for r in records if r not in existing], share_with=(request["org"],), connection=connection)
        for record in existing:
            store.share(record.id, [request["org"]], connection=connection)
        enqueue(connection, answer["id"], events_url(request["source"], version), PACT_EVENT, json.dumps(answer), now)
        store.set_event_status(request_pk, "fulfilled", connection)
        notify_published(store, connection, [r.id for r in records if r not in existing], now)
    return answer["id"]


def reject(store: NodeStore, request_pk: int, message: str, now: datetime, code: str = "NotFound") -> str:
    """Queue RequestRejected with a PACT error body and close the request, in one transaction."""
    request = _pending_request(store, request_pk)
    version = request_version(json.loads(request["body"]).get("data", {}))
    code = "NoSuchFootprint" if version == "v2" and code == "NotFound" else code
    answer = cloud_event(REQUEST_REJECTED, own_source(store),
                         {"requestEventId": request["event_id"], "error": {"code": code, "message": message}}, now)
    with store.transaction() as connection:
        enqueue(connection, answer["id"], events_url(request["source"], version), PACT_EVENT, json.dumps(answer), now)
        store.set_event_status(request_pk, "rejected", connection)
    return answer["id"]
