"""Disclosure levels and versions on a real node (`pcf serve`, TLS, loopback): each recipient is served only its
level, every served variant verifies with the node's JWKS, and a recomputation is a new version that deprecates the
old one and is announced to webhook subscribers and to the peers it was shared with."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from click.testing import CliRunner

from exchange.node.events import PUBLISHED, REQUEST_CREATED, event_type
from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from exchange.pact.own_extensions import BREAKDOWN, COMPUTED
from exchange.pact.signing import canonical_digest, verify
from lca_models.footprint import ComputedDetails, Contribution, ElectricityResult, Provenance
from pcf.cli import main
from pcf.tiers.local_nodes import wait_for
from tests.support.event_receiver import EventReceiver
from tests.support.node import new_node_db, start_node, with_id
from tests.support.pact import PACT_FIXTURES, assert_response_valid, read_json
from webhooks.signing import new_secret, verify_webhook

LINE = "cathode_coating <- LFP cathode powder (Hunan)"  # a line item naming a supplier: the bill of materials
CLIENTS = {"sum": ("s-secret", "SumCo"), "brk": ("b-secret", "BrkCo"), "full": ("f-secret", "FullCo"),
           "stranger": ("x-secret", "StrangerCo")}


def computed(base, number: int, product: str, total: str = "1.5"):
    """A footprint as the engine makes them: PACT fields plus computed details with a supplier-naming line."""
    d = Decimal
    details = ComputedDetails(
        by_gas={"CO2": d("1.2"), "CH4": d("0.3")}, by_category={"fossil": d(total)},
        contributions=(Contribution(LINE, "input", d("1.2"), d("0.8"), "materials"),
                       Contribution("coating_line", "process", d("0.3"), d("0.2"), "production")),
        electricity=ElectricityResult(d("2"), d("1"), d("0.9"), d(total)), offsets=(),
        provenance=Provenance("sha256:" + "0" * 64, "carbon-exchange test", {}, {}, "AR6"),
        by_stage={"materials": d("1.2"), "production": d("0.3")})
    return with_id(base, number, product_ids=(product,), computed=details, preceding_pf_ids=())


class Hooks:
    """A webhook subscriber on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hooks.received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/erp/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("node")
    store, db_url = new_node_db(data_dir, CLIENTS)
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint  # v2 can express it
    shared = computed(base, 1, "urn:pact:product:cells")
    public = computed(base, 2, "urn:pact:product:public-cells")
    publish_footprints(store, [shared], share_with=("SumCo",))
    for org, level in (("BrkCo", "breakdown"), ("FullCo", "full")):
        result = CliRunner().invoke(main, ["node", "share", "--db", db_url, shared.id, "--with", org,
                                           "--disclose", level])
        assert result.exit_code == 0, result.output
    publish_footprints(store, [public], public=True)
    running = start_node(data_dir, db_url)
    running.store, running.base_footprint, running.shared, running.public = store, base, shared, public
    running.jwks = requests.get(f"{running.base}/.well-known/jwks.json", verify=running.ca, timeout=10).json()
    yield running
    running.stop()


def get(node, client: str, path: str) -> requests.Response:
    token = node.token(client, CLIENTS[client][0])
    return requests.get(node.base + path, headers={"Authorization": f"Bearer {token}"}, verify=node.ca, timeout=10)


def schemas(document: dict) -> set[str]:
    return {e["dataSchema"] for e in document.get("extensions", [])}


def signature_ok(document: dict, jwks: dict) -> bool:
    return next(c for c in verify(document, jwks) if c.name == "signature").ok


@pytest.mark.parametrize("client,detail", [("sum", set()), ("brk", {BREAKDOWN}), ("full", {COMPUTED})])
def test_each_recipient_is_served_its_level_and_it_verifies(node, client, detail):
    response = get(node, client, f"/3/footprints/{node.shared.id}")
    assert response.status_code == 200, response.text
    assert_response_valid(response.json(), "v3", "/3/footprints/{id}")
    document = response.json()["data"]
    assert schemas(document) & {BREAKDOWN, COMPUTED} == detail
    assert (LINE in response.text) == (client == "full")  # line items and supplier names only at full
    assert signature_ok(document, node.jwks)
    [listed] = [d for d in get(node, client, "/3/footprints").json()["data"] if d["id"] == node.shared.id]
    assert listed == document  # the list serves the same variant
    v2 = get(node, client, f"/2/footprints/{node.shared.id}")
    assert v2.status_code == 200 and (LINE in v2.text) == (client == "full")


def test_every_level_has_the_same_figures_and_provenance_digest(node):
    documents = [get(node, c, f"/3/footprints/{node.shared.id}").json()["data"] for c in ("sum", "brk", "full")]
    assert len({json.dumps(d["pcf"], sort_keys=True) for d in documents}) == 1
    assert len({canonical_digest(d) for d in documents}) == 1


def test_public_footprints_and_strangers_get_the_summary(node):
    response = get(node, "stranger", f"/3/footprints/{node.public.id}")
    assert response.status_code == 200 and LINE not in response.text
    assert not schemas(response.json()["data"]) & {BREAKDOWN, COMPUTED}
    assert signature_ok(response.json()["data"], node.jwks)
    assert get(node, "stranger", f"/3/footprints/{node.shared.id}").status_code == 404
    assert LINE not in get(node, "stranger", "/3/footprints").text


def test_a_public_footprint_shared_at_full_is_listed_at_full_to_that_organisation_only(node):
    """A page lists a footprint both public and shared once, with the share's document (footprint_listing carries
    the level): what a get serves that organisation, while everyone else still gets the summary."""
    node.store.share(node.public.id, ["FullCo"], level="full")
    document = get(node, "full", f"/3/footprints/{node.public.id}").json()["data"]
    assert COMPUTED in schemas(document)
    for version in ("3", "2"):
        listed = [d for d in get(node, "full", f"/{version}/footprints").json()["data"] if d["id"] == node.public.id]
        assert len(listed) == 1 and (LINE in json.dumps(listed[0]))
    assert [d for d in get(node, "full", "/3/footprints").json()["data"] if d["id"] == node.public.id] == [document]
    [stranger] = [d for d in get(node, "stranger", "/3/footprints").json()["data"] if d["id"] == node.public.id]
    assert LINE not in json.dumps(stranger) and not schemas(stranger) & {BREAKDOWN, COMPUTED}


def test_sharing_again_changes_what_that_organisation_sees(node):
    other = computed(node.base_footprint, 3, "urn:pact:product:modules")
    publish_footprints(node.store, [other], share_with=("SumCo",), level="full")
    assert LINE in get(node, "sum", f"/3/footprints/{other.id}").text
    node.store.share(other.id, ["SumCo"], level="summary")
    assert LINE not in get(node, "sum", f"/3/footprints/{other.id}").text


def test_a_recomputation_is_a_new_version_announced_to_subscribers_and_peers(node):
    store, hooks = node.store, Hooks()
    first = computed(node.base_footprint, 10, "urn:pact:product:packs")
    publish_footprints(store, [first], share_with=("BrkCo",), level="breakdown")
    before = get(node, "brk", f"/3/footprints/{first.id}").json()["data"]
    try:
        store.add_subscription(hooks.url, secret := new_secret())
        with EventReceiver("node-at-brk", "nb-secret") as brk_node:
            # BrkCo's node is known from a request it sent (its answer goes there too)
            store.add_peer(brk_node.url, "node-at-brk", "nb-secret")
            request = {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": str(uuid.uuid4()),
                       "source": brk_node.url, "time": "2026-03-01T00:00:00Z",
                       "data": {"productId": ["urn:pact:product:packs"]}}
            token = node.token("brk", CLIENTS["brk"][0])
            posted = requests.post(f"{node.base}/3/events", data=json.dumps(request), verify=node.ca, timeout=10,
                                   headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/cloudevents+json"})
            assert posted.status_code == 200
            brk_node.answers_to(request["id"])
            second = dataclasses.replace(computed(node.base_footprint, 11, "urn:pact:product:packs", "1.4"),
                                         pcf_excluding_biogenic_uptake=Decimal("1.4"))
            [new_id] = publish_footprints(store, [second])  # shared with nobody yet: it inherits BrkCo's share

            new = get(node, "brk", f"/3/footprints/{new_id}").json()["data"]
            assert new["precedingPfIds"] == [first.id] and new["status"] == "Active"
            assert BREAKDOWN in schemas(new) and LINE not in json.dumps(new) and signature_ok(new, node.jwks)
            old = get(node, "brk", f"/3/footprints/{first.id}").json()["data"]
            assert old["status"] == "Deprecated" and signature_ok(old, node.jwks)
            assert {**old, "status": "Active", "extensions": None} == {**before, "extensions": None}
            assert canonical_digest(old) == canonical_digest(before)  # chains pinned to it still hold
            assert {d["id"] for d in get(node, "brk", "/3/footprints?status=Active").json()["data"]} >= {new_id}
            assert first.id not in {d["id"] for d in get(node, "brk", "/3/footprints?status=Active").json()["data"]}

            published = wait_for(lambda: next((r for r in brk_node.received if r.body.get("type")
                                               == event_type(PUBLISHED, "v3")), None), what="the Published event")
            assert published.errors == [] and set(published.body["data"]["pfIds"]) == {new_id, first.id}
        wait_for(lambda: any(json.loads(body)["data"].get("deprecatedPfIds") for _, body in hooks.received),
                 what="the webhook notice")
        [(headers, body)] = [(h, b) for h, b in hooks.received if json.loads(b)["data"].get("deprecatedPfIds")]
        notice = verify_webhook(secret, headers, body)
        assert notice["type"] == "footprint.published"
        assert notice["data"] == {"pfIds": [new_id], "deprecatedPfIds": [first.id]}
    finally:
        hooks.close()


def test_another_year_of_the_same_product_is_no_new_version(node):
    first = computed(node.base_footprint, 20, "urn:pact:product:trays")
    later = dataclasses.replace(computed(node.base_footprint, 21, "urn:pact:product:trays"),
                                reference_period_start=first.reference_period_start.replace(year=2030),
                                reference_period_end=first.reference_period_end.replace(year=2031))
    publish_footprints(node.store, [first], share_with=("SumCo",))
    publish_footprints(node.store, [later], share_with=("SumCo",))
    assert node.store.get(first.id).status == "Active"
    assert "precedingPfIds" not in get(node, "sum", f"/3/footprints/{later.id}").json()["data"]
