"""Pagination cursors reveal nothing across organisations (issue 15), on a real `pcf serve` over TLS, both databases.

B's next link is a function of what B can see: byte-identical before and after A publishes privately. A cursor is
B's alone, for that listing alone: replayed by A, used with another filter, or altered, it is refused with the very
answer a malformed cursor gets.
"""

from __future__ import annotations

import pytest
import requests

from exchange.node.cursors import CursorError, CursorSeal, listing_of, new_key
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from exchange.pact import from_v3
from tests.support.hardening import database_url
from tests.support.node import add_clients, start_node, with_id
from tests.support.pact import PACT_FIXTURES, read_json

BASE = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint


def product(number: int):
    """A footprint of its own product: the same product twice would be a new version of the first (issue 15)."""
    return with_id(BASE, number, product_ids=(f"urn:pact:example:product:p{number}",))


def test_a_cursor_opens_only_for_its_organisation_and_listing():
    seal = CursorSeal(new_key())
    listing = listing_of("v3", [("productId", "urn:x"), ("limit", "5"), ("x-acme", "1")])
    cursor = seal.seal("OrgB", listing, 42)
    assert seal.open("OrgB", listing, cursor) == 42
    assert seal.seal("OrgB", listing, 42) == cursor  # deterministic: the same position gives the same link
    assert listing == listing_of("v3", [("PRODUCTID", "urn:x")])  # limit and x- parameters are not the listing
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for org, other_listing, token in (("OrgA", listing, cursor), ("OrgB", listing_of("v2", []), cursor),
                                      ("OrgB", listing_of("v3", [("productId", "urn:y")]), cursor),
                                      ("OrgB", listing, tampered), ("OrgB", listing, "1.9"), ("OrgB", listing, "é"),
                                      ("OrgB", listing, ""), ("OrgB", listing, "A" * 200)):
        with pytest.raises(CursorError, match="^malformed pagination cursor$"):
            seal.open(org, other_listing, token)
    assert CursorSeal(new_key()).seal("OrgB", listing, 42) != cursor  # each node its own key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"cursors-{request.param}")
    url, cleanup = database_url(request.param, data_dir)
    store = NodeStore(url)
    store.init_schema()
    add_clients(store, {"a": ("a-secret", "OrgA"), "b": ("b-secret", "OrgB")})
    publish_footprints(store, [product(1000 + i) for i in range(3)], share_with=("OrgA",))
    publish_footprints(store, [product(2000 + i) for i in range(5)], share_with=("OrgB",))
    publish_footprints(store, [product(3000 + i) for i in range(2)], share_with=("OrgA",))
    running = start_node(data_dir, url)
    running.store = store
    running.a = {"Authorization": f"Bearer {running.token('a', 'a-secret')}"}
    running.b = {"Authorization": f"Bearer {running.token('b', 'b-secret')}"}
    yield running
    running.stop()
    store.dispose()
    cleanup()


def get(node, url: str, headers: dict) -> requests.Response:
    return requests.get(url if url.startswith("https://") else node.base + url, headers=headers, verify=node.ca,
                        timeout=10)


def walk(node, url: str, headers: dict) -> list[tuple[str | None, list[str]]]:
    """Every page from `url`: (its Link header, its ids)."""
    pages = []
    while url:
        response = get(node, url, headers)
        assert response.status_code == 200, response.text
        pages.append((response.headers.get("Link"), [item["id"] for item in response.json()["data"]]))
        url = response.links.get("next", {}).get("url")
    return pages


def test_bs_next_links_do_not_change_when_a_publishes_privately(node):
    before = walk(node, "/3/footprints?limit=2", node.b)
    assert [len(ids) for _, ids in before] == [2, 2, 1] and before[-1][0] is None
    publish_footprints(node.store, [product(4000 + i) for i in range(3)], share_with=("OrgA",))
    assert walk(node, "/3/footprints?limit=2", node.b) == before  # every link and page byte-identical
    v2 = walk(node, "/2/footprints?limit=4", node.b)
    publish_footprints(node.store, [product(5000)], share_with=("OrgA",))
    assert walk(node, "/2/footprints?limit=4", node.b) == v2
    cursor = before[0][0].split("cursor=")[1].split(">")[0]
    assert len(cursor) == 32 and not cursor.isdigit()  # sealed: 8 bytes of position + a 16-byte tag, base64url


def test_a_cursor_replayed_by_another_organisation_or_altered_is_refused_as_malformed(node):
    link = get(node, "/3/footprints?limit=2", node.b).links["next"]["url"]
    cursor = link.split("cursor=")[1]
    malformed = get(node, "/3/footprints?limit=2&cursor=not-a-cursor", node.b)
    assert malformed.status_code == 400 and malformed.json()["code"] == "BadRequest"
    flipped = cursor[:3] + ("B" if cursor[3] != "B" else "C") + cursor[4:]
    for url, headers in ((link, node.a),  # A replays B's link
                         (f"/3/footprints?limit=2&productId=urn:x&cursor={cursor}", node.b),  # another filter
                         (f"/3/footprints?limit=2&cursor={flipped}", node.b),  # altered
                         (link.replace("/3/", "/2/"), node.b)):  # another version
        refused = get(node, url, headers)
        assert (refused.status_code, refused.text) == (malformed.status_code, malformed.text), url
        assert refused.headers.get("Link") is None
    assert get(node, link, node.b).status_code == 200  # B's own link still works
    assert get(node, link.replace("limit=2", "limit=3"), node.b).status_code == 200  # limit is B's to change
