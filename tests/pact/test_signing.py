"""Footprint signatures and provenance (exchange/pact/signing.py): what verifies, what must not, and chains."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.pact import from_v2, from_v3, to_v2, to_v3
from exchange.pact.signing import (
    PROVENANCE_SCHEMA,
    SIGNATURE_SCHEMA,
    FAILED,
    UNCHECKED,
    WARNING,
    Check,
    SigningKey,
    bound_jwk,
    canonical_digest,
    jwks,
    provenance_extension,
    sign,
    verify,
    verify_chain,
)
from tests.support.pact import PACT_FIXTURES, assert_valid_against_openapi, read_json

SIGNED_AT = datetime(2025, 5, 2, 8, 30, tzinfo=timezone.utc)
CHECK_NAMES = ["schema", "consistency", "signature", "provenance"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def by_name(checks: list[Check]) -> dict[str, Check]:
    named = {check.name: check for check in checks}
    assert len(named) == len(checks), f"duplicate check names: {[c.name for c in checks]}"
    return named


def assert_all_ok(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    assert not failed, failed


def signature_extensions(document: dict) -> list[dict]:
    return [e for e in document.get("extensions", []) if e["dataSchema"] == SIGNATURE_SCHEMA]


@pytest.fixture(scope="module")
def example() -> dict:
    return read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def signed(example: dict, key: SigningKey) -> dict:
    return sign(example, key, SIGNED_AT)


# --- a signed footprint verifies


def test_a_signed_example_passes_every_check(signed, key):
    checks = verify(signed, jwks([key]))
    assert [c.name for c in checks] == CHECK_NAMES
    assert_all_ok(checks)
    named = by_name(checks)
    assert named["schema"].detail == "valid PACT v3"
    assert named["provenance"].detail == "no upstream footprints declared"
    assert key.kid in named["signature"].detail


def test_the_signature_extension_has_the_documented_form(signed, example, key):
    assert signed["extensions"][-1]["dataSchema"] == SIGNATURE_SCHEMA
    extension = signed["extensions"][-1]
    assert extension["specVersion"] == "2.0.0"
    data = extension["data"]
    assert data["alg"] == "EdDSA" and data["kid"] == key.kid and data["canonicalization"] == "RFC8785"
    assert data["signedAt"] == "2025-05-02T08:30:00Z"
    header_part, payload_part, signature_part = data["jws"].split(".")
    assert payload_part == ""  # detached
    header = json.loads(b64url_decode(header_part))
    assert header["alg"] == "EdDSA" and header["kid"] == key.kid and header["typ"] == "pact+jcs"
    assert header["b64"] is False and header["crit"] == ["b64"]  # RFC 7797 unencoded payload
    # Everything else is the example, untouched.
    assert {k: v for k, v in signed.items() if k != "extensions"} == example


def test_the_jws_is_a_plain_rfc7797_ed25519_signature_over_the_jcs_bytes(signed, example, key):
    """Checked without PyJWT or our verifier: what another implementation would do with the documented format."""
    header_part, _, signature_part = signed["extensions"][-1]["data"]["jws"].split(".")
    public = key.private_key.public_key()
    signing_input = header_part.encode("ascii") + b"." + rfc8785.dumps(example)
    public.verify(b64url_decode(signature_part), signing_input)  # raises InvalidSignature if not
    with pytest.raises(InvalidSignature):
        public.verify(b64url_decode(signature_part), header_part.encode("ascii") + b"." + json.dumps(example).encode())


def test_signing_does_not_modify_the_input_and_re_signing_replaces_the_signature(example, key):
    before = copy.deepcopy(example)
    first = sign(example, key, SIGNED_AT)
    assert example == before
    other = SigningKey.generate()
    second = sign(first, other, SIGNED_AT + timedelta(days=1))
    assert len(signature_extensions(second)) == 1
    assert signature_extensions(second)[0]["data"]["kid"] == other.kid
    assert_all_ok(verify(second, jwks([other])))
    assert not by_name(verify(second, jwks([key])))["signature"].ok
    assert canonical_digest(first) == canonical_digest(second) == canonical_digest(example)


def test_signed_at_must_say_its_time_zone_and_is_written_in_utc(example, key):
    with pytest.raises(ValueError, match="timezone-aware"):
        sign(example, key, datetime(2025, 5, 2, 8, 30))
    plus_two = timezone(timedelta(hours=2))
    signed = sign(example, key, datetime(2025, 5, 2, 10, 30, 0, 250000, tzinfo=plus_two))
    assert signed["extensions"][-1]["data"]["signedAt"] == "2025-05-02T08:30:00.250000Z"
    assert_all_ok(verify(signed, jwks([key])))


# --- any change breaks it


def _set(path: tuple, value):
    def change(document: dict) -> None:
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
    return change


def _delete(path: tuple):
    def change(document: dict) -> None:
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
    return change


TAMPERING = {
    "pcfExcludingBiogenicUptake": _set(("pcf", "pcfExcludingBiogenicUptake"), "77.1"),
    "same number spelled differently": _set(("pcf", "pcfExcludingBiogenicUptake"), "77"),
    "a DQR": _set(("pcf", "dqi", "technologicalDQR"), "2.4"),
    "primaryDataShare": _set(("pcf", "primaryDataShare"), "13.2"),
    "a date": _set(("created",), "2025-04-30T00:00:01+00:00"),
    "the id": _set(("id",), "8b26f3b8-f5d9-4adf-8a11-02e05d273e59"),
    "a product id": _set(("productIds", 0), "urn:gtin:5268596541024"),
    "a list order": _set(("pcf", "ipccCharacterizationFactors"), ["AR6", "AR5"]),
    "a boolean": _set(("pcf", "packagingEmissionsIncluded"), True),
    "a field removed": _delete(("pcf", "outboundLogisticsGhgEmissions")),
    "a field added": _set(("comment",), "restated"),
    "the signedAt of the extension": _set(("extensions", -1, "data", "signedAt"), "2025-05-03T08:30:00Z"),
}


@pytest.mark.parametrize("change", TAMPERING.values(), ids=TAMPERING.keys())
def test_changing_any_single_value_fails_the_signature(signed, key, change):
    tampered = copy.deepcopy(signed)
    change(tampered)
    checks = by_name(verify(tampered, jwks([key])))
    assert not checks["signature"].ok, checks["signature"]


def test_changing_another_extension_fails_the_signature(example, key):
    upstream = provenance_extension([(str(uuid.uuid4()), "sha256:" + "0" * 64, None)])
    signed = sign({**example, "extensions": [upstream]}, key, SIGNED_AT)
    assert_all_ok(verify(signed, jwks([key])))
    tampered = copy.deepcopy(signed)
    tampered["extensions"][0]["data"]["upstream"][0]["digest"] = "sha256:" + "1" * 64
    assert not by_name(verify(tampered, jwks([key])))["signature"].ok
    dropped = copy.deepcopy(signed)
    del dropped["extensions"][0]
    assert not by_name(verify(dropped, jwks([key])))["signature"].ok


# --- re-serialising does not break it


def _reversed_keys(value):
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_reordered_keys_and_reserialised_json_still_verify(signed, key):
    text = json.dumps(_reversed_keys(signed), indent=3, ensure_ascii=True)
    reparsed = json.loads(text)
    assert list(reparsed) != list(signed)  # really in another order
    assert json.dumps(reparsed) != json.dumps(signed)
    assert_all_ok(verify(reparsed, jwks([key])))


def test_non_ascii_text_escaped_or_not_still_verifies(example, key):
    document = {**example, "companyName": "浙江紧固件有限公司 — Zhejiang Fasteners"}
    signed = sign(document, key, SIGNED_AT)
    for ensure_ascii in (True, False):
        assert_all_ok(verify(json.loads(json.dumps(signed, ensure_ascii=ensure_ascii)), jwks([key])))


def test_v2_json_numbers_respelled_still_verify():
    """v2 carries DQRs as JSON numbers: 1.6 vs 1.60 vs 16e-1 are one number, and RFC 8785 writes it one way."""
    document = read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]
    key = SigningKey.generate()
    signed = sign(document, key, SIGNED_AT)
    assert_valid_against_openapi(signed, "v2")
    text = json.dumps(signed)
    assert '"technologicalDQR": 1.6' in text and '"weight": 10' in text
    respelled = json.loads(text.replace('"technologicalDQR": 1.6', '"technologicalDQR": 16e-1')
                           .replace('"weight": 10', '"weight": 10.0'))
    checks = by_name(verify(respelled, jwks([key])))
    assert checks["schema"].ok and checks["schema"].detail == "valid PACT v2"
    assert checks["signature"].ok, checks["signature"]
    # The spec's own v2 example does not add up (1.63 + -1.5 != 1.85): reported, not hidden.
    assert not checks["consistency"].ok and "/pcf/pCfIncludingBiogenic" in checks["consistency"].detail
    changed = json.loads(text.replace('"technologicalDQR": 1.6', '"technologicalDQR": 1.7'))
    assert not by_name(verify(changed, jwks([key])))["signature"].ok


# --- keys


def test_an_unknown_kid_fails(signed):
    other = SigningKey.generate()
    check = by_name(verify(signed, jwks([other])))["signature"]
    assert not check.ok and "not among the trusted keys" in check.detail


def test_a_different_key_under_the_same_kid_fails(signed, key):
    impostor = SigningKey(Ed25519PrivateKey.generate(), key.kid)
    check = by_name(verify(signed, jwks([impostor])))["signature"]
    assert not check.ok and "does not verify" in check.detail


def test_a_signature_by_an_untrusted_key_relabelled_with_a_trusted_kid_fails(example, key):
    attacker = SigningKey.generate()
    forged = sign({**example, "companyName": "Someone Else"}, attacker, SIGNED_AT)
    forged["extensions"][-1]["data"]["kid"] = key.kid
    assert not by_name(verify(forged, jwks([key])))["signature"].ok


def test_several_jwks_are_searched(signed, key):
    trusted = [jwks([SigningKey.generate()]), jwks([SigningKey.generate(), key])]
    assert_all_ok(verify(signed, trusted))


def test_kid_is_the_rfc7638_thumbprint():
    key = SigningKey.generate()
    jwk = key.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    # RFC 7638 section 3: required members only, lexicographic order, no whitespace, SHA-256, base64url.
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + jwk["x"] + '"}'
    assert jwk["kid"] == key.kid == b64url(hashlib.sha256(members.encode("utf-8")).digest())
    raw = key.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert b64url_decode(jwk["x"]) == raw


def test_kid_matches_the_rfc8037_test_vector():
    """RFC 8037 appendix A.1 (key) and A.3 (its RFC 7638 thumbprint)."""
    private = Ed25519PrivateKey.from_private_bytes(b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key = SigningKey.from_pem(pem)
    assert key.public_jwk()["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_pem_round_trip_keeps_the_key(example):
    key = SigningKey.generate()
    pem = key.to_pem()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = SigningKey.from_pem(pem)
    assert again.kid == key.kid and again.public_jwk() == key.public_jwk()
    assert again.to_pem() == pem
    assert_all_ok(verify(sign(example, again, SIGNED_AT), jwks([key])))


def test_from_pem_refuses_a_key_that_is_not_ed25519():
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="not an Ed25519"):
        SigningKey.from_pem(pem)


def test_jwks_lists_public_keys_only():
    keys = [SigningKey.generate(), SigningKey.generate()]
    published = jwks(keys)
    assert [k["kid"] for k in published["keys"]] == [k.kid for k in keys]
    assert all("d" not in k for k in published["keys"])


# --- malformed input is reported, never raised


@pytest.mark.parametrize("jws", [
    "not a jws",
    "eyJhbGciOiJFZERTQSJ9..c2ln",             # fits the pattern, header lacks everything
    "bm90IGpzb24..c2ln",                       # header is not JSON
    "eyJhbGciOiJFZERTQSJ9.cGF5bG9hZA.c2ln",    # payload not detached
])
def test_a_malformed_jws_fails_without_raising(signed, key, jws):
    broken = copy.deepcopy(signed)
    broken["extensions"][-1]["data"]["jws"] = jws
    check = by_name(verify(broken, jwks([key])))["signature"]
    assert not check.ok and check.detail


def test_a_truncated_signature_fails_without_raising(signed, key):
    broken = copy.deepcopy(signed)
    broken["extensions"][-1]["data"]["jws"] = broken["extensions"][-1]["data"]["jws"][:-10]
    assert not by_name(verify(broken, jwks([key])))["signature"].ok


def test_malformed_signature_data_fails_on_its_schema(signed, key):
    for change in ({"alg": "RS256"}, {"canonicalization": "none"}, {"signedAt": "yesterday"}, {"extra": 1}):
        broken = copy.deepcopy(signed)
        broken["extensions"][-1]["data"].update(change)
        check = by_name(verify(broken, jwks([key])))["signature"]
        assert not check.ok and check.detail.startswith("malformed signature extension"), (change, check)


def test_unsigned_and_doubly_signed_documents_fail(example, signed, key):
    assert by_name(verify(example, jwks([key])))["signature"].detail == "no signature extension"
    doubled = copy.deepcopy(signed)
    doubled["extensions"].append(copy.deepcopy(doubled["extensions"][-1]))
    check = by_name(verify(doubled, jwks([key])))["signature"]
    assert not check.ok and "one expected" in check.detail


@pytest.mark.parametrize("document", [None, "text", [], {}, {"extensions": 5}, {"extensions": [7, None]}],
                         ids=["null", "string", "array", "empty", "extensions-not-list", "extensions-junk"])
def test_junk_gets_four_failed_or_reported_checks_not_an_exception(document, key):
    checks = verify(document, jwks([key]))
    assert [c.name for c in checks] == CHECK_NAMES
    named = by_name(checks)
    assert not named["schema"].ok and not named["signature"].ok


def test_junk_trusted_keys_are_ignored_not_raised(signed, key):
    bad = {"keys": [None, 3, {"kid": key.kid, "kty": "RSA"}, {"kid": key.kid, "kty": "OKP", "crv": "Ed25519", "x": "AA"}]}
    check = by_name(verify(signed, [bad, {"nokeys": 1}, "junk"]))["signature"]
    assert not check.ok
    assert_all_ok(verify(signed, [bad, jwks([key])]))


# --- the other checks


def test_inconsistent_totals_fail_consistency_but_not_the_signature(example, key):
    document = copy.deepcopy(example)
    document["pcf"]["pcfIncludingBiogenicUptake"] = "76.0"
    checks = by_name(verify(sign(document, key, SIGNED_AT), jwks([key])))
    assert checks["schema"].ok and checks["signature"].ok
    assert checks["consistency"].status == WARNING and "/pcf/pcfIncludingBiogenicUptake" in checks["consistency"].detail


def test_invalid_pact_fails_schema_with_the_pointer(example, key):
    document = copy.deepcopy(example)
    document["pcf"]["declaredUnitAmount"] = 1  # a JSON number where a decimal string is due
    checks = by_name(verify(sign(document, key, SIGNED_AT), jwks([key])))
    assert not checks["schema"].ok and "/pcf/declaredUnitAmount" in checks["schema"].detail
    assert not checks["consistency"].ok and checks["signature"].ok


def test_provenance_is_reported_and_a_malformed_one_fails(example, key):
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    good = provenance_extension([(ids[0], "sha256:" + "a" * 64, "https://node.example.com/3/footprints/" + ids[0]),
                                 (ids[1], "sha256:" + "b" * 64, None)])
    assert good["specVersion"] == "2.0.0" and good["dataSchema"] == PROVENANCE_SCHEMA
    assert good["data"]["upstream"][1] == {"id": ids[1], "digest": "sha256:" + "b" * 64}
    check = by_name(verify(sign({**example, "extensions": [good]}, key, SIGNED_AT), jwks([key])))["provenance"]
    assert check.ok and check.detail == "2 upstream footprint(s)"
    bad = copy.deepcopy(good)
    bad["data"]["upstream"][0]["digest"] = "md5:abc"
    check = by_name(verify(sign({**example, "extensions": [bad]}, key, SIGNED_AT), jwks([key])))["provenance"]
    assert not check.ok and "/upstream/0/digest" in check.detail


@pytest.mark.parametrize("entry", [("not-a-uuid", "sha256:" + "a" * 64, None),
                                   (str(uuid.UUID(int=1)), "sha256:" + "A" * 64, None),
                                   (str(uuid.UUID(int=1)), "sha256:" + "a" * 64, "ftp://x")])
def test_provenance_extension_refuses_bad_entries(entry):
    with pytest.raises(ValueError, match="invalid provenance"):
        provenance_extension([entry])


# --- signed documents stay PACT


def test_signed_documents_validate_against_the_official_openapi(signed, example, key):
    assert_valid_against_openapi(signed, "v3")
    with_provenance = sign({**example, "extensions": [provenance_extension(
        [(str(uuid.uuid4()), canonical_digest(example), "https://node.example.com/3/footprints/x")])]}, key, SIGNED_AT)
    assert_valid_against_openapi(with_provenance, "v3")


def test_a_signature_survives_the_marshalling_layer(signed, key):
    loaded = from_v3(signed)
    assert to_v3(loaded.footprint) == signed
    assert_all_ok(verify(to_v3(loaded.footprint), jwks([key])))


def test_a_v2_signature_survives_the_marshalling_layer():
    document = read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]
    key = SigningKey.generate()
    signed = sign(document, key, SIGNED_AT)
    again = to_v2(from_v2(signed).footprint)
    assert again == signed
    assert by_name(verify(again, jwks([key])))["signature"].ok


def test_canonical_digest_ignores_serialisation_signature_status_and_disclosure_only(example, signed):
    digest = canonical_digest(example)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    without_status = {k: v for k, v in example.items() if k != "status"}
    assert digest == "sha256:" + hashlib.sha256(rfc8785.dumps(without_status)).hexdigest()
    assert canonical_digest(_reversed_keys(signed)) == digest
    assert canonical_digest({**example, "status": "Deprecated"}) == digest  # the one change PACT allows
    detail = {"specVersion": "2.0.0", "dataSchema": "urn:carbon-exchange:extension:breakdown:1.0.0",
              "data": {"byGas": {"CO2": "1"}}}
    assert canonical_digest({**example, "extensions": [*example.get("extensions", []), detail]}) == digest
    changed = copy.deepcopy(example)
    changed["pcf"]["dqi"]["temporalDQR"] = "3.2"
    assert canonical_digest(changed) != digest
    other = {"specVersion": "2.0.0", "dataSchema": "urn:example:other", "data": {}}
    assert canonical_digest({**example, "extensions": [*example.get("extensions", []), other]}) != digest


# --- chains: steel -> screws -> machine


def _footprint(example: dict, company: str, product: str, total: str) -> dict:
    document = copy.deepcopy(example)
    document["id"] = str(uuid.uuid4())
    document["companyName"] = company
    document["companyIds"] = [f"urn:company:example:{company.lower().replace(' ', '-')}"]
    document["productNameCompany"] = product
    for name in ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions"):
        document["pcf"][name] = total
    return document


def _with_upstream(document: dict, upstream: list[dict]) -> dict:
    url = "https://node.example.com/3/footprints/"
    return {**document, "extensions": [provenance_extension([(u["id"], canonical_digest(u), url + u["id"])
                                                             for u in upstream])]}


@pytest.fixture(scope="module")
def chain(example):
    keys = {name: SigningKey.generate() for name in ("steel", "screws", "machine")}
    steel = sign(_footprint(example, "Hebei Steel", "Hot-rolled coil", "2.1"), keys["steel"], SIGNED_AT)
    screws = sign(_with_upstream(_footprint(example, "Zhejiang Fasteners", "M8 screw", "3.4"), [steel]),
                  keys["screws"], SIGNED_AT)
    machine = sign(_with_upstream(_footprint(example, "Guangdong Machines", "Press", "980"), [screws]),
                   keys["machine"], SIGNED_AT)
    trusted = [jwks([k]) for k in keys.values()]
    return {"steel": steel, "screws": screws, "machine": machine, "keys": keys, "trusted": trusted}


def _fetcher(documents: list[dict], calls: list | None = None):
    store = {d["id"]: d for d in documents}

    def fetch(footprint_id: str, url: str | None) -> dict | None:
        if calls is not None:
            calls.append((footprint_id, url))
        return copy.deepcopy(store.get(footprint_id))
    return fetch


def test_a_chain_of_three_signed_footprints_verifies(chain):
    calls = []
    fetch = _fetcher([chain["steel"], chain["screws"], chain["machine"]], calls)
    checks = verify_chain(chain["machine"], chain["trusted"], fetch)
    assert_all_ok(checks)
    screws, steel = f"upstream {chain['screws']['id']}", f"upstream {chain['steel']['id']}"
    names = [c.name for c in checks]
    assert names == CHECK_NAMES + [f"{screws} digest"] + [f"{screws}: {n}" for n in CHECK_NAMES] + \
        [f"{screws}: {steel} digest"] + [f"{screws}: {steel}: {n}" for n in CHECK_NAMES]
    assert by_name(checks)[f"{screws}: {steel}: provenance"].detail == "no upstream footprints declared"
    assert calls == [(chain["screws"]["id"], "https://node.example.com/3/footprints/" + chain["screws"]["id"]),
                     (chain["steel"]["id"], "https://node.example.com/3/footprints/" + chain["steel"]["id"])]


def test_a_changed_upstream_breaks_the_chain_even_when_re_signed(chain):
    """The supplier restates the steel figure and re-signs: its signature is fine, but it is not what was used."""
    restated = copy.deepcopy(chain["steel"])
    for name in ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions"):
        restated["pcf"][name] = "1.9"
    restated = sign(restated, chain["keys"]["steel"], SIGNED_AT + timedelta(days=30))
    assert_all_ok(verify(restated, chain["trusted"]))
    checks = verify_chain(chain["machine"], chain["trusted"], _fetcher([restated, chain["screws"]]))
    screws, steel = f"upstream {chain['screws']['id']}", f"upstream {chain['steel']['id']}"
    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == [f"{screws}: {steel} digest"]
    assert "differs from the declared" in failed[0].detail
    assert not any(c.name.startswith(f"{screws}: {steel}: ") for c in checks)  # not the document used: not followed


def test_a_tampered_upstream_fails_the_chain(chain):
    tampered = copy.deepcopy(chain["screws"])
    tampered["pcf"]["dqi"]["temporalDQR"] = "1.0"
    checks = verify_chain(chain["machine"], chain["trusted"], _fetcher([chain["steel"], tampered]))
    assert not by_name(checks)[f"upstream {chain['screws']['id']} digest"].ok


def test_an_upstream_under_another_id_fails_the_digest_check(chain):
    def fetch(footprint_id, url):
        return copy.deepcopy(chain["steel"])  # whatever is asked for
    check = by_name(verify_chain(chain["machine"], chain["trusted"], fetch))[f"upstream {chain['screws']['id']} digest"]
    assert not check.ok and "id" in check.detail


def test_an_unreachable_upstream_is_unchecked_never_ok(chain):
    def failing(footprint_id, url):
        raise ConnectionError("node down")
    checks = verify_chain(chain["machine"], chain["trusted"], _fetcher([chain["screws"]]))  # steel missing
    steel = [c for c in checks if chain["steel"]["id"] in c.name]
    assert len(steel) == 1 and "not reachable: not checked" in steel[0].detail
    assert steel[0].status == UNCHECKED and not steel[0].ok and steel[0].symbol == "⚠"
    assert [c for c in checks if not c.ok] == steel  # everything else was checked and holds
    checks = verify_chain(chain["machine"], chain["trusted"], failing)  # screws' node down: nothing below it
    assert [c.name for c in checks] == CHECK_NAMES + [f"upstream {chain['screws']['id']}"]
    assert checks[-1].status == UNCHECKED and "node down" in checks[-1].detail


def test_an_upstream_answering_a_refused_document_fails(chain):
    def refused(footprint_id, url):
        raise ValueError("/pcf: duplicate key 'pcf'")
    checks = verify_chain(chain["machine"], chain["trusted"], refused)
    assert checks[-1].status == FAILED and "duplicate key" in checks[-1].detail


def test_an_upstream_signed_by_an_untrusted_key_fails_in_the_chain(chain):
    trusted = [jwks([chain["keys"]["machine"]]), jwks([chain["keys"]["screws"]])]
    checks = verify_chain(chain["machine"], trusted, _fetcher([chain["steel"], chain["screws"]]))
    failed = [c.name for c in checks if not c.ok]
    assert failed == [f"upstream {chain['screws']['id']}: upstream {chain['steel']['id']}: signature"]


def test_a_shared_supplier_is_verified_once(chain, example):
    """machine <- screws, bolts; both <- the same steel: steel's checks appear once, then "already verified"."""
    key = chain["keys"]["screws"]
    bolts = sign(_with_upstream(_footprint(example, "Zhejiang Fasteners", "M10 bolt", "3.9"), [chain["steel"]]),
                 key, SIGNED_AT)
    machine = sign(_with_upstream(_footprint(example, "Guangdong Machines", "Lathe", "1200"), [chain["screws"], bolts]),
                   chain["keys"]["machine"], SIGNED_AT)
    calls = []
    checks = verify_chain(machine, chain["trusted"], _fetcher([chain["steel"], chain["screws"], bolts], calls))
    assert_all_ok(checks)
    steel_signatures = [c for c in checks if c.name.endswith(f"upstream {chain['steel']['id']}: signature")]
    assert len(steel_signatures) == 1
    assert any(c.detail == "already verified in this chain" for c in checks)


def test_a_provenance_cycle_terminates(example):
    """A and B declare each other: the digests cannot both hold, so the walk stops with a failure."""
    key = SigningKey.generate()
    a = _footprint(example, "Company A", "A", "1")
    b = _footprint(example, "Company B", "B", "2")
    b = sign(_with_upstream(b, [a]), key, SIGNED_AT)
    a = sign(_with_upstream(a, [b]), key, SIGNED_AT)  # a changed after b pinned it
    checks = verify_chain(a, jwks([key]), _fetcher([a, b]))
    assert len(checks) < 20
    assert [c.name for c in checks if not c.ok] == [f"upstream {b['id']}: upstream {a['id']} digest"]


# --- who signed: keys bound to their organisation, revocation


def _bound(key: SigningKey, company_ids=("urn:uuid:69585GB6-56T9-6958-E526-6FDGZJHU1326",), revoked=None) -> dict:
    return {"keys": [bound_jwk(key.public_jwk(), "Steel Co", tuple(company_ids), "https://steel.example:8443",
                               SIGNED_AT - timedelta(days=30), revoked)]}


def test_the_signature_check_names_the_organisation_host_key_and_time(signed, key):
    check = by_name(verify(signed, _bound(key, signed["companyIds"])))["signature"]
    assert check.ok
    assert check.detail == f"signed by Steel Co (https://steel.example:8443), key {key.kid}, at 2025-05-02T08:30:00Z"


def test_a_key_bound_to_another_organisation_fails_for_a_footprint_it_did_not_author(signed, key):
    check = by_name(verify(signed, _bound(key, ("urn:pact:company:someone-else",))))["signature"]
    assert check.status == FAILED and "not the footprint's companyIds" in check.detail


def test_a_revoked_key_fails_from_its_revocation_time_on(example, key):
    trusted = _bound(key, example["companyIds"], revoked=SIGNED_AT)
    before = sign(example, key, SIGNED_AT - timedelta(seconds=1))
    at_or_after = sign(example, key, SIGNED_AT)
    assert by_name(verify(before, trusted))["signature"].ok
    check = by_name(verify(at_or_after, trusted))["signature"]
    assert check.status == FAILED and "revoked at 2025-05-02T08:30:00Z" in check.detail


def test_signed_at_cannot_be_moved_before_the_revocation_without_breaking_the_signature(example, key):
    trusted = _bound(key, example["companyIds"], revoked=SIGNED_AT)
    backdated = sign(example, key, SIGNED_AT + timedelta(days=1))
    backdated["extensions"][-1]["data"]["signedAt"] = "2025-01-01T00:00:00Z"  # the header still says the truth
    assert by_name(verify(backdated, trusted))["signature"].status == FAILED
