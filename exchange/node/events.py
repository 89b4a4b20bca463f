"""CloudEvents the node accepts on `/3/events` and `/2/events` (structured content mode, JSON).

The envelope follows OpenAPI v3.0.3 `BaseEvent` (type, specversion, id, source, time, data); the data of each
of the four event types is checked against its schema (`PublishedEvent`, `RequestCreatedEvent`,
`RequestFulfilledEvent`, `RequestRejectedEvent`), footprints inside with the PACT marshalling layer.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from exchange.pact import PactValidationError, from_v2, from_v3
from exchange.pact.errors import PactIssue, pointer
from exchange.pact.fields import Text, UniqueList, Urn, UtcDateTime, Uuid
from exchange.pact.schema_base import issues_from_messages

PUBLISHED = "org.wbcsd.pathfinder.ProductFootprint.Published.v1"
REQUEST_CREATED = "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1"
REQUEST_FULFILLED = "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
REQUEST_REJECTED = "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1"
EVENT_TYPES = (PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED)
ERROR_CODES = ("BadRequest", "AccessDenied", "TokenExpired", "NotFound", "NoSuchFootprint", "InternalError",
               "NotImplemented")


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # CloudEvents allows extension attributes; event data may grow in later versions


class EnvelopeSchema(_Lenient):
    type = Text(required=True, validate=validate.OneOf(EVENT_TYPES, error="unknown event type; must be one of: {choices}"))
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
    """The validated envelope (data included); PactValidationError with pointers when malformed."""
    if not isinstance(body, dict):
        raise PactValidationError([PactIssue("", "an event must be a JSON object (CloudEvents structured mode)")])
    try:
        envelope = EnvelopeSchema().load(body)
    except ValidationError as exc:
        raise PactValidationError(issues_from_messages(exc.messages)) from None
    data_schema = {
        PUBLISHED: PublishedData,
        REQUEST_CREATED: RequestCreatedDataV3 if version == "v3" else RequestCreatedDataV2,
        REQUEST_FULFILLED: FulfilledData,
        REQUEST_REJECTED: RejectedData,
    }[envelope["type"]]
    try:
        data = data_schema().load(envelope["data"])
    except ValidationError as exc:
        raise PactValidationError(issues_from_messages(exc.messages, ("data",))) from None
    if envelope["type"] == REQUEST_CREATED and version == "v3" and not any(c in data for c in CRITERIA):
        raise PactValidationError([PactIssue("/data", f"a request must give at least one criterion ({', '.join(CRITERIA)})")])
    if envelope["type"] == REQUEST_FULFILLED:
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
    return envelope
