"""`pcf demo` part two: three real nodes on loopback, a request travelling down the chain and a verified answer.

Steel mill -> fastener maker -> machine builder, each a `pcf serve` process with its own database and
certificate. The machine builder asks for the screws' footprint; the fastener maker asks the mill for the
coil's; the mill computes and answers; the fastener maker computes with the mill's footprint pulled from the
mill's node, signs and answers; the machine builder pulls the footprint and verifies the whole chain.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from rich.console import Console

from connectors.pact_client import PactClient
from exchange.node.auth import hash_secret
from exchange.node.events import REQUEST_CREATED, REQUEST_FULFILLED
from exchange.node.keys import node_signing_key
from exchange.node.storage import NodeStore
from exchange.pact.signing import jwks, verify_chain

from ..engine import Engine
from .local_nodes import RunningNode, free_port, start_node, wait_for
from .workflow import compute_and_fulfil, request_event

HRC = "urn:pact:product:example-steel:hrc-s235jr"
SCREWS = "urn:pact:product:example-fasteners:hex-m8x40-88-zn"


def _answers(store: NodeStore) -> list[dict]:
    return [json.loads(e["body"]) for e in store.list_events(REQUEST_FULFILLED)]


def _pending(store: NodeStore, product: str) -> int:
    return wait_for(lambda: next((e["pk"] for e in store.list_events(REQUEST_CREATED, "received")
                                  if product in e["body"]), None))


def run_chain_demo(console: Console, engine: Engine) -> bool:
    """Run the three-node scenario, narrating each step; True when the buyer's verification passed."""
    now = datetime.now(timezone.utc)
    work = Path(tempfile.mkdtemp(prefix="pcf-demo-chain-"))
    names = ("mill", "fastener", "builder")
    ports = {name: free_port() for name in names}
    urls = {name: f"https://127.0.0.1:{ports[name]}" for name in names}
    stores = {}
    for name in names:
        (work / name).mkdir()
        stores[name] = NodeStore(f"sqlite:///{work / name / 'node.sqlite'}")
        stores[name].init_schema()
    clients = {"mill": [("fastener", "FastenerCo"), ("builder", "BuilderCo")],
               "fastener": [("builder", "BuilderCo"), ("mill", "MillCo")], "builder": [("fastener", "FastenerCo")]}
    for name, entries in clients.items():
        for client_id, org in entries:
            stores[name].add_client(client_id, hash_secret(f"{client_id}@{name}"), org, now)
    stores["mill"].add_products([HRC])
    stores["fastener"].add_products([SCREWS])
    nodes: dict[str, RunningNode] = {}
    try:
        with console.status("starting three PACT nodes (steel mill, fastener maker, machine builder)..."):
            for name in names:
                nodes[name] = start_node(work / name, stores[name].url, port=ports[name])
        for name, peer in (("mill", "fastener"), ("fastener", "mill"), ("fastener", "builder"), ("builder", "fastener")):
            stores[name].add_peer(urls[peer], name, f"{name}@{peer}", nodes[peer].ca)
        for name in names:
            console.print(f"  {name:<9} node at {urls[name]}")

        console.print(f"\n[bold]1.[/] machine builder asks the fastener maker for [cyan]{SCREWS}[/]")
        with PactClient(urls["fastener"], "builder", "builder@fastener", ca_bundle=nodes["fastener"].ca) as client:
            client.send_event(request_event([SCREWS], urls["builder"], "RFQ 2026-Q3, 40,000 pcs"))
        screws_request = _pending(stores["fastener"], SCREWS)
        console.print(f"   fastener maker's inbox: request {screws_request}, received")

        console.print(f"[bold]2.[/] fastener maker asks the steel mill for [cyan]{HRC}[/]")
        with PactClient(urls["mill"], "fastener", "fastener@mill", ca_bundle=nodes["mill"].ca) as client:
            client.send_event(request_event([HRC], urls["fastener"], None))
        steel_request = _pending(stores["mill"], HRC)
        with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
            [steel], _ = compute_and_fulfil(stores["mill"], steel_request, path, engine)
        console.print(f"   mill computed {steel.pcf_excluding_biogenic_uptake} kgCO2e/kg on Brightway, signed it and sent it")
        [answer] = wait_for(lambda: _answers(stores["fastener"]))
        steel_id = answer["data"]["pfs"][0]["id"]
        stores["mill"].share(steel_id, ["BuilderCo"])
        console.print(f"   fastener maker received footprint {steel_id}")

        console.print("[bold]3.[/] fastener maker computes its screws, pulling the coil's footprint from the mill's node")
        with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
            model = path.read_text(encoding="utf-8").replace(
                "supplier: steel_mill_hrc.pact.json", f"supplier: {urls['mill']}/3/footprints/{steel_id}")
        model_path = work / "fastener_maker.yaml"
        model_path.write_text(model, encoding="utf-8")
        [screws], _ = compute_and_fulfil(stores["fastener"], screws_request, model_path, engine)
        console.print(f"   {screws.product_name_company}: {screws.pcf_excluding_biogenic_uptake} kgCO2e/kg, "
                      "signed, shared with BuilderCo, answer queued in the outbox")

        console.print("[bold]4.[/] machine builder receives the answer and pulls the footprint")
        [delivered] = wait_for(lambda: _answers(stores["builder"]))
        screws_id = delivered["data"]["pfs"][0]["id"]
        with PactClient(urls["fastener"], "builder", "builder@fastener", ca_bundle=nodes["fastener"].ca) as client:
            pulled = client.get_footprint(screws_id)
        console.print(f"   GET /3/footprints/{screws_id}: {pulled['pcf']['pcfExcludingBiogenicUptake']} kgCO2e "
                      f"per {pulled['pcf']['declaredUnitAmount']} {pulled['pcf']['declaredUnitOfMeasurement']}")

        console.print("[bold]5.[/] machine builder verifies the footprint and its upstream chain")
        trusted = [jwks([node_signing_key(stores["fastener"])]), jwks([node_signing_key(stores["mill"])])]
        with PactClient(urls["mill"], "builder", "builder@mill", ca_bundle=nodes["mill"].ca) as mill_client:
            checks = verify_chain(pulled, trusted, lambda fid, url: mill_client.get_footprint(fid) if url else None)
        for check in checks:
            console.print(f"   {'[green]✓[/]' if check.ok else '[red]' + check.symbol + '[/]'} {check.name}: {check.detail}")
        tampered = json.loads(json.dumps(pulled))
        tampered["pcf"]["pcfExcludingBiogenicUptake"] = "1.0"
        signature = next(c for c in verify_chain(tampered, trusted, lambda fid, url: None) if c.name == "signature")
        console.print(f"   a copy claiming 1.0 kgCO2e/kg: {'[red]✗[/]' if not signature.ok else '✓'} signature: {signature.detail}")
        return all(check.ok for check in checks) and not signature.ok
    finally:
        for node in nodes.values():
            node.stop()
