"""The node end to end: a real `pcf serve` process over TLS on loopback, driven with `requests`.

Every response body is validated against the official OpenAPI (the operation's 200 schema, or `Error`).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import requests

from exchange.node.events import event_type
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from exchange.pact import from_v3
from tests.support.node import add_clients, new_node_db, start_node, with_id
from tests.support.pact import PACT_FIXTURES, assert_response_valid, read_json

UTC = timezone.utc
BULK = 25


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("node")
    store, db_url = new_node_db(data_dir, {"buyer": ("buyer-secret", "BuyerCo"), "other": ("other-secret", "OtherCo")})
    store.add_peer("https://buyer.example", "supplier-at-buyer", "secret")  # where answers to the buyer go
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
    base = dataclasses.replace(base, geography_region_or_subregion=None, geography_country=None,
                               geography_country_subdivision=None, product_classifications=())
    day = lambda y, m, d: datetime(y, m, d, tzinfo=UTC)  # noqa: E731
    named = {
        "A": with_id(base, 1, product_ids=("urn:pact:product:a",), company_ids=("urn:pact:company:s1",),
                        geography_country="DE", product_classifications=("urn:pact:class:x",),
                        validity_period_start=day(2025, 1, 1), validity_period_end=day(2026, 1, 1)),
        "B": with_id(base, 2, product_ids=("urn:pact:product:b",), company_ids=("urn:pact:company:s1",),
                        geography_country_subdivision="FR-75", product_classifications=("urn:pact:class:y",),
                        validity_period_start=day(2026, 1, 1), validity_period_end=day(2027, 1, 1), status="Deprecated"),
        "C": with_id(base, 3, product_ids=("urn:pact:product:c",), company_ids=("urn:pact:company:s2",),
                        geography_region_or_subregion="Western Europe", product_classifications=("urn:pact:class:x",),
                        validity_period_start=day(2025, 6, 1), validity_period_end=day(2027, 6, 1)),
    }
    private_other = with_id(base, 4, product_ids=("urn:pact:product:a",), company_ids=("urn:pact:company:s1",))
    public = with_id(base, 5, product_ids=("urn:pact:product:e",), company_ids=("urn:pact:company:s3",))
    bulk = [with_id(base, 100 + i, product_ids=(f"urn:pact:product:bulk-{i}",), company_ids=("urn:pact:company:bulk",))
            for i in range(BULK)]
    publish_footprints(store, list(named.values()) + bulk, share_with=("BuyerCo",))
    publish_footprints(store, [private_other], share_with=("OtherCo",))
    publish_footprints(store, [public], public=True)
    running = start_node(data_dir, db_url)
    running.named = {k: v.id for k, v in named.items()}
    running.private_other, running.public = private_other.id, public.id
    running.store = store
    yield running
    running.stop()


@pytest.fixture(scope="module")
def buyer(node):
    return {"Authorization": f"Bearer {node.token('buyer', 'buyer-secret')}"}


def get(node, path, headers, **kwargs):
    return requests.get(node.base + path, headers=headers, verify=node.ca, timeout=10, **kwargs)


def ids_of(response) -> set[str]:
    assert response.status_code == 200, response.text
    assert_response_valid(response.json(), "v3", "/3/footprints")
    return {item["id"] for item in response.json()["data"]}


# --- authentication


def test_token_with_basic_auth_and_with_form_body(node):
    for kwargs in ({"auth": ("buyer", "buyer-secret"), "data": {"grant_type": "client_credentials"}},
                   {"data": {"grant_type": "client_credentials", "client_id": "buyer", "client_secret": "buyer-secret"}}):
        response = requests.post(node.base + "/auth/token", verify=node.ca, timeout=10, **kwargs)
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]


@pytest.mark.parametrize("kwargs, status, error", [
    ({"auth": ("buyer", "wrong"), "data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
    ({"auth": ("nobody", "x"), "data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
    ({"auth": ("buyer", "buyer-secret"), "data": {"grant_type": "password"}}, 400, "unsupported_grant_type"),
    ({"auth": ("buyer", "buyer-secret"), "data": {}}, 400, "invalid_request"),
    ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
])
def test_bad_token_requests_follow_rfc6749(node, kwargs, status, error):
    response = requests.post(node.base + "/auth/token", verify=node.ca, timeout=10, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_openid_configuration_points_at_the_token_endpoint(node):
    document = requests.get(node.base + "/.well-known/openid-configuration", verify=node.ca, timeout=10).json()
    assert document["token_endpoint"] == node.base + "/auth/token"


def test_invalid_and_expired_tokens_get_401_with_the_spec_error_body(node):
    for headers in ({"Authorization": "Bearer not-a-token"}, {}):
        response = get(node, "/3/footprints", headers)
        assert response.status_code == 401
        assert_response_valid(response.json(), "v3", "/3/footprints", status=401)
    key = node.store.secret("token-signing-key", lambda: "unused")
    past = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
    expired = jwt.encode({"sub": "buyer", "org": "BuyerCo", "iat": past, "exp": past + 60}, key, algorithm="HS256")
    response = get(node, "/3/footprints", {"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["code"] == "TokenExpired"


def test_plain_http_is_refused(node):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(node.base.replace("https://", "http://") + "/3/footprints", timeout=5)


# --- listing, pagination, filters


def test_list_shows_exactly_what_is_shared_with_the_caller(node, buyer):
    seen = set()
    path = "/3/footprints"
    while True:
        response = get(node, path, buyer)
        seen |= ids_of(response)
        if "Link" not in response.headers:
            break
        path = response.links["next"]["url"].replace(node.base, "")
    assert seen == set(node.named.values()) | {node.public} | {str(uuid.UUID(int=100 + i, version=4)) for i in range(BULK)}
    assert node.private_other not in seen


def test_pagination_to_the_end_with_absolute_links_on_the_request_host(node, buyer):
    pages, url, seen = 0, node.base + "/3/footprints?limit=7", []
    while url:
        response = requests.get(url, headers=buyer, verify=node.ca, timeout=10)
        data = response.json()["data"]
        assert 0 < len(data) <= 7
        seen += [item["id"] for item in data]
        link = response.links.get("next", {}).get("url")
        if link:
            assert link.startswith(node.base + "/3/footprints?")
            again = requests.get(link, headers=buyer, verify=node.ca, timeout=10)  # a link can be called twice
            assert [i["id"] for i in again.json()["data"]] == [i["id"] for i in requests.get(link, headers=buyer, verify=node.ca, timeout=10).json()["data"]]
        url, pages = link, pages + 1
    assert len(seen) == len(set(seen)) == len(node.named) + 1 + BULK
    assert pages == -(-len(seen) // 7)


@pytest.mark.parametrize("query, expected", [
    ("productId=urn:pact:product:a", {"A"}),
    ("productid=URN:PACT:PRODUCT:A&productId=urn:pact:product:b", {"A", "B"}),
    ("companyId=urn:pact:company:s1", {"A", "B"}),
    ("companyId=urn:pact:company:s1&geography=de", {"A"}),
    ("geography=FR", {"B"}),
    ("geography=Western%20Europe&geography=DE", {"A", "C"}),
    ("classification=urn:pact:class:x", {"A", "C"}),
    ("classification=urn:pact:class:x&status=active", {"A", "C"}),
    ("status=Deprecated", {"B"}),
    ("validOn=2025-07-01T00:00:00Z&companyId=urn:pact:company:s1", {"A"}),
    ("validOn=2026-03-01T00:00Z&classification=urn:pact:class:x", {"C"}),
    ("validAfter=2025-12-31T00:00:00Z&companyId=urn:pact:company:s1", {"B"}),
    ("validBefore=2026-06-01T00:00:00Z&companyId=urn:pact:company:s1", {"A"}),
    ("productId=urn:pact:product:nothing", set()),
    ("productId=urn:pact:product:a&x-acme-invoice=42", {"A"}),
])
def test_filters_or_within_and_across(node, buyer, query, expected):
    assert ids_of(get(node, f"/3/footprints?{query}", buyer)) == {node.named[k] for k in expected}


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "validOn=yesterday", "colour=red",
                                  "cursor=1;DROP TABLE footprints", "status=Active&status=Deprecated"])
def test_malformed_queries_are_bad_requests(node, buyer, query):
    response = get(node, f"/3/footprints?{query}", buyer)
    assert response.status_code == 400
    assert_response_valid(response.json(), "v3", "/3/footprints", status=400)


def test_a_status_that_is_neither_active_nor_deprecated_matches_nothing(node, buyer):
    # WBCSD conformance case 37 sends status=BogusStatus<random> and expects 200 with an empty list
    assert ids_of(get(node, "/3/footprints?status=BogusStatusK3j9xQ2a", buyer)) == set()


def test_sql_ish_filter_values_match_nothing_and_change_nothing(node, buyer):
    before = node.store.count()
    response = get(node, "/3/footprints", buyer, params={"productId": "urn:x' OR '1'='1", "companyId": "'; DROP TABLE footprints;--"})
    assert ids_of(response) == set()
    assert node.store.count() == before


# --- get


def test_get_a_shared_footprint(node, buyer):
    response = get(node, f"/3/footprints/{node.named['A']}", buyer)
    assert response.status_code == 200
    assert_response_valid(response.json(), "v3", "/3/footprints/{id}")
    assert response.json()["data"]["id"] == node.named["A"]


def test_get_unknown_and_other_orgs_private_get_the_same_not_found(node, buyer):
    # v3.0.3: not found MUST be 404 NotFound; one the caller may not see is not found for it (nothing to infer)
    missing = get(node, f"/3/footprints/{uuid.uuid4()}", buyer)
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    denied = get(node, f"/3/footprints/{node.private_other}", buyer)  # hidden: indistinguishable from missing
    assert denied.status_code == 404 and denied.json() == missing.json()
    for response in (missing, denied):
        assert_response_valid(response.json(), "v3", "/3/footprints/{id}", status=response.status_code)
    # WBCSD conformance case 8
    zero = get(node, "/3/footprints/00000000-0000-0000-0000-000000000000", buyer)
    assert (zero.status_code, zero.json()) == (404, missing.json())


# --- events


def _event(kind: str, data: dict, version: str = "v3") -> dict:
    return {"type": event_type(kind, version), "specversion": "1.0", "id": str(uuid.uuid4()),
            "source": "//buyer.example/pact", "time": "2026-01-31T17:31:00Z", "data": data}


def post_event(node, headers, body, content_type="application/cloudevents+json; charset=UTF-8", version="v3"):
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{node.base}/{version[1]}/events", data=payload,
                         headers={**headers, "Content-Type": content_type}, verify=node.ca, timeout=10)


def outbox_answer(node, request_id: str) -> tuple[str, dict]:
    from webhooks.outbox import Outbox

    [found] = [(i["target"], json.loads(i["body"])) for i in Outbox(node.store.engine).items()
               if json.loads(i["body"]).get("data", {}).get("requestEventId") == request_id]
    return found


def test_each_event_type_is_accepted(node, buyer):
    footprint = read_json(PACT_FIXTURES / "v3" / "examples" / "example-4.json")
    events = [
        _event("Published", {"pfIds": [node.named["A"]]}),
        _event("RequestCreated", {"productId": ["urn:pact:product:a"], "comment": "please"}),
        _event("RequestFulfilled", {"requestEventId": "req-1", "pfs": [footprint]}),
        _event("RequestRejected", {"requestEventId": "req-2", "error": {"code": "NotFound", "message": "no such product"}}),
    ]
    for event in events:
        response = post_event(node, buyer, event)
        assert response.status_code == 200 and response.content == b"", response.text
    stored = {e["event_id"] for e in node.store.list_events()}
    assert {e["id"] for e in events} <= stored
    # the request matched footprint A, shared with the buyer: answered at once, through the outbox
    target, answer = outbox_answer(node, events[1]["id"])
    assert target == "https://buyer.example/pact/3/events"
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert [pf["id"] for pf in answer["data"]["pfs"]] == [node.named["A"]]


def test_every_well_formed_request_gets_200_and_an_answer_later(node, buyer):
    unknown = _event("RequestCreated", {"productId": ["urn:pact:null"]})  # WBCSD conformance case 14.A
    assert post_event(node, buyer, unknown).status_code == 200
    target, answer = outbox_answer(node, unknown["id"])
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    assert answer["data"]["error"]["code"] == "NotFound"
    stranger = {**_event("RequestCreated", {"productId": ["urn:pact:product:a"]}), "source": "//stranger.example"}
    assert post_event(node, buyer, stranger).status_code == 200  # kept until its node's credentials are added
    [kept] = [e for e in node.store.list_events() if e["event_id"] == stranger["id"]]
    assert kept["status"] == "waiting-for-credentials"
    v2_unknown = _event("RequestCreated", {"pf": {"productIds": ["urn:pact:null"]}}, version="v2")
    assert post_event(node, buyer, v2_unknown, version="v2").status_code == 200
    target, answer = outbox_answer(node, v2_unknown["id"])
    assert target == "https://buyer.example/pact/2/events" and answer["data"]["error"]["code"] == "NotFound"
    assert answer["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1"


def test_a_request_whose_source_no_answer_could_reach_is_refused_at_once(node, buyer):
    cleartext = {**_event("RequestCreated", {"productId": ["urn:pact:product:a"]}), "source": "http://203.0.113.7"}
    response = post_event(node, buyer, cleartext)
    assert response.status_code == 400 and "requires TLS" in response.json()["message"]
    assert cleartext["id"] not in {e["event_id"] for e in node.store.list_events()}


def test_repeated_event_is_acknowledged_once(node, buyer):
    event = _event("Published", {"pfIds": [node.named["B"]]})
    assert post_event(node, buyer, event).status_code == 200
    assert post_event(node, buyer, event).status_code == 200
    assert [e["event_id"] for e in node.store.list_events()].count(event["id"]) == 1


@pytest.mark.parametrize("event", [
    _event("Published", {"pfIds": ["not-a-uuid"]}),
    _event("Published", {"pfIds": ["urn:gtin:4712345060507"]}),  # WBCSD conformance case 40
    _event("Published", {"pfIds": []}),
    _event("RequestCreated", {}),
    _event("RequestFulfilled", {"requestEventId": "r", "pfs": [{"id": "broken"}]}),
    _event("RequestRejected", {"requestEventId": "r", "error": {"code": "Nope", "message": "x"}}),
    {**_event("Published", {"pfIds": [str(uuid.uuid4())]}), "specversion": "0.3"},
    {**_event("Published", {"pfIds": [str(uuid.uuid4())]}), "type": "com.example.Unknown"},
    _event("Published", {"pfIds": [str(uuid.uuid4())]}, version="v2"),  # a v2 name on /3/events
])
def test_malformed_events_are_bad_requests(node, buyer, event):
    before = len(node.store.list_events())
    response = post_event(node, buyer, event)
    assert response.status_code == 400 and response.json()["code"] == "BadRequest"
    assert len(node.store.list_events()) == before


def test_garbage_bodies_get_4xx_and_change_nothing(node, buyer):
    before = (len(node.store.list_events()), node.store.count())
    assert post_event(node, buyer, b"{not json").status_code == 400
    assert post_event(node, buyer, b"\xff\xfe\x00junk").status_code == 400
    assert post_event(node, buyer, _event("Published", {"pfIds": [node.named["A"]]}),
                      content_type="text/plain").status_code == 400
    huge = post_event(node, buyer, b"[" + b"1," * 1_000_000 + b"1]")
    assert huge.status_code == 413 and huge.json()["code"] == "BadRequest"
    assert (len(node.store.list_events()), node.store.count()) == before


# --- v2 and documents


def test_v2_api_serves_the_same_store_with_v2_codes(node, buyer):
    listing = get(node, "/2/footprints", buyer)
    assert listing.status_code == 200
    assert_response_valid(listing.json(), "v2", "/2/footprints")
    for footprint_id in (uuid.uuid4(), node.private_other):  # missing, or hidden: the same answer
        missing = get(node, f"/2/footprints/{footprint_id}", buyer)
        # the code WBCSD's v2 conformance case 8 expects (v2.3.3 spec text; its OpenAPI enum says NotFound)
        assert missing.status_code == 404 and missing.json() == {"code": "NoSuchFootprint", "message": "no footprint with this id"}
    assert get(node, "/2/footprints", {"Authorization": "Bearer junk"}).status_code == 400


def test_node_publishes_its_keys_and_extension_schemas_and_signs_what_it_serves(node, buyer):
    from exchange.pact.signing import verify

    keys = requests.get(node.base + "/.well-known/jwks.json", verify=node.ca, timeout=10).json()
    schema = requests.get(node.base + "/schemas/signature-extension-1.0.0.json", verify=node.ca, timeout=10).json()
    assert schema["type"] == "object" and keys["keys"][0]["crv"] == "Ed25519"
    document = get(node, f"/3/footprints/{node.named['A']}", buyer).json()["data"]
    assert all(check.ok for check in verify(document, keys) if check.name == "signature")


def test_openapi_document_and_docs_page(node):
    document = requests.get(node.base + "/openapi.json", verify=node.ca, timeout=10).json()
    assert "/3/footprints" in document["paths"]
    assert "pcfExcludingBiogenicUptake" in document["components"]["schemas"]["CarbonFootprintV3"]["properties"]
    assert "/3/footprints" in requests.get(node.base + "/docs", verify=node.ca, timeout=10).text


def test_v2_events_endpoint_accepts_a_v2_request_and_refuses_a_bad_one(node, buyer):
    good = _event("RequestCreated", {"pf": {"productIds": ["urn:pact:product:a"]}, "comment": "v2"}, version="v2")
    response = requests.post(node.base + "/2/events", data=json.dumps(good), verify=node.ca, timeout=10,
                             headers={**buyer, "Content-Type": "application/cloudevents+json"})
    assert response.status_code == 200
    bad = _event("RequestCreated", {"comment": "no fragment"}, version="v2")
    response = requests.post(node.base + "/2/events", data=json.dumps(bad), verify=node.ca, timeout=10,
                             headers={**buyer, "Content-Type": "application/cloudevents+json"})
    assert response.status_code == 400 and response.json()["code"] == "BadRequest"


def test_a_node_on_postgresql_serves_the_same_api(tmp_path):
    from tests.support.databases import postgres_schema

    url, admin, schema = postgres_schema()
    store = NodeStore(url)
    store.init_schema()
    try:
        add_clients(store, {"pg": ("pg-secret", "PgCo")})
        footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json")).footprint
        publish_footprints(store, [footprint], share_with=("PgCo",))
        running = start_node(tmp_path, url)
        try:
            headers = {"Authorization": f"Bearer {running.token('pg', 'pg-secret')}"}
            assert ids_of(get(running, "/3/footprints?productId=urn:gtin:5695872369587", headers)) == {footprint.id}
        finally:
            running.stop()
    finally:
        store.dispose()
        from sqlalchemy import text

        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
