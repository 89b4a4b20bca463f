"""ListFootprints, GetFootprint and Events, for v3 (`/3`) and v2 (`/2`) from the same store.

Filtering (OpenAPI v3.0.3 `/3/footprints`): parameter names are case-insensitive, a repeated criterion is OR,
different criteria are AND, values compare case-insensitively, `x-...` vendor parameters are ignored, anything
else unknown is a BadRequest (a mistyped filter must not silently return everything). A `status` other than Active
or Deprecated matches nothing (an empty list, as WBCSD's conformance case 37 expects). v2 takes the v2.3 `$filter`
subset instead (`v2_filter`). Pagination is keyset on publication order: the
`Link: <...>; rel="next"` URL carries an opaque cursor (`cursors.py`: the position of the last footprint the page
showed, sealed and bound to the caller's organisation and the listing's filter), so it depends on nothing the caller
cannot see, gives the same page every time (a footprint published meanwhile joins the end) and never expires (the
spec asks for >= 180 s). The handlers serve the stored documents as they are: a page is the stored strings joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import urlencode

from flask import Blueprint, Response, json, request

from exchange.pact import PactValidationError, parse_json

from .auth import Principal, TokenService
from .cursors import CursorError, CursorSeal, listing_of
from .errors import ApiError
from .event_quota import EventLimits, QuotaExceeded, check_quota
from .events import REQUEST_CREATED, check_event
from .storage import Filters, NodeStore, Page, Served
from .v2_filter import FilterError, Predicate, index_criteria, parse_filter
from .workflow import RequestRefused, receive_other, receive_request

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LIST_CRITERIA = {"productid": "product", "companyid": "company", "classification": "classification",
                 "geography": "geography"}
TIME_CRITERIA = {"validon": "valid_on", "validafter": "valid_after", "validbefore": "valid_before"}
CURSOR = "cursor"
V2_FILTER = "$filter"
FILTER_SCAN = 500  # footprints read per round while looking for those a v2 $filter matches
EVENT_CONTENT_TYPES = ("application/cloudevents+json", "application/json")


def _parse_time(name: str, value: str) -> datetime:
    """RFC 3339 (seconds optional, as in the spec's own `validon=2025-04-01T00:00Z`) or a date; UTC."""
    text = value.strip().upper().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError("BadRequest", f"{name}: {value!r} is not a date-time (RFC 3339, e.g. 2025-04-01T00:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Listing:
    """A ListFootprints request as parsed: what to list, how many, from where, and what its cursors are bound to."""

    filters: Filters
    predicate: Predicate | None  # a v2 $filter
    limit: int
    after: int  # position (publication seq) after which this page starts
    bound: str  # cursors.listing_of: the version and filter a cursor of this listing is bound to


def parse_listing(parameters: Iterable[tuple[str, str]], config, version: str, seal: CursorSeal, org: str) -> Listing:
    """The listing `org` asked for with these query parameters; ApiError BadRequest for anything malformed (a cursor
    of another caller or listing included, with the same answer), NotImplemented for a v2 $filter beyond the spec's
    subset."""
    parameters = list(parameters)
    lists: dict[str, list[str]] = {}
    single: dict[str, str] = {}
    after, limit, predicate, cursor = 0, config.page_size, None, None
    hints: dict[str, str] = {}
    for raw_name, value in parameters:
        if "\x00" in raw_name or "\x00" in value:  # no identifier holds NUL, and PostgreSQL text cannot
            raise ApiError("BadRequest", "query parameters must not contain NUL characters")
        name = raw_name.lower()
        if name.startswith("x-"):
            continue  # vendor filters of other implementations: ignored
        if name in LIST_CRITERIA:
            if not value:
                raise ApiError("BadRequest", f"{raw_name}: empty value")
            lists.setdefault(LIST_CRITERIA[name], []).append(value)
        elif name in TIME_CRITERIA or name == "status":
            if name in single:
                raise ApiError("BadRequest", f"{raw_name} may be given once")
            single[name] = value
        elif name == "limit":
            if not (value.isascii() and value.isdigit()) or int(value) < 1:  # "²".isdigit() is True
                raise ApiError("BadRequest", "limit must be a positive integer")
            limit = min(int(value), config.max_limit)
        elif name == CURSOR:
            if cursor is not None:
                raise ApiError("BadRequest", "malformed pagination cursor")
            cursor = value
        elif version == "v2" and name == V2_FILTER:
            if predicate is not None:
                raise ApiError("BadRequest", "$filter may be given once")
            try:
                predicate = parse_filter(value)
                hints = index_criteria(value)
            except FilterError as error:
                raise ApiError(error.code, str(error)) from None
        else:
            raise ApiError("BadRequest", f"unknown query parameter {raw_name!r}")
    for kind, value in hints.items():  # the index narrows, the predicate decides (an explicit criterion stays as given)
        lists.setdefault(kind, [value])
    bound = listing_of(version, parameters)
    if cursor is not None:
        try:
            after = seal.open(org, bound, cursor)
        except CursorError as error:
            raise ApiError("BadRequest", str(error)) from None
    times = {TIME_CRITERIA[name]: _parse_time(name, value) for name, value in single.items() if name in TIME_CRITERIA}
    filters = Filters(**{kind: tuple(values) for kind, values in lists.items()}, status=single.get("status"), **times)
    return Listing(filters, predicate, limit, after, bound)


def list_page(store: NodeStore, org: str, listing: Listing, version: str, floor_of: str | None = None) -> Page:
    """The page of `listing` for `org` (with the token floor of client `floor_of`: NodeStore.list_visible)."""
    if listing.predicate is None:
        return store.list_visible(org, listing.filters, listing.after, listing.limit, version, floor_of)
    return _matching_page(store, org, listing.filters, listing.predicate, listing.after, listing.limit, floor_of)


def page_body(page: Page) -> str:
    """The ListFootprints body: the stored documents joined as they are (no parsing, no re-marshalling)."""
    return '{"data":[' + ",".join(document for _, document in page.items) + "]}"


def next_link(scheme: str, host: str, path: str, parameters: Iterable[tuple[str, str]], cursor: str) -> str:
    """The Link header of the next page: an absolute URL on the request's own host (spec: `host` of the target
    equals the request's), the request's parameters with the next cursor."""
    params = [(k, v) for k, v in parameters if k.lower() != CURSOR]
    params.append((CURSOR, cursor))
    return f'<{scheme}://{host}{path}?{urlencode(params)}>; rel="next"'


def _matching_page(store: NodeStore, org: str, filters: Filters, predicate: Predicate, after: int, limit: int,
                   floor_of: str | None) -> Page:
    """One page of the v2 footprints `org` may see that `predicate` accepts: visible ones are read in publication
    order (limit + 1, then FILTER_SCAN at a time) until limit + 1 match (so `has_more` is exact) or none are left.
    The token floor of `floor_of` is read with the first round."""
    found: list[tuple[int, str]] = []
    scan = limit + 1  # first round: when the key index already narrowed the listing to matches, one page is enough
    page = store.list_visible(org, filters, after, scan, "v2", floor_of)
    floor = page.token_floor
    while True:
        for seq, document in page.items:
            if predicate(json.loads(document)):
                found.append((seq, document))
                if len(found) > limit:
                    return Page(found[:limit], True, floor)
        if not page.has_more:
            return Page(found, False, floor)
        page = store.list_visible(org, filters, page.items[-1][0], FILTER_SCAN, "v2")


def _holds_nul(value) -> bool:
    """Does a parsed JSON value hold a NUL character in any string (key or value)?"""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def served_footprint(store: NodeStore, org: str, footprint_id: str, version: str,
                     floor_of: str | None = None) -> Served:
    """The footprint `footprint_id` as served to `org` (with the token floor of client `floor_of`:
    NodeStore.visible_document); ApiError BadRequest for an id that is not a UUID."""
    if not _UUID.match(footprint_id):
        raise ApiError("BadRequest", "the footprint id must be a UUID")
    return store.visible_document(org, footprint_id, version, floor_of)


def get_body(served: Served) -> str:
    """The GetFootprint body of a footprint as served, or ApiError.

    v3.0.3 "Action GetFootprint": a footprint that is not found MUST be 404 NotFound (v2: NoSuchFootprint, the code
    WBCSD's conformance case 8 expects). One the caller may not see is not found for that caller: the same status,
    body and database work, so nobody learns which ids other organisations hold (docs/security.md, isolation)."""
    if not served.visible:
        raise ApiError("NotFound", "no footprint with this id")
    if served.document is None:
        raise ApiError("NotImplemented", "this footprint cannot be expressed in PACT v2 (use /3/footprints)")
    return '{"data":' + served.document + "}"


def make_api_blueprint(version: str, store: NodeStore, tokens: TokenService, config, clock, seal: CursorSeal) -> Blueprint:
    blueprint = Blueprint(f"pact_{version}", __name__)
    event_limits = EventLimits(config.events_per_org, config.event_bytes_per_org, config.event_retention)

    def caller() -> Principal:
        return tokens.verify(request.headers.get("Authorization"))

    @blueprint.get("/footprints")
    def list_footprints() -> Response:
        principal = caller()
        parameters = list(request.args.items(multi=True))
        listing = parse_listing(parameters, config, version, seal, principal.org)
        page = list_page(store, principal.org, listing, version)
        response = Response(page_body(page), mimetype="application/json")
        if page.has_more:
            response.headers["Link"] = next_link(request.scheme, request.host, request.path, parameters,
                                                 seal.seal(principal.org, listing.bound, page.items[-1][0]))
        return response

    @blueprint.get("/footprints/<footprint_id>")
    def get_footprint(footprint_id: str) -> Response:
        principal = caller()
        return Response(get_body(served_footprint(store, principal.org, footprint_id, version)),
                        mimetype="application/json")

    @blueprint.post("/events")
    def events() -> Response:
        principal = caller()
        if request.mimetype not in EVENT_CONTENT_TYPES:
            raise ApiError("BadRequest", "events must be sent as application/cloudevents+json (structured mode)")
        try:  # strict: a duplicated key or NaN is refused with its pointer, never silently resolved; depth bounded
            body = parse_json(request.get_data(cache=False), config.max_json_depth)
        except PactValidationError as error:
            raise ApiError("BadRequest", "the body is not accepted JSON: " + "; ".join(map(str, error.issues))) from None
        if _holds_nul(body):  # "\u0000" parses to NUL, which PostgreSQL text columns cannot store
            raise ApiError("BadRequest", "the event must not contain NUL characters (\\u0000)")
        try:
            event = check_event(body, version)
        except PactValidationError as error:
            raise ApiError("BadRequest", "; ".join(str(issue) for issue in error.issues[:10])) from None
        text = json.dumps(body)  # ASCII (non-ASCII escaped): its length is its size in bytes
        try:
            check_quota(store, principal.org, len(text), event_limits, clock())
        except QuotaExceeded as exceeded:  # the spec's only client error for an event it cannot take is 400
            raise ApiError("BadRequest", f"event storage quota reached: {exceeded}") from None
        if event["kind"] == REQUEST_CREATED:
            try:
                receive_request(store, event, principal.org, text, clock())
            except RequestRefused as refused:
                raise ApiError("BadRequest", str(refused)) from None
        else:  # a repeated (source, id) is acknowledged and ignored
            receive_other(store, event, principal.org, text, clock())
        return Response(status=200)

    return blueprint
