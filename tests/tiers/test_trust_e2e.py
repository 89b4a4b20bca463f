"""Signatures that mean authorship and a verify that tells the truth, on a real node over TLS (`pcf serve`).

Our node belongs to "Steel Co" (and, to publish the official v3 examples as its own, to their companies too). A buyer
pulls what it publishes and runs `pcf verify` against the node's JWKS over HTTPS, as a buyer would.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from connectors.pact_client import PactClient
from exchange.pact.signing import SIGNATURE_SCHEMA, SigningKey, bound_jwk, provenance_extension, sign, signature_of
from pcf.cli import main
from tests.support.node import free_port, start_node
from tests.support.pact import PACT_FIXTURES, read_json

OURS = "urn:pact:company:steel-co"
EXAMPLE_COMPANIES = [f"urn:company:example:company{i}" for i in range(1, 5)]
OTHER = "urn:company:example:other-co"


def pcf(*args: str, ok: bool | None = True):
    result = CliRunner().invoke(main, list(args))
    if ok is True:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("steel")
    db = f"sqlite:///{data_dir / 'node.sqlite'}"
    ids = [arg for company in (OURS, *EXAMPLE_COMPANIES) for arg in ("--company-id", company)]
    assert "organisation: Steel Co" in pcf("node", "init", "--db", db, "--org", "Steel Co", *ids).output
    pcf("node", "add-client", "--db", db, "--client-id", "buyer", "--client-secret", "buyer-secret", "--org", "BuyerCo")
    running = start_node(data_dir, db)
    yield running
    running.stop()


def publish(node, tmp_path: Path, document: dict, ok: bool | None = True):
    path = tmp_path / f"{uuid.uuid4()}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return pcf("node", "publish", "--db", node.db_url, str(path), "--share-with", "BuyerCo", ok=ok)


def pulled(node, footprint_id: str) -> dict:
    with PactClient(node.base, "buyer", "buyer-secret", ca_bundle=node.ca) as client:
        return client.get_footprint(footprint_id)


def verify(node, tmp_path: Path, document: dict | str, *extra: str):
    path = tmp_path / f"verify-{uuid.uuid4()}.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return pcf("verify", str(path), "--trusted", f"{node.base}/.well-known/jwks.json", "--ca-bundle", node.ca,
               *extra, ok=None)


def own_footprint(company: str = OURS, **changes) -> dict:
    document = copy.deepcopy(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json"))
    document.update({"id": str(uuid.uuid4()), "companyName": "Steel Co", "companyIds": [company], **changes})
    return document


def test_the_official_examples_published_on_our_node_verify_and_name_the_signer(node, tmp_path):
    host = node.base
    for number in range(1, 5):
        example = read_json(PACT_FIXTURES / "v3" / "examples" / f"example-{number}.json")
        publish(node, tmp_path, example)
        served = pulled(node, example["id"])
        result = verify(node, tmp_path, served)
        assert result.exit_code == 0, (number, result.output)
        assert "✗" not in result.output and "⚠ upstream" not in result.output
        assert f"✓ signature: signed by Steel Co ({host}), key {signature_of(served)['kid']}, at " in result.output
        if number == 2:  # PACT does not require its totals to add up: a warning, as `pcf validate` says
            assert "⚠ consistency" in result.output


def test_one_changed_number_an_unknown_signer_and_a_duplicated_key_each_fail(node, tmp_path):
    document = own_footprint()
    publish(node, tmp_path, document)
    served = pulled(node, document["id"])
    assert verify(node, tmp_path, served).exit_code == 0

    changed = copy.deepcopy(served)
    changed["pcf"]["pcfExcludingBiogenicUptake"] = str(float(changed["pcf"]["pcfExcludingBiogenicUptake"]) + 0.1)
    result = verify(node, tmp_path, changed)
    assert result.exit_code == 1 and "✗ signature: does not verify" in result.output

    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps({"keys": [SigningKey.generate().public_jwk()]}), encoding="utf-8")
    path = tmp_path / "served.json"
    path.write_text(json.dumps(served), encoding="utf-8")
    result = pcf("verify", str(path), "--trusted", str(stranger), ok=None)
    assert result.exit_code == 1 and "✗ signature: unknown signer" in result.output

    text = json.dumps(served)
    duplicated = text[:-1] + ', "companyName": "Somebody Else"}'  # the last one wins in a lenient parser
    result = verify(node, tmp_path, duplicated)
    assert result.exit_code == 1 and "✗ json: /companyName: duplicate key 'companyName'" in result.output


def test_an_unreachable_upstream_is_not_checked_and_fails_unless_allowed(node, tmp_path):
    nowhere = f"https://127.0.0.1:{free_port()}/3/footprints/{uuid.uuid4()}"
    upstream = [(nowhere.rsplit("/", 1)[1], "sha256:" + "0" * 64, nowhere)]
    document = own_footprint(extensions=[provenance_extension(upstream)])
    publish(node, tmp_path, document)
    served = pulled(node, document["id"])
    result = verify(node, tmp_path, served)
    assert result.exit_code == 1
    assert "⚠ upstream" in result.output and "not reachable: not checked" in result.output
    assert "✓ upstream" not in result.output and "✗" not in result.output
    assert verify(node, tmp_path, served, "--allow-unchecked").exit_code == 0


def test_after_a_rotation_old_footprints_verify_and_a_revoked_key_fails_from_its_revocation(node, tmp_path):
    old = own_footprint()
    publish(node, tmp_path, old)
    old_served = pulled(node, old["id"])
    old_kid = signature_of(old_served)["kid"]
    assert "new signing key" in pcf("node", "rotate-key", "--db", node.db_url).output
    new = own_footprint()
    publish(node, tmp_path, new)
    new_served = pulled(node, new["id"])
    new_kid = signature_of(new_served)["kid"]
    assert new_kid != old_kid
    kids = [k["kid"] for k in requests.get(f"{node.base}/.well-known/jwks.json", verify=node.ca, timeout=10).json()["keys"]]
    assert old_kid in kids and new_kid in kids
    assert verify(node, tmp_path, old_served).exit_code == 0  # the old public key is still published
    assert verify(node, tmp_path, new_served).exit_code == 0

    pcf("node", "revoke-key", "--db", node.db_url, "--", new_kid)  # from now: what it signed before still stands
    result = verify(node, tmp_path, new_served)
    assert result.exit_code == 0, result.output
    # it leaked before it signed that footprint: revoked from then on, that signature fails
    pcf("node", "revoke-key", "--db", node.db_url, "--at", signature_of(new_served)["signedAt"], "--", new_kid)
    result = verify(node, tmp_path, new_served)
    assert result.exit_code == 1 and f"✗ signature: key {new_kid} was revoked at" in result.output
    # revoked from just after the old footprint was signed: what it signed before still stands
    signed_at = datetime.fromisoformat(signature_of(old_served)["signedAt"].replace("Z", "+00:00"))
    after = (signed_at + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pcf("node", "revoke-key", "--db", node.db_url, "--at", after, "--", old_kid)  # a kid may begin with "-"
    assert verify(node, tmp_path, old_served).exit_code == 0
    listed = pcf("node", "keys", "--db", node.db_url).output
    assert f"{old_kid}  revoked {after}" in listed and f"{new_kid}  revoked" in listed and "active" in listed
    third = own_footprint()
    publish(node, tmp_path, third)  # signed by the key made after the active one was revoked
    third_served = pulled(node, third["id"])
    assert signature_of(third_served)["kid"] not in (old_kid, new_kid)
    assert verify(node, tmp_path, third_served).exit_code == 0


def test_republishing_a_third_party_footprint_keeps_its_signature_and_verify_names_the_signer(node, tmp_path):
    their_key = SigningKey.generate()
    theirs = own_footprint(OTHER, companyName="Other Co")
    signed = sign(theirs, their_key, datetime.now(timezone.utc))
    publish(node, tmp_path, signed)
    served = pulled(node, signed["id"])
    assert served == signed  # verbatim: their signature, never ours
    our_kids = {k["kid"] for k in requests.get(f"{node.base}/.well-known/jwks.json", verify=node.ca,
                                                timeout=10).json()["keys"]}
    assert signature_of(served)["kid"] == their_key.kid and their_key.kid not in our_kids
    assert len([e for e in served["extensions"] if e["dataSchema"] == SIGNATURE_SCHEMA]) == 1
    their_jwks = tmp_path / "other-co.json"
    their_jwks.write_text(json.dumps({"keys": [bound_jwk(their_key.public_jwk(), "Other Co", (OTHER,),
                                                         "https://other.example", None, None)]}), encoding="utf-8")
    result = verify(node, tmp_path, served, "--trusted", str(their_jwks))
    assert result.exit_code == 0, result.output
    assert f"✓ signature: signed by Other Co (https://other.example), key {their_key.kid}" in result.output

    unsigned = own_footprint(OTHER, companyName="Other Co")
    result = publish(node, tmp_path, unsigned, ok=None)
    assert result.exit_code == 1 and "this node signs only footprints its organisation computed" in result.output
    with PactClient(node.base, "buyer", "buyer-secret", ca_bundle=node.ca) as client:
        assert unsigned["id"] not in {f["id"] for f in client.list_footprints()}


def test_api_and_event_bodies_with_duplicate_keys_or_nan_get_400_with_the_pointer(node):
    token = node.token("buyer", "buyer-secret")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}
    event = {"type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3", "specversion": "1.0",
             "id": str(uuid.uuid4()), "source": "//buyer.example", "time": "2026-01-01T00:00:00Z",
             "data": {"productId": ["urn:pact:product:x"]}}
    text = json.dumps(event)
    for body, where in ((text[:-1] + ', "source": "//other.example"}', "/source: duplicate key"),
                        (text.replace('"data": {', '"data": {"validOn": NaN, '), "/data/validOn: NaN")):
        response = requests.post(f"{node.base}/3/events", data=body, headers=headers, verify=node.ca, timeout=10)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "BadRequest" and where in response.json()["message"]
