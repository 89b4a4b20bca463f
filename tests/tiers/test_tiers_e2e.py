"""Three real nodes on loopback: steel mill -> fastener maker -> machine builder, request to verified chain.

Each node is `pcf serve` in its own process with its own database and self-signed certificate; everything the
operators do goes through the `pcf` command line, as they would.
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

from connectors.pact_client import PactClient
from exchange.node.storage import NodeStore
from pcf.tiers.local_nodes import RunningNode, free_port, start_node, wait_for
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
    return [json.loads(e["body"]) for e in site.store().list_events()
            if e["type"].endswith("Fulfilled.v1")]


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
    bundle = tmp_path / "cas.pem"
    bundle.write_text(Path(mill.ca).read_text() + Path(fastener.ca).read_text())
    verify = ("verify", str(saved), "--trust", f"{fastener.url}/.well-known/jwks.json",
              "--trust", f"{mill.url}/.well-known/jwks.json", "--ca-bundle", str(bundle),
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
