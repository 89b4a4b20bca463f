"""CloudEvents the node accepts on `/3/events` and `/2/events` (structured content mode, JSON).

The envelope follows OpenAPI v3.0.3 `BaseEvent` (type, specversion, id, source, time, data); the data of each
of the four event types is checked against its schema (`PublishedEvent`, `RequestCreatedEvent`,
`RequestFulfilledEvent`, `RequestRejectedEvent`), footprints inside with the PACT marshalling layer.

Each event kind has one `type` name per PACT version (the `const` of its OpenAPI schema): v3 names on `/3/events`,
v2 names on `/2/events`, and nothing else on either. The node sends the same table's names: an answer goes out in
the version of the request it answers. Code speaks of kinds (`REQUEST_CREATED`, ...); the wire and the events table
hold the type names, so `kind_of` and `type_names` translate.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from exchange.pact import PactValidationError, from_v2, from_v3
from exchange.pact.errors import PactIssue, pointer
from exchange.pact.fields import Text, UniqueList, Urn, UtcDateTime, Uuid
from exchange.pact.schema_base import issues_from_messages

PUBLISHED, REQUEST_CREATED = "Published", "RequestCreated"
REQUEST_FULFILLED, REQUEST_REJECTED = "RequestFulfilled", "RequestRejected"
KINDS = (PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED)
VERSIONS = ("v3", "v2")
# (kind, version) -> CloudEvents `type`: the `const` of PublishedEvent, RequestCreatedEvent, RequestFulfilledEvent
# and RequestRejectedEvent in openapi-3.0.3.yaml and openapi-2.3.3.yaml (checked by tests/node/test_event_types.py).
EVENT_TYPES: dict[tuple[str, str], str] = {
    (PUBLISHED, "v3"): "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
    (REQUEST_CREATED, "v3"): "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
    (REQUEST_FULFILLED, "v3"): "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
    (REQUEST_REJECTED, "v3"): "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
    (PUBLISHED, "v2"): "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
    (REQUEST_CREATED, "v2"): "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
    (REQUEST_FULFILLED, "v2"): "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1",
    (REQUEST_REJECTED, "v2"): "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
}
_KIND_OF = {name: kind for (kind, _), name in EVENT_TYPES.items()}
_VERSION_OF = {name: version for (_, version), name in EVENT_TYPES.items()}
# The OpenAPI `Error.code` enum (v3.0.3 and v2.3.3 alike): what a RequestRejected event may carry.
REJECTION_CODES = ("BadRequest", "AccessDenied", "TokenExpired", "NotFound", "InternalError", "NotImplemented")
# Accepted from other hosts: `NoSuchFootprint` is the v2 spec text's 404 code (never sent in an event by this node).
ERROR_CODES = REJECTION_CODES + ("NoSuchFootprint",)


def event_type(kind: str, version: str) -> str:
    """The CloudEvents `type` of an event kind in a PACT version ("v3" or "v2")."""
    return EVENT_TYPES[(kind, version)]


def kind_of(name: str) -> str | None:
    """The kind of a CloudEvents `type` name of either version; None for a name PACT does not define."""
    return _KIND_OF.get(name)


def version_of(name: str) -> str | None:
    """The PACT version ("v3" or "v2") whose OpenAPI defines this `type` name; None for neither."""
    return _VERSION_OF.get(name)


def type_names(kind: str) -> tuple[str, ...]:
    """Every version's `type` name of a kind (what the events table may hold for it)."""
    return tuple(EVENT_TYPES[(kind, version)] for version in VERSIONS)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # CloudEvents allows extension attributes; event data may grow in later versions


class EnvelopeSchema(_Lenient):
    type = Text(required=True)  # checked against the endpoint's version in check_event
    specversion = Text(required=True, validate=validate.Equal("1.0", error="CloudEvents specversion must be 1.0"))
    id = Text(non_empty=True, required=True)
    source = Text(non_empty=True, required=True)
    time = UtcDateTime(required=True)
    data = fields.Dict(required=True)


class PublishedData(_Lenient):
    pfIds = UniqueList(Uuid(), min_items=1, required=True)


class RequestCreatedDataV3(_Lenient):
    productId = UniqueList(Urn(), min_items=1)
    companyId = UniqueList(Urn(), min_items=1)
    geography = UniqueList(Text(non_empty=True), min_items=1)
    classification = UniqueList(Urn(), min_items=1)
    validOn = UtcDateTime()
    validAfter = UtcDateTime()
    validBefore = UtcDateTime()
    status = Text(validate=validate.OneOf(("Active", "Deprecated")))
    comment = Text()


class RequestCreatedDataV2(_Lenient):
    pf = fields.Dict(required=True)  # v2 ProductFootprintFragment: any subset of ProductFootprint
    comment = Text()


class FulfilledData(_Lenient):
    requestEventId = Text(non_empty=True, required=True)
    pfs = fields.List(fields.Dict(), required=True)


class ErrorBody(_Lenient):
    code = Text(required=True, validate=validate.OneOf(ERROR_CODES))
    message = Text(required=True)


class RejectedData(_Lenient):
    requestEventId = Text(non_empty=True, required=True)
    error = fields.Nested(ErrorBody, required=True)


CRITERIA = ("productId", "companyId", "geography", "classification", "validOn", "validAfter", "validBefore", "status")


def check_event(body: Any, version: str) -> dict[str, Any]:
    """The validated envelope (data included) of an event POSTed to `/3/events` ("v3") or `/2/events` ("v2"), with
    `kind` added; PactValidationError with pointers when malformed or when its type is not one of that version's."""
    if not isinstance(body, dict):
        raise PactValidationError([PactIssue("", "an event must be a JSON object (CloudEvents structured mode)")])
    try:
        envelope = EnvelopeSchema().load(body)
    except ValidationError as exc:
        raise PactValidationError(issues_from_messages(exc.messages)) from None
    kind = kind_of(envelope["type"])
    if kind is None or event_type(kind, version) != envelope["type"]:
        names = ", ".join(event_type(k, version) for k in KINDS)
        message = f"unknown event type for PACT {version}; must be one of: {names}"
        raise PactValidationError([PactIssue("/type", message)])
    data_schema = {
        PUBLISHED: PublishedData,
        REQUEST_CREATED: RequestCreatedDataV3 if version == "v3" else RequestCreatedDataV2,
        REQUEST_FULFILLED: FulfilledData,
        REQUEST_REJECTED: RejectedData,
    }[kind]
    try:
        data = data_schema().load(envelope["data"])
    except ValidationError as exc:
        raise PactValidationError(issues_from_messages(exc.messages, ("data",))) from None
    if kind == REQUEST_CREATED and version == "v3" and not any(c in data for c in CRITERIA):
        raise PactValidationError([PactIssue("/data", f"a request must give at least one criterion ({', '.join(CRITERIA)})")])
    if kind == REQUEST_FULFILLED:
        load = from_v3 if version == "v3" else from_v2
        issues: list[PactIssue] = []
        for index, document in enumerate(data["pfs"]):
            try:
                load(document)
            except PactValidationError as error:
                issues += [PactIssue(pointer("data", "pfs", index) + i.pointer, i.message) for i in error.issues]
        if issues:
            raise PactValidationError(issues)
    envelope["data"] = data
    envelope["kind"] = kind
    return envelope
