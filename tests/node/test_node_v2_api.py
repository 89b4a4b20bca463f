"""The v2 API of a real node (`pcf serve` over TLS): `$filter` and pagination links as WBCSD's client reads them."""

from __future__ import annotations

import re

import pytest
import requests

from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from tests.support.node import new_node_db, start_node, with_id
from tests.support.pact import PACT_FIXTURES, assert_response_valid, read_json

STEEL = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint  # created 2025-04-30
PAINT = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "list-footprints-response.json")["data"][0]).footprint


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("v2node")
    store, _ = new_node_db(data_dir, {"buyer": ("buyer-secret", "BuyerCo")})
    copies = [with_id(STEEL, 300 + i) for i in range(5)]  # 7 v2 footprints: pagination with a filter
    publish_footprints(store, [STEEL, PAINT, *copies], share_with=("BuyerCo",))
    running = start_node(data_dir, store.url)
    running.headers = {"Authorization": f"Bearer {running.token('buyer', 'buyer-secret')}"}
    running.copies = [c.id for c in copies]
    yield running
    running.stop()


def listing(node, query: str) -> requests.Response:
    return requests.get(f"{node.base}/2/footprints?{query}", headers=node.headers, verify=node.ca, timeout=10)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert_response_valid(response.json(), "v2", "/2/footprints")
    return [item["id"] for item in response.json()["data"]]


def test_filter_created_ge_as_wbcsd_conformance_case_20_sends_it(node):
    first = requests.get(f"{node.base}/2/footprints", headers=node.headers, verify=node.ca, timeout=10).json()["data"][0]
    response = requests.get(f"{node.base}/2/footprints", params={"$filter": f"created ge '{first['created']}'"},
                            headers=node.headers, verify=node.ca, timeout=10)
    assert set(ids(response)) == {STEEL.id, *node.copies}  # PAINT was created earlier
    assert all(item["created"] >= first["created"] for item in response.json()["data"])  # the case's own check


def test_filter_pages_carry_the_filter_and_hold_only_matches(node):
    url, seen = f"{node.base}/2/footprints?limit=2&$filter=productIds/any(p:p eq 'urn:gtin:4712345060507')", []
    while url:
        response = requests.get(url, headers=node.headers, verify=node.ca, timeout=10)
        page = ids(response)
        assert 0 < len(page) <= 2
        seen += page
        url = response.links.get("next", {}).get("url")
    assert sorted(seen) == sorted([STEEL.id, *node.copies])


@pytest.mark.parametrize("statement, code", [
    ("created ge '2020-01-01T00:00:00Z' or productCategoryCpc eq '1234'", "NotImplemented"),
    ("productNameCompany eq 'x'", "NotImplemented"),
    ("created ge", "BadRequest"),
])
def test_filters_beyond_the_subset_get_the_specs_error(node, statement, code):
    response = requests.get(f"{node.base}/2/footprints", params={"$filter": statement}, headers=node.headers,
                            verify=node.ca, timeout=10)
    assert response.status_code == 400 and response.json()["code"] == code  # v2 error table: NotImplemented is 400


def test_the_next_link_is_absolute_and_parses_as_wbcsds_client_parses_it(node):
    # svc/utils/fetchFootprints.ts: split on ", ", match /<(.*)>;\s*rel="(.*)"/, then strip the base URL
    response = listing(node, "limit=1")
    links = dict(reversed(re.match(r'<(.*)>;\s*rel="(.*)"', part).groups()) for part in response.headers["Link"].split(", "))
    endpoint = links["next"].replace(node.base, "")
    assert endpoint.startswith("/2/footprints?")
    assert len(ids(requests.get(node.base + endpoint, headers=node.headers, verify=node.ca, timeout=10))) == 1


def test_a_filter_read_through_the_key_index_matches_as_the_predicate_says(node):
    """`$filter` key clauses narrow the listing to an index range; the predicate still decides, case rules included."""
    steel = f"productIds/any(p:p eq '{STEEL.product_ids[0].upper()}')"  # ids compare case-insensitively
    assert sorted(ids(listing(node, f"$filter={steel}"))) == sorted([STEEL.id, *node.copies])
    assert sorted(ids(listing(node, f"$filter={steel} and pcf/geographyCountry eq 'US'"))) == sorted([STEEL.id, *node.copies])
    assert ids(listing(node, f"$filter={steel} and pcf/geographyCountry eq 'us'")) == []  # OData eq is case-sensitive
    assert ids(listing(node, f"$filter={steel} and companyIds/any(c:c eq 'urn:nobody')")) == []
