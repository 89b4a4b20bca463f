"""The request workflow of a data owner's node (PACT v3 "Asynchronous events", v2 "Action Events").

Every well-formed, authenticated `RequestCreated` is accepted (200) and kept in the inbox (the events table); its
answer comes later, a `RequestFulfilled` or `RequestRejected` in the request's own PACT version, delivered by the
outbox to the requester's host (`addresses.answer_url`). What becomes of a request (`_automatic_answer`):
- the node has no credentials for the requester's host: `waiting-for-credentials`, nothing sent, until the operator
  adds that peer (`pcf node add-peer` calls `release_waiting`);
- it asks for products the node does not know (not in its catalogue, in no footprint it holds): rejected with the
  spec's `NotFound`;
- footprints matching its criteria are shared with the requester: fulfilled with them (auto-fulfil);
- otherwise it waits for the operator, `pcf fulfil` or `pcf reject`.
Only a `source` no answer could ever reach is refused at once (400, the spec's "immediately determine").
Every answer is one transaction: the footprint published and shared, the response event put in the outbox, the
request's status changed. A `Published` event from a known peer puts a fetch of those footprints in the outbox too.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from exchange.pact import PactValidationError
from exchange.pact.disclosure import SUMMARY
from exchange.pact.signing import SigningKey
from webhooks.outbox import enqueue

from .addresses import UnusableSource, answer_url, api_base, peer_origin, source_url
from .events import (
    PUBLISHED,
    REQUEST_CREATED,
    REQUEST_FULFILLED,
    REQUEST_REJECTED,
    REJECTION_CODES,
    check_event,
    event_type,
    kind_of,
    version_of,
)
from .keys import NODE_URL
from .records import footprint_record, notify_published
from .storage import (
    FULFILLED,
    RECEIVED,
    REJECTED,
    WAITING_FOR_CREDENTIALS,
    Filters,
    FootprintRecord,
    NodeStore,
    answer_of,
)

PACT_EVENT = "pact-event"  # outbox kind: a CloudEvent POSTed to another node's /3/events with a bearer token
PACT_FETCH = "pact-fetch"  # outbox kind: fetch footprints a peer announced (target: its API base; body: the ids)
NODE_URL_KEY = NODE_URL  # the setting `pcf serve` keeps its public URL in


class RequestRefused(Exception):
    """A request the node refuses (the API answers 400 BadRequest), or an operator's answer it cannot give."""


def request_version(event: dict) -> str:
    """The PACT version of a (stored or received) request: its type name's ("v3" when it names neither)."""
    return version_of(event.get("type", "")) or "v3"


def criteria(data: dict, version: str) -> dict:
    """The request's criteria in v3 form (a v2 fragment's productIds and companyIds become productId/companyId)."""
    if version == "v3":
        return data
    fragment = data["pf"]
    return {"productId": fragment.get("productIds", []), "companyId": fragment.get("companyIds", [])}


def filters_of(data: dict) -> Filters:
    """The criteria of a RequestCreated event as ListFootprints filters (the spec: the same criteria)."""
    return Filters(product=tuple(data.get("productId", ())), company=tuple(data.get("companyId", ())),
                   classification=tuple(data.get("classification", ())), geography=tuple(data.get("geography", ())),
                   valid_on=data.get("validOn"), valid_after=data.get("validAfter"), valid_before=data.get("validBefore"),
                   status=data.get("status"))


def record_matches(record: FootprintRecord, filters: Filters) -> bool:
    """Does a footprint about to be published meet a request's criteria, as ListFootprints would judge it (OR
    within a criterion, AND across, case-insensitive)?"""
    for kind, wanted in (("product", filters.product), ("company", filters.company),
                         ("classification", filters.classification), ("geography", filters.geography)):
        if wanted and not {v.lower() for v in wanted} & {v.lower() for v in record.keys.get(kind, ())}:
            return False
    if filters.status is not None and filters.status.lower() != record.status.lower():
        return False
    if isinstance(filters.valid_on, datetime) and not record.validity_start <= filters.valid_on <= record.validity_end:
        return False
    if isinstance(filters.valid_after, datetime) and not record.validity_start > filters.valid_after:
        return False
    return not (isinstance(filters.valid_before, datetime) and not record.validity_end < filters.valid_before)


def request_criteria(store: NodeStore, request_pk: int) -> Filters:
    """The criteria of a request waiting for the operator (RequestRefused otherwise), as filters."""
    request = _pending_request(store, request_pk)
    version = request_version(request)
    try:
        data = check_event(json.loads(request["body"]), version)["data"]
    except PactValidationError as error:  # it was valid when received: only a rule change can get here
        raise RequestRefused(f"request {request_pk} no longer reads as a valid request: {error}") from None
    return filters_of(criteria(data, version))


def cloud_event(event_type_name: str, source: str, data: dict, now: datetime) -> dict:
    return {"type": event_type_name, "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}


def own_source(store: NodeStore) -> str:
    """This node's `source` for the events it sends: `//host:port` of its public URL (set by `pcf serve`)."""
    url = store.setting(NODE_URL_KEY) or "https://localhost:8443"
    return "//" + url.split("://", 1)[-1].rstrip("/")


def _answer_target(source: str, version: str) -> str:
    try:
        return answer_url(source, version)
    except UnusableSource as error:
        raise RequestRefused(str(error)) from None


def _automatic_answer(store: NodeStore, request_id: str, data: dict, org: str, version: str,
                      now: datetime) -> tuple[str, dict] | None:
    """(new status, answer event) when the node can answer a request by itself; None when the operator must."""
    wanted = criteria(data, version)
    product_ids = list(wanted.get("productId", ()))
    if product_ids and not store.product_known(product_ids, org):
        error = {"code": "NotFound", "message": f"no footprint of {', '.join(product_ids)} here, and this company "
                                                "does not make it"}
        return REJECTED, cloud_event(event_type(REQUEST_REJECTED, version), own_source(store),
                                     {"requestEventId": request_id, "error": error}, now)
    page = store.list_visible(org, filters_of(wanted), 0, 100, version)
    if not page.items:
        return None
    pfs = [json.loads(document) for _, document in page.items]
    return FULFILLED, cloud_event(event_type(REQUEST_FULFILLED, version), own_source(store),
                                  {"requestEventId": request_id, "pfs": pfs}, now)


def _queue(connection: Connection, answer: dict, target: str, now: datetime) -> None:
    enqueue(connection, answer["id"], target, PACT_EVENT, json.dumps(answer), now)


def receive_request(store: NodeStore, event: dict, org: str, body: str, now: datetime) -> str:
    """Keep a validated RequestCreated event (v3, or v2 with its fragment) and answer it when the node can.
    Returns the request's status; RequestRefused only for a `source` no answer could reach."""
    version = request_version(event)
    target = _answer_target(event["source"], version)
    answer = None
    if store.get_peer(target) is not None:
        answer = _automatic_answer(store, event["id"], event["data"], org, version, now)
        status = RECEIVED
    else:
        status = WAITING_FOR_CREDENTIALS
    with store.transaction() as connection:
        request_pk = store.record_event(event["id"], event["source"], event["type"], org, body, now, connection, status)
        if request_pk is None:
            return "repeat"  # already handled
        if answer is not None:
            status, message = answer
            _queue(connection, message, target, now)
            store.set_event_status(request_pk, status, connection)
    return status


def release_waiting(store: NodeStore, url: str, now: datetime) -> list[tuple[int, str]]:
    """Triage the requests that waited for credentials for the node at `url` (just added as a peer):
    [(request key, new status)]. A request another process released first is skipped."""
    origin = peer_origin(url)
    released = []
    for request in store.list_events(REQUEST_CREATED, WAITING_FOR_CREDENTIALS):
        body = json.loads(request["body"])
        version = request_version(request)
        try:
            target = answer_url(request["source"], version)
        except UnusableSource:
            continue  # e.g. plain http to a host no longer allowed: it keeps waiting
        if peer_origin(target) != origin:
            continue
        try:
            data = check_event(body, version)["data"]
        except PactValidationError:
            continue  # kept as it came; it was valid when received, so only a rule change can get here
        answer = _automatic_answer(store, request["event_id"], data, request["org"], version, now)
        with store.transaction() as connection:
            status = answer[0] if answer else RECEIVED
            if not store.claim_event(request["pk"], WAITING_FOR_CREDENTIALS, status, connection):
                continue
            if answer is not None:
                _queue(connection, answer[1], target, now)
        released.append((request["pk"], status))
    return released


def receive_other(store: NodeStore, event: dict, org: str, body: str, now: datetime) -> None:
    """Keep any event but a request. An answer whose `requestEventId` names a request this node sent closes it
    in the same transaction; an unknown id only lands in the inbox. A Published event from a host this node has
    credentials for queues the fetch of those footprints (outside this HTTP request: the outbox does it); from
    any other host it is only kept. A repeated (source, id) changes nothing, and the first answer to a request
    is the one kept."""
    kind = event.get("kind") or kind_of(event["type"])
    base = None
    if kind == PUBLISHED:
        try:
            base = api_base(source_url(event["source"]))
        except UnusableSource:
            base = None
        if base is not None and store.get_peer(base) is None:
            base = None
    try:
        with store.transaction() as connection:
            pk = store.record_event(event["id"], event["source"], event["type"], org, body, now, connection)
            if pk is None:
                return
            if kind in (REQUEST_FULFILLED, REQUEST_REJECTED):
                status, answer = answer_of(event["type"], event["data"])
                store.mark_request_answered(event["data"]["requestEventId"], status, answer, now, connection)
            elif base is not None:
                version = version_of(event["type"])
                ids = [str(i).lower() for i in event["data"]["pfIds"]]
                store.expect_received(peer_origin(base), org, ids, pk, version, connection)
                enqueue(connection, f"fetch-{uuid.uuid4()}", base, PACT_FETCH,
                        json.dumps({"version": version, "pfIds": ids}), now)
    except IntegrityError:
        return  # the same event, stored by a concurrent delivery a moment earlier


def _pending_request(store: NodeStore, request_pk: int) -> dict:
    request = store.get_event(request_pk)
    if request is None or kind_of(request["type"]) != REQUEST_CREATED:
        raise RequestRefused(f"no request {request_pk} in this node's inbox")
    if request["status"] == WAITING_FOR_CREDENTIALS:
        raise RequestRefused(f"request {request_pk} waits for credentials for {request['source']}: add that node "
                             "with `pcf node add-peer` first (the answer could not be sent)")
    if request["status"] != RECEIVED:
        raise RequestRefused(f"request {request_pk} was {request['status']} already")
    return request


def fulfil(store: NodeStore, request_pk: int, signed: list[dict[str, Any] | FootprintRecord], now: datetime,
           level: str = SUMMARY, replaced: dict[str, list[str]] | None = None, key: SigningKey | None = None) -> str:
    """Publish the footprints (shared with the requester at disclosure `level`), queue RequestFulfilled, close the
    request: one transaction. `signed` holds records (`records.signed_record`: every level) or signed documents
    (served as they are); `replaced` (with the node's `key`) names the footprints new versions replace
    (`versions.py`). The answer carries each footprint as the requester is served it.

    A v2 request is answered with the v2 form of the footprints, in v2, where its source says (`/2/events`).
    """
    from .versions import supersede

    request = _pending_request(store, request_pk)
    version = request_version(request)
    records = [item if isinstance(item, FootprintRecord) else footprint_record(item) for item in signed]
    served = [record.variants.get(level, (record.v3_json, record.v2_json)) for record in records]
    if version == "v2":
        if any(v2 is None for _, v2 in served):
            raise RequestRefused("the request came in PACT v2, which cannot express this footprint (e.g. no CPC code)")
        pfs = [json.loads(v2) for _, v2 in served]
    else:
        pfs = [json.loads(v3) for v3, _ in served]
    target = _answer_target(request["source"], version)
    answer = cloud_event(event_type(REQUEST_FULFILLED, version), own_source(store),
                         {"requestEventId": request["event_id"], "pfs": pfs}, now)
    existing = [r for r in records if store.get(r.id) is not None]  # the same model computed before: same id
    with store.transaction() as connection:
        store.publish([r for r in records if r not in existing], share_with=(request["org"],), connection=connection,
                      level=level)
        for record in existing:
            store.share(record.id, [request["org"]], connection=connection, level=level)
        deprecated = supersede(store, connection, replaced, key, now) if replaced else []
        _queue(connection, answer, target, now)
        store.set_event_status(request_pk, FULFILLED, connection)
        notify_published(store, connection, [r.id for r in records if r not in existing], now, deprecated)
    return answer["id"]


def reject(store: NodeStore, request_pk: int, message: str, now: datetime, code: str = "NotFound") -> str:
    """Queue RequestRejected with a PACT error body (a code of the OpenAPI `Error` enum, both versions) and close
    the request, in one transaction."""
    if code not in REJECTION_CODES:
        raise RequestRefused(f"error code {code!r} is not one of PACT's: {', '.join(REJECTION_CODES)}")
    request = _pending_request(store, request_pk)
    version = request_version(request)
    target = _answer_target(request["source"], version)
    answer = cloud_event(event_type(REQUEST_REJECTED, version), own_source(store),
                         {"requestEventId": request["event_id"], "error": {"code": code, "message": message}}, now)
    with store.transaction() as connection:
        _queue(connection, answer, target, now)
        store.set_event_status(request_pk, REJECTED, connection)
    return answer["id"]
