"""`--help` of every command points to the docs, never into the source; every node command takes --data-dir, so
two nodes run on one host, each with its own directory (database, TLS files), as the README shows."""

from __future__ import annotations

import json
import re
from importlib import resources

import click
import pytest
from click.testing import CliRunner

from connectors.pact_client import PactClient
from exchange.node.storage import NodeStore
from lca_models.model_schema import load_model
from pcf.cli import main
from tests.support.node import start_node

SOURCE = re.compile(r"\b[\w/]+\.py\b|\bsee (?:exchange|lca_models|pcf|connectors|webhooks)/|"
                    r"\b(?:exchange|lca_models|pcf|connectors|webhooks)/[\w/]+\b")
NODE_COMMANDS = ("serve", "request", "fulfil", "reject") + tuple(f"node {name}" for name in (
    "init", "add-client", "publish", "share", "requests", "inbox", "received", "add-peer", "add-product",
    "subscribe", "deliver", "admin-password", "rotate-key", "revoke-key", "keys"))


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_help_never_points_into_source():
    runner = CliRunner()
    offenders = {}
    for path, _command in [((), main), *_commands(main)]:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, result.output
        found = SOURCE.findall(result.output)
        if found:
            offenders[" ".join(path)] = found
    assert offenders == {}
    assert "docs/reference.md" in runner.invoke(main, ["--help"]).output
    assert "docs/reference.md" in runner.invoke(main, ["cbam", "qreport", "--help"]).output


@pytest.mark.parametrize("command", NODE_COMMANDS)
def test_every_node_command_takes_a_data_dir(command):
    result = CliRunner().invoke(main, [*command.split(), "--help"])
    assert "--data-dir" in result.output


def test_two_nodes_on_one_host_each_in_its_own_data_dir(tmp_path, engine, monkeypatch):
    monkeypatch.delenv("PCF_DATA_DIR", raising=False)
    monkeypatch.delenv("PCF_NODE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    supplier_dir, buyer_dir = tmp_path / "supplier", tmp_path / "buyer"
    runner = CliRunner()

    def pcf(*args: str) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    for directory in (supplier_dir, buyer_dir):
        assert f"sqlite:///{directory / 'node.sqlite'}" in pcf("node", "init", "--data-dir", str(directory))
    pcf("node", "add-client", "--data-dir", str(supplier_dir), "--client-id", "buyer", "--client-secret",
        "buyer-secret", "--org", "BuyerCo")
    pcf("node", "add-client", "--data-dir", str(buyer_dir), "--client-id", "supplier", "--client-secret",
        "supplier-secret", "--org", "SteelCo")
    product = "urn:pact:product:example-steel:hrc-s235jr"
    pcf("node", "add-product", "--data-dir", str(supplier_dir), product)
    assert not (tmp_path / ".pcf-data").exists()  # nothing went to the default data dir
    supplier = start_node(supplier_dir, NodeStore(f"sqlite:///{supplier_dir / 'node.sqlite'}").url)
    buyer = start_node(buyer_dir, NodeStore(f"sqlite:///{buyer_dir / 'node.sqlite'}").url)
    try:
        assert supplier.ca != buyer.ca  # each node its own TLS files under its data dir
        pcf("node", "add-peer", "--data-dir", str(supplier_dir), "--url", buyer.base, "--client-id", "supplier",
            "--client-secret", "supplier-secret", "--ca-bundle", buyer.ca)
        sent = json.loads(pcf("request", "--data-dir", str(buyer_dir), "--node", supplier.base, "--client-id", "buyer",
                              "--client-secret", "buyer-secret", "--product-id", product, "--reply-to", buyer.base,
                              "--ca-bundle", supplier.ca))
        assert sent["requested"] == [product]
        assert product in pcf("node", "requests", "--data-dir", str(supplier_dir))  # the supplier received it
        assert sent["requestEventId"] in pcf("node", "requests", "--sent", "--data-dir", str(buyer_dir))
        assert pcf("node", "requests", "--data-dir", str(buyer_dir)).strip() == ""  # the buyer received none
        [received] = NodeStore(f"sqlite:///{supplier_dir / 'node.sqlite'}").list_events()
        with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as model:
            load_model(model)
            answered = pcf("fulfil", str(received["pk"]), "--model", str(model), "--data-dir", str(supplier_dir))
        assert f"fulfilled request {received['pk']}" in answered
        with PactClient(supplier.base, "buyer", "buyer-secret", ca_bundle=supplier.ca) as client:
            assert [f["productIds"] for f in client.list_footprints()] == [[product]]
    finally:
        supplier.stop()
        buyer.stop()
