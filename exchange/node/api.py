"""ListFootprints, GetFootprint and Events, for v3 (`/3`) and v2 (`/2`) from the same store.

Filtering (OpenAPI v3.0.3 `/3/footprints`): parameter names are case-insensitive, a repeated criterion is OR,
different criteria are AND, values compare case-insensitively, `x-...` vendor parameters are ignored, anything
else unknown is a BadRequest (a mistyped filter must not silently return everything). A `status` other than Active
or Deprecated matches nothing (an empty list, as WBCSD's conformance case 37 expects). v2 takes the v2.3 `$filter`
subset instead (`v2_filter`). Pagination is keyset:
the `Link: <...>; rel="next"` URL carries the last id seen and the listing's snapshot bound, so it gives the
same page every time and never expires (the spec asks for >= 180 s).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, Response, json, request

from exchange.pact import PactValidationError, parse_json

from .auth import Principal, TokenService
from .errors import ApiError
from .events import REQUEST_CREATED, check_event
from .storage import Filters, NodeStore, Page
from .v2_filter import FilterError, Predicate, parse_filter
from .workflow import RequestRefused, receive_other, receive_request

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CURSOR = re.compile(r"^(\d{1,18})\.(\d{1,18})$")
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


def _query(config, version: str) -> tuple[Filters, Predicate | None, int, int, int | None]:
    """(filters, v2 $filter predicate, limit, after, until) from the query string; ApiError BadRequest for anything
    malformed, NotImplemented for a v2 $filter beyond the spec's subset."""
    lists: dict[str, list[str]] = {}
    single: dict[str, str] = {}
    after, until, limit, predicate = 0, None, config.page_size, None
    for raw_name, value in request.args.items(multi=True):
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
            if not value.isdigit() or int(value) < 1:
                raise ApiError("BadRequest", "limit must be a positive integer")
            limit = min(int(value), config.max_limit)
        elif name == CURSOR:
            match = _CURSOR.match(value)
            if not match:
                raise ApiError("BadRequest", "malformed pagination cursor")
            after, until = int(match.group(1)), int(match.group(2))
        elif version == "v2" and name == V2_FILTER:
            if predicate is not None:
                raise ApiError("BadRequest", "$filter may be given once")
            try:
                predicate = parse_filter(value)
            except FilterError as error:
                raise ApiError(error.code, str(error)) from None
        else:
            raise ApiError("BadRequest", f"unknown query parameter {raw_name!r}")
    times = {TIME_CRITERIA[name]: _parse_time(name, value) for name, value in single.items() if name in TIME_CRITERIA}
    filters = Filters(**{kind: tuple(values) for kind, values in lists.items()}, status=single.get("status"), **times)
    return filters, predicate, limit, after, until


def _matching_page(store: NodeStore, org: str, filters: Filters, predicate: Predicate, after: int,
                   until: int | None, limit: int) -> Page:
    """One page of the v2 footprints `org` may see that `predicate` accepts: visible ones are read in publication
    order, FILTER_SCAN at a time, until limit + 1 match (so `has_more` is exact) or none are left."""
    found: list[tuple[int, str]] = []
    while True:
        page = store.list_visible(org, filters, after, until, FILTER_SCAN, "v2")
        until = page.until
        for seq, document in page.items:
            if predicate(json.loads(document)):
                found.append((seq, document))
                if len(found) > limit:
                    return Page(found[:limit], True, until)
        if not page.has_more:
            return Page(found, False, until)
        after = page.items[-1][0]


def _holds_nul(value) -> bool:
    """Does a parsed JSON value hold a NUL character in any string (key or value)?"""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _next_link(after: int, until: int) -> str:
    """Absolute URL on the request's own host (spec: `host` of the target equals the request's)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != CURSOR]
    params.append((CURSOR, f"{after}.{until}"))
    return f'<{request.scheme}://{request.host}{request.path}?{urlencode(params)}>; rel="next"'


def make_api_blueprint(version: str, store: NodeStore, tokens: TokenService, config, clock) -> Blueprint:
    blueprint = Blueprint(f"pact_{version}", __name__)

    def caller() -> Principal:
        return tokens.verify(request.headers.get("Authorization"))

    @blueprint.get("/footprints")
    def list_footprints() -> Response:
        principal = caller()
        filters, predicate, limit, after, until = _query(config, version)
        if predicate is None:
            page = store.list_visible(principal.org, filters, after, until, limit, version)
        else:
            page = _matching_page(store, principal.org, filters, predicate, after, until, limit)
        body = '{"data":[' + ",".join(document for _, document in page.items) + "]}"
        response = Response(body, mimetype="application/json")
        if page.has_more:
            response.headers["Link"] = _next_link(page.items[-1][0], page.until)
        return response

    @blueprint.get("/footprints/<footprint_id>")
    def get_footprint(footprint_id: str) -> Response:
        principal = caller()
        if not _UUID.match(footprint_id):
            raise ApiError("BadRequest", "the footprint id must be a UUID")
        stored = store.get(footprint_id)
        # v3.0.3 "Action GetFootprint": a footprint that is not found MUST be 404 NotFound (v2: NoSuchFootprint,
        # the code WBCSD's conformance case 8 expects). One the caller may not see is not found for that caller:
        # the same status, body and database work, so nobody learns which ids other organisations hold
        # (docs/security.md, isolation).
        if stored is None or not (stored.public or principal.org in stored.shared_with):
            raise ApiError("NotFound", "no footprint with this id")
        document = stored.v3_json if version == "v3" else stored.v2_json
        if document is None:
            raise ApiError("NotImplemented", "this footprint cannot be expressed in PACT v2 (use /3/footprints)")
        return Response('{"data":' + document + "}", mimetype="application/json")

    @blueprint.post("/events")
    def events() -> Response:
        principal = caller()
        if request.mimetype not in EVENT_CONTENT_TYPES:
            raise ApiError("BadRequest", "events must be sent as application/cloudevents+json (structured mode)")
        try:  # strict: a duplicated key or NaN is refused with its pointer, never silently resolved
            body = parse_json(request.get_data(cache=False))
        except PactValidationError as error:
            raise ApiError("BadRequest", "the body is not accepted JSON: " + "; ".join(map(str, error.issues))) from None
        if _holds_nul(body):  # "\u0000" parses to NUL, which PostgreSQL text columns cannot store
            raise ApiError("BadRequest", "the event must not contain NUL characters (\\u0000)")
        try:
            event = check_event(body, version)
        except PactValidationError as error:
            raise ApiError("BadRequest", "; ".join(str(issue) for issue in error.issues[:10])) from None
        if event["kind"] == REQUEST_CREATED:
            try:
                receive_request(store, event, principal.org, json.dumps(body), clock())
            except RequestRefused as refused:
                raise ApiError("BadRequest", str(refused)) from None
        else:  # a repeated (source, id) is acknowledged and ignored
            receive_other(store, event, principal.org, json.dumps(body), clock())
        return Response(status=200)

    return blueprint
