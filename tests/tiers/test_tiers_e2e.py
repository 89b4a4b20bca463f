"""Three real nodes on loopback: steel mill -> fastener maker -> machine builder, request to verified chain.

Each node is `pcf serve` in its own process with its own database and self-signed certificate; everything the
operators do goes through the `pcf` command line, as they would. A fourth host, `EventReceiver`, checks every event
our nodes and commands send it against the official OpenAPI event schemas (the three nodes agreeing with each
other proves nothing about the names and shapes other vendors expect).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest
import requests

from connectors.pact_client import PactClient
from exchange.node.events import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, event_type
from exchange.node.storage import NodeStore
from pcf.tiers.local_nodes import RunningNode, free_port, start_node, wait_for
from tests.support.event_receiver import EventReceiver
from tests.support.pact import PACT_FIXTURES, read_json
from webhooks.outbox import Outbox

HRC = "urn:pact:product:example-steel:hrc-s235jr"
SCREWS = "urn:pact:product:example-fasteners:hex-m8x40-88-zn"


def pcf(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "pcf.cli", *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PCF_DATA_DIR": str(data_dir)})
    if check and result.returncode != 0:
        raise AssertionError(f"pcf {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Site:
    name: str
    data_dir: Path
    db: str
    port: int
    node: RunningNode | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.data_dir / "tls" / "cert.pem")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return pcf(*args, data_dir=self.data_dir, check=check)

    def start(self) -> None:
        self.node = start_node(self.data_dir, self.db, port=self.port)

    def stop(self, kill: bool = False) -> None:
        if self.node is None:
            return
        if kill:
            self.node.process.send_signal(signal.SIGKILL)
            self.node.process.wait(timeout=10)
            time.sleep(1.5)  # its workers and delivery process notice their parent is gone
        else:
            self.node.stop()
        self.node = None

    def store(self) -> NodeStore:
        return NodeStore(self.db)


def fulfilled_events(site: Site) -> list[dict]:
    return [json.loads(e["body"]) for e in site.store().list_events(REQUEST_FULFILLED)]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    sites = {}
    for name in ("mill", "fastener", "builder"):
        data_dir = tmp_path_factory.mktemp(name)
        sites[name] = Site(name, data_dir, f"sqlite:///{data_dir / 'node.sqlite'}", free_port())
    mill, fastener, builder = sites["mill"], sites["fastener"], sites["builder"]
    for site in sites.values():
        site.run("node", "init", "--db", site.db)
    # who may call whom: each node has a client for each peer that sends it events or pulls from it
    mill.run("node", "add-client", "--db", mill.db, "--client-id", "fastener", "--client-secret", "f-at-mill", "--org", "FastenerCo")
    mill.run("node", "add-client", "--db", mill.db, "--client-id", "builder", "--client-secret", "b-at-mill", "--org", "BuilderCo")
    fastener.run("node", "add-client", "--db", fastener.db, "--client-id", "builder", "--client-secret", "b-at-fastener", "--org", "BuilderCo")
    fastener.run("node", "add-client", "--db", fastener.db, "--client-id", "mill", "--client-secret", "m-at-fastener", "--org", "MillCo")
    builder.run("node", "add-client", "--db", builder.db, "--client-id", "fastener", "--client-secret", "f-at-builder", "--org", "FastenerCo")
    mill.run("node", "add-product", "--db", mill.db, HRC)
    fastener.run("node", "add-product", "--db", fastener.db, SCREWS)
    for site in sites.values():
        site.start()
    # peers (needs the certificates the servers just made)
    mill.run("node", "add-peer", "--db", mill.db, "--url", fastener.url, "--client-id", "mill", "--client-secret", "m-at-fastener", "--ca-bundle", fastener.ca)
    fastener.run("node", "add-peer", "--db", fastener.db, "--url", mill.url, "--client-id", "fastener", "--client-secret", "f-at-mill", "--ca-bundle", mill.ca)
    fastener.run("node", "add-peer", "--db", fastener.db, "--url", builder.url, "--client-id", "fastener", "--client-secret", "f-at-builder", "--ca-bundle", builder.ca)
    builder.run("node", "add-peer", "--db", builder.db, "--url", fastener.url, "--client-id", "builder", "--client-secret", "b-at-fastener", "--ca-bundle", fastener.ca)
    yield sites
    for site in sites.values():
        site.stop()


def _request_pk(site: Site, product: str) -> int:
    listing = site.run("node", "requests", "--db", site.db).stdout
    line = wait_for(lambda: next((l for l in site.run("node", "requests", "--db", site.db).stdout.splitlines()
                                  if product in l and "received" in l), None), what=f"request for {product}")
    assert listing is not None
    return int(line.split()[0])


def test_request_compute_fulfil_pull_and_verify_across_three_tiers(chain, tmp_path):
    mill, fastener, builder = chain["mill"], chain["fastener"], chain["builder"]
    # 1. the machine builder asks the fastener maker for the screws' footprint
    builder.run("request", "--node", fastener.url, "--client-id", "builder", "--client-secret", "b-at-fastener",
                "--product-id", SCREWS, "--reply-to", builder.url, "--ca-bundle", fastener.ca, "--comment", "Q3 RFQ")
    screws_request = _request_pk(fastener, SCREWS)
    # 2. the fastener maker asks the mill for the coil's footprint; the mill computes and answers
    fastener.run("request", "--node", mill.url, "--client-id", "fastener", "--client-secret", "f-at-mill",
                 "--product-id", HRC, "--reply-to", fastener.url, "--ca-bundle", mill.ca)
    steel_request = _request_pk(mill, HRC)
    steel_model = resources.files("lca_models").joinpath("examples", "steel_mill.yaml")
    with resources.as_file(steel_model) as path:
        out = mill.run("fulfil", str(steel_request), "--db", mill.db, "--model", str(path)).stdout
    assert "fulfilled request" in out
    [steel_answer] = wait_for(lambda: fulfilled_events(fastener), what="the mill's answer at the fastener maker")
    [steel] = steel_answer["data"]["pfs"]
    mill.run("node", "share", "--db", mill.db, steel["id"], "--with", "BuilderCo")  # so the buyer can check the chain
    # 3. the fastener maker computes its screws with the mill's footprint pulled from the mill's node
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
        model = path.read_text(encoding="utf-8").replace("supplier: steel_mill_hrc.pact.json",
                                                         f"supplier: {mill.url}/3/footprints/{steel['id']}")
    model_path = tmp_path / "fastener_maker.yaml"
    model_path.write_text(model, encoding="utf-8")
    out = fastener.run("fulfil", str(screws_request), "--db", fastener.db, "--model", str(model_path)).stdout
    assert "Hex head screw" in out
    # 4. the machine builder receives the answer by event and pulls the footprint from the fastener maker
    [screws_answer] = wait_for(lambda: fulfilled_events(builder), what="the answer at the machine builder")
    screws_id = screws_answer["data"]["pfs"][0]["id"]
    with PactClient(fastener.url, "builder", "b-at-fastener", ca_bundle=fastener.ca) as client:
        pulled = client.get_footprint(screws_id)
    assert pulled == screws_answer["data"]["pfs"][0]
    assert float(pulled["pcf"]["pcfExcludingBiogenicUptake"]) > float(steel["pcf"]["pcfExcludingBiogenicUptake"])
    saved = tmp_path / "screws.json"
    saved.write_text(json.dumps(pulled), encoding="utf-8")
    verify = ("verify", str(saved), "--trusted", f"{fastener.url}/.well-known/jwks.json",
              "--trusted", f"{mill.url}/.well-known/jwks.json", "--ca-bundle", mill.ca, "--ca-bundle", fastener.ca,
              "--credentials", f"{mill.url}=builder:b-at-mill")
    result = builder.run(*verify)
    assert "✓ signature" in result.stdout and f"✓ upstream {steel['id']} digest" in result.stdout
    assert "✗" not in result.stdout
    # 5. a tampered copy fails
    tampered = json.loads(saved.read_text())
    tampered["pcf"]["pcfExcludingBiogenicUptake"] = str(round(float(tampered["pcf"]["pcfExcludingBiogenicUptake"]) * 0.9, 6))
    saved.write_text(json.dumps(tampered), encoding="utf-8")
    result = builder.run(*verify, check=False)
    assert result.returncode == 1 and "✗ signature" in result.stdout


def test_answer_sent_while_the_buyer_is_down_arrives_once_after_it_returns(chain):
    fastener, builder = chain["fastener"], chain["builder"]
    before = len(fulfilled_events(builder))
    builder.stop()
    try:
        # the fastener maker already holds a footprint shared with BuilderCo: this request is answered at once,
        # while the buyer's node is down
        builder.run("request", "--node", fastener.url, "--client-id", "builder", "--client-secret", "b-at-fastener",
                    "--product-id", SCREWS, "--reply-to", builder.url, "--ca-bundle", fastener.ca)
        outbox = Outbox(fastener.store().engine)
        wait_for(lambda: any(i["attempts"] >= 1 and i["status"] == "pending" for i in outbox.items()),
                 what="a failed delivery attempt while the buyer is down")
    finally:
        builder.start()
    wait_for(lambda: len(fulfilled_events(builder)) == before + 1, timeout=90, what="delivery after the buyer returned")
    time.sleep(3)
    assert len(fulfilled_events(builder)) == before + 1
    assert all(i["status"] == "delivered" for i in outbox.items())


def test_a_node_killed_mid_delivery_loses_and_duplicates_nothing(chain):
    fastener, builder = chain["fastener"], chain["builder"]
    before = len(fulfilled_events(builder))
    builder.run("request", "--node", fastener.url, "--client-id", "builder", "--client-secret", "b-at-fastener",
                "--product-id", SCREWS, "--reply-to", builder.url, "--ca-bundle", fastener.ca)
    fastener.stop(kill=True)  # SIGKILL right after the answer was queued (and perhaps while it was being sent)
    fastener.start()
    wait_for(lambda: len(fulfilled_events(builder)) == before + 1, timeout=120, what="delivery after the restart")
    ids = [e["id"] for e in fulfilled_events(builder)]
    assert len(ids) == len(set(ids))  # a re-sent event has one effect
    outbox = Outbox(fastener.store().engine)
    wait_for(lambda: all(i["status"] == "delivered" for i in outbox.items()), timeout=60, what="outbox drained")


# --- the events our nodes and commands send, checked against the official schemas by a host that is not ours

STEEL_WIRE = "urn:gtin:4712345060507"  # the product of PACT's v3 example-2.json (v2 can express it: it has a CPC)


def _event(kind: str, version: str, source: str, data: dict) -> dict:
    import uuid

    return {"type": event_type(kind, version), "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": "2026-03-01T00:00:00Z", "data": data}


def _post(site: Site, token: str, version: str, event: dict) -> requests.Response:
    return requests.post(f"{site.url}/{version[1]}/events", data=json.dumps(event), verify=site.ca, timeout=10,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"})


def test_the_receiver_refuses_what_the_official_schemas_refuse():
    """The check below would pass against a receiver that accepts anything: show that it does not."""
    with EventReceiver("id", "secret") as receiver:
        token = requests.post(f"{receiver.url}/auth/token", auth=("id", "secret"), timeout=5).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}
        good = _event(REQUEST_REJECTED, "v3", "//a.example", {"requestEventId": "r", "error": {"code": "NotFound", "message": "m"}})
        assert requests.post(f"{receiver.url}/3/events", json=good, headers=headers, timeout=5).status_code == 200
        bad = [
            (f"{receiver.url}/3/events", {**good, "type": event_type(REQUEST_REJECTED, "v2")}),  # a v2 name on /3
            (f"{receiver.url}/2/events", {**good, "data": {"requestEventId": "r", "error": {"code": "NoSuchFootprint",
                                                                                         "message": "m"}},
                                          "type": event_type(REQUEST_REJECTED, "v2")}),  # not in the Error enum
            (f"{receiver.url}/3/events", _event(REQUEST_FULFILLED, "v3", "//a.example", {"requestEventId": "r", "pfs": []})),
            (f"{receiver.url}/3/events", {k: v for k, v in good.items() if k != "time"}),
        ]
        for url, body in bad:
            assert requests.post(url, json=body, headers=headers, timeout=5).status_code == 400, body
        assert [bool(r.errors) for r in receiver.received] == [False, True, True, True, True]


def test_every_event_we_send_validates_against_the_official_openapi(chain):
    """The fastener maker's node answers requests from another vendor's host in v3 and in v2 (fulfilled and
    rejected), holds a request from a host it has no credentials for until the operator adds them, fetches what a
    Published event announces; `pcf request` sends a RequestCreated. Every event that reaches the receiver must
    validate against openapi-3.0.3.yaml or openapi-2.3.3.yaml."""
    fastener, builder = chain["fastener"], chain["builder"]
    example = PACT_FIXTURES / "v3" / "examples"
    fastener.run("node", "add-client", "--db", fastener.db, "--client-id", "other-vendor", "--client-secret", "ov-secret",
                 "--org", "OtherVendorCo")
    # the node signs only its organisation's footprints: here the fastener maker plays "Company 2" of the example too
    fastener.run("node", "init", "--db", fastener.db, "--org", "FastenerCo", "--company-id",
                 "urn:pact:company:cn:uscc:91330400EXAMPLE02", "--company-id", "urn:company:example:company2")
    fastener.run("node", "publish", "--db", fastener.db, str(example / "example-2.json"), "--share-with", "OtherVendorCo")
    announced = read_json(example / "example-4.json")
    with EventReceiver("fastener-at-vendor", "fv-secret", footprints={("v3", announced["id"]): announced}) as vendor:
        token = fastener.node.token("other-vendor", "ov-secret")
        # a request before the fastener maker has credentials for the vendor's host: kept, not answered
        early = _event(REQUEST_CREATED, "v3", vendor.url, {"productId": [STEEL_WIRE]})
        assert _post(fastener, token, "v3", early).status_code == 200
        waiting = fastener.run("node", "requests", "--db", fastener.db).stdout
        assert any(early["source"] in line and "waiting-for-credentials" in line for line in waiting.splitlines())
        time.sleep(2)  # two delivery rounds: nothing may have gone out
        assert vendor.received == []
        added = fastener.run("node", "add-peer", "--db", fastener.db, "--url", vendor.url,
                             "--client-id", "fastener-at-vendor", "--client-secret", "fv-secret").stdout
        assert "fulfilled (answer queued)" in added
        requests_sent = {"early": ("v3", early)}
        for name, version, product in (("v3 fulfilled", "v3", STEEL_WIRE), ("v3 rejected", "v3", "urn:pact:null"),
                                       ("v2 fulfilled", "v2", STEEL_WIRE), ("v2 rejected", "v2", "urn:pact:null")):
            data = {"productId": [product]} if version == "v3" else {"pf": {"productIds": [product]}}
            event = _event(REQUEST_CREATED, version, vendor.url, data)
            assert _post(fastener, token, version, event).status_code == 200
            requests_sent[name] = (version, event)
        published = _event(PUBLISHED, "v3", vendor.url, {"pfIds": [announced["id"]]})
        assert _post(fastener, token, "v3", published).status_code == 200
        # the buyer's own command, pointed at the vendor's host
        out = builder.run("request", "--db", builder.db, "--node", vendor.url, "--client-id", "fastener-at-vendor",
                          "--client-secret", "fv-secret", "--product-id", SCREWS, "--reply-to", builder.url).stdout
        command_request = json.loads(out)["requestEventId"]

        for name, (version, event) in requests_sent.items():
            answer = vendor.answers_to(event["id"])
            assert answer.path == f"/{version[1]}/events", name
            assert answer.errors == [], (name, answer.errors)
            expected = REQUEST_REJECTED if "rejected" in name else REQUEST_FULFILLED
            assert answer.body["type"] == event_type(expected, version), name
        [created] = [r for r in vendor.received if r.body.get("id") == command_request]
        assert created.path == "/3/events" and created.errors == []
        received = wait_for(lambda: next((line for line in fastener.run("node", "received", "--db", fastener.db)
                                          .stdout.splitlines() if "fetched" in line), None),
                            what="the announced footprint fetched from the vendor's host")
        assert announced["id"] in received and vendor.url in received
        assert all(r.errors == [] for r in vendor.received)
