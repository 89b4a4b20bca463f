"""The supplier portal: invitations, the form and the upload, what is stored, and what is refused (Flask test client).

Storage-level tests run on SQLite and PostgreSQL. The browser test (a real `pcf serve` over TLS, Debian chromium) is
tests/node/test_portal_browser.py. Expected values are worked out from what the test types, not read back from code.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from exchange.node.app import NodeConfig, create_app
from exchange.node.invites import InviteUsed, create_invite, invite_by_token, list_invites, record_submission, token_hash
from exchange.node.storage import NodeStore
from exchange.pact import load_footprint
from pcf.cli import main
from tests.support.databases import upgrade_from_version
from tests.support.node import new_node_db
from tests.support.pact import PACT_FIXTURES, read_json

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
BOLT = "urn:pact:product:boltco:m8x40"
NUT = "urn:pact:product:boltco:m8-nut"
EXAMPLE_PRODUCT = "urn:gtin:4712345060507"  # the product of PACT's v3 example-2.json
V2_PRODUCT = "urn:gtin:5695872369587"  # the product of PACT's v2 get-footprint-response.json
GOOD = {"name-0": "Hex bolt M8x40, zinc plated", "unit-0": "piece", "amount-0": "1000", "mass-0": "28",
        "pcf-0": "95.5", "start-0": "2025-01-01", "end-0": "2025-12-31", "standard-0": "ISO14067", "gwp-0": "AR6",
        "dqr-technological-0": "2", "dqr-geographical-0": "1.5", "dqr-temporal-0": "1", "share-0": "62.5",
        "note-0": "Measured at plant 2; wire rod from our usual mill."}


def _store(tmp_path) -> NodeStore:
    store, _ = new_node_db(tmp_path)
    return store


def _client(store: NodeStore, now: datetime = NOW, **config):
    app = create_app(NodeConfig(store.url, **config), store, clock=lambda: now)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # the node is HTTPS-only; the CSRF cookie is Secure
    return client


def _invite(store: NodeStore, products=(BOLT,), days: int = 14, created: datetime = NOW):
    return create_invite(store, "BoltCo", list(products), timedelta(days=days), created, requester="MachineCo",
                         email="sales@boltco.example", message="Footprints for the 2026 frame contract, please.")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, message in re.findall(r'<p class="error" id="([^"]*)-error">([^<]+)</p>', html):
        found.setdefault(name, []).append(message)
    return found


def _open(client, token: str) -> str:
    response = client.get(f"/portal/{token}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return _csrf(response.get_data(as_text=True))


def test_an_invitation_is_a_sent_request_and_keeps_only_the_hash_of_its_token(store):
    invite, token = _invite(store)
    assert len(token) == 43  # 32 random bytes, URL-safe base64: 256 bits
    with store.engine.connect() as connection:
        dump = json.dumps([list(map(str, row)) for row in connection.execute(text("SELECT * FROM portal_invites"))])
    assert token not in dump and token_hash(token) in dump
    altered = token[:-1] + ("B" if token.endswith("A") else "A")  # one character off (not the same token 1 in 64)
    assert invite_by_token(store, token) == invite and invite_by_token(store, altered) is None
    [request] = store.list_sent_requests()
    assert (request.event_id, request.status, request.target) == (invite.id, "sent", "portal: BoltCo")
    assert request.criteria == {"productId": [BOLT]}
    assert [i.state(NOW) for i in list_invites(store)] == ["open"]
    assert invite.state(NOW + timedelta(days=14)) == "expired"


def test_an_invitation_needs_urns_an_organisation_and_a_future_expiry(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(ValueError, match="is not a URN"):
        create_invite(store, "BoltCo", ["M8 bolt"], timedelta(days=1), NOW)
    with pytest.raises(ValueError, match="organisation"):
        create_invite(store, " ", [BOLT], timedelta(days=1), NOW)
    with pytest.raises(ValueError, match="expire"):
        create_invite(store, "BoltCo", [BOLT], timedelta(0), NOW)
    assert list_invites(store) == [] and store.list_sent_requests() == []


def test_the_page_names_who_asks_for_what(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store, products=(BOLT, NUT))
    page = _client(store).get(f"/portal/{token}").get_data(as_text=True)
    assert "MachineCo asks BoltCo for product carbon footprints" in page
    assert BOLT in page and NUT in page and "2026 frame contract" in page
    assert 'id="name-0"' in page and 'id="name-1"' in page  # one block of fields per product


def test_each_error_is_shown_next_to_its_field_and_what_was_typed_stays(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    client = _client(store)
    typed = {**GOOD, "pcf-0": "95,5", "mass-0": "", "end-0": "2024-12-31", "dqr-temporal-0": "", "share-0": "120"}
    response = client.post(f"/portal/{token}", data={"csrf": _open(client, token), "how": "form", **typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    errors = _errors(page)
    assert errors == {
        "pcf-0": ["a number like 12.5 (a point for decimals, no thousands separators)"],
        "end-0": ["the last day comes before the first day"],
        "mass-0": ["required for a declared unit in piece: the mass of the declared unit in kg"],
        "dqr-temporal-0": ["give all three DQR or none"],
        "share-0": ["must be between 0 and 100"]}
    assert 'id="pcf-0" name="pcf-0" value="95,5"' in page and 'aria-invalid="true" aria-describedby="pcf-0-error"' in page
    assert 'value="Hex bolt M8x40, zinc plated"' in page and "Measured at plant 2" in page
    assert '<option value="piece" selected>' in page
    assert store.list_received() == [] and store.list_sent_requests()[0].status == "sent"  # nothing saved


def test_a_reference_period_must_have_ended_and_units_must_be_pacts(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    client = _client(store)
    csrf = _open(client, token)
    typed = {**GOOD, "end-0": "2026-03-01", "unit-0": "dozen", "gwp-0": ""}  # NOW is 2026-03-01
    errors = _errors(client.post(f"/portal/{token}", data={"csrf": csrf, "how": "form", **typed}).get_data(as_text=True))
    assert errors == {"end-0": ["the reference period must have ended (last day before today)"],
                      "unit-0": ["choose one of the listed values"], "gwp-0": ["required"]}
    errors = _errors(client.post(f"/portal/{token}", data={"csrf": csrf, "how": "form", **GOOD, "start-0": "01/01/2025"})
                     .get_data(as_text=True))
    assert errors == {"start-0": ["a date like 2025-12-31"]}


def test_an_accepted_form_is_kept_supplier_declared_and_closes_the_request(tmp_path):
    store = _store(tmp_path)
    invite, token = _invite(store)
    client = _client(store)
    response = client.post(f"/portal/{token}", data={"csrf": _open(client, token), "how": "form", **GOOD})
    assert response.status_code == 200
    assert "1 footprint was received by MachineCo" in response.get_data(as_text=True)
    [item] = store.list_received()
    assert (item.channel, item.peer, item.org, item.status, item.invite_id) == ("portal", "portal", "BoltCo",
                                                                                 "submitted", invite.id)
    document = json.loads(item.document)
    pcf = document["pcf"]
    # what was typed, in PACT's terms: 95.5 kgCO2e per 1,000 pieces weighing 28 kg
    assert (pcf["pcfExcludingBiogenicUptake"], pcf["declaredUnitAmount"], pcf["declaredUnitOfMeasurement"],
            pcf["productMassPerDeclaredUnit"]) == ("95.5", "1000", "piece", "28")
    assert pcf["referencePeriodStart"] == "2025-01-01T00:00:00Z"
    assert pcf["referencePeriodEnd"] == "2026-01-01T00:00:00Z"  # PACT's end is exclusive: the day after the last
    assert pcf["dqi"] == {"technologicalDQR": "2", "geographicalDQR": "1.5", "temporalDQR": "1"}
    assert pcf["primaryDataShare"] == "62.5" and pcf["crossSectoralStandards"] == ["ISO14067"]
    assert pcf["ipccCharacterizationFactors"] == ["AR6"]
    assert document["productIds"] == [BOLT] and document["companyName"] == "BoltCo"
    assert document["comment"].startswith("Measured at plant 2")
    assert "Supplier-declared, unsigned" in document["comment"] and "fossilCarbonContent = 0" in document["comment"]
    assert "extensions" not in document  # never signed by this node: the figures are the supplier's
    assert load_footprint(document, strict=True).footprint.product_ids == (BOLT,)
    assert store.count() == 0  # received, not published
    [request] = store.list_sent_requests()
    assert request.status == "fulfilled" and request.answer == {"pfIds": [document["id"]], "channel": "portal"}
    [event] = store.list_events()
    assert (event["source"], event["org"]) == ("portal", "BoltCo")
    received = CliRunner().invoke(main, ["node", "received", "--db", store.url])
    assert received.exit_code == 0 and (f"{document['id']}  submitted from BoltCo (supplier-declared through the "
                                        f"portal, invitation {invite.id}, v3)") in received.output
    inbox = CliRunner().invoke(main, ["node", "inbox", "--db", store.url])
    assert inbox.exit_code == 0 and "carbon-exchange.portal.submission" in inbox.output


def test_a_link_is_used_once_and_a_second_submit_gets_a_page_saying_so(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    client = _client(store)
    csrf = _open(client, token)
    assert client.post(f"/portal/{token}", data={"csrf": csrf, "how": "form", **GOOD}).status_code == 200
    again = client.post(f"/portal/{token}", data={"csrf": csrf, "how": "form", **GOOD})
    assert again.status_code == 410 and "This link has been used" in again.get_data(as_text=True)
    assert client.get(f"/portal/{token}").status_code == 410
    assert len(store.list_received()) == 1


def test_two_submissions_at_once_store_one(store):
    invite, _ = _invite(store)
    document = read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")
    record_submission(store, invite, [({**document, "productIds": [BOLT]}, "v3")], "upload", NOW)
    with pytest.raises(InviteUsed):
        record_submission(store, invite, [({**document, "productIds": [BOLT], "id": "0" * 8 + document["id"][8:]},
                                           "v3")], "upload", NOW)
    assert len(store.list_received()) == 1 and len(store.list_events()) == 1


def test_an_expired_link_is_refused(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store, days=14, created=NOW - timedelta(days=20))
    response = _client(store).get(f"/portal/{token}")
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This link has expired" in page and "2026-02-23" in page  # created 20 days ago, valid for 14
    assert 'name="csrf"' not in page


def test_unknown_and_malformed_tokens_get_the_same_page(tmp_path):
    store = _store(tmp_path)
    _invite(store)
    client = _client(store)
    for token in ("A" * 43, "short", "../../etc/passwd", "x" * 300, ""):
        response = client.get(f"/portal/{token}")
        assert response.status_code == 404 and "This link is not valid" in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_saves_nothing(tmp_path):
    store = _store(tmp_path)
    first, token = _invite(store)
    _, other_token = _invite(store)
    client = _client(store)
    other_csrf = _open(client, other_token)  # the cookie is set; this field belongs to the other invitation
    for data in ({"how": "form", **GOOD}, {"csrf": "forged", "how": "form", **GOOD},
                 {"csrf": other_csrf, "how": "form", **GOOD}):
        response = client.post(f"/portal/{token}", data=data)
        assert response.status_code == 400 and "The form has expired" in response.get_data(as_text=True)
    fresh = _client(store)  # a browser without the cookie, sending a field copied from elsewhere
    assert fresh.post(f"/portal/{token}", data={"csrf": _open(client, token), "how": "form", **GOOD}).status_code == 400
    assert store.list_received() == []
    assert invite_by_token(store, token).used is None and first.used is None


def _upload(client, token: str, content: bytes, name: str = "footprint.json"):
    import io

    return client.post(f"/portal/{token}", data={"csrf": _open(client, token), "how": "upload",
                                                 "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_a_pact_file_of_either_version_covering_the_products_is_kept_as_sent(tmp_path):
    store = _store(tmp_path)
    v3 = read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")
    v2 = read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]
    _, token = _invite(store, products=(EXAMPLE_PRODUCT, V2_PRODUCT))
    response = _upload(_client(store), token, json.dumps({"data": [v3, v2]}).encode())
    assert response.status_code == 200, _errors(response.get_data(as_text=True))
    kept = {item.footprint_id: item for item in store.list_received()}
    assert set(kept) == {v3["id"], v2["id"]}
    assert kept[v3["id"]].version == "v3" and kept[v2["id"]].version == "v2"
    assert json.loads(kept[v3["id"]].document) == v3 and json.loads(kept[v2["id"]].document) == v2


def test_an_upload_that_does_not_answer_the_invitation_is_refused_with_pointers(tmp_path):
    store = _store(tmp_path)
    v3 = read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")
    _, token = _invite(store, products=(BOLT,))
    client = _client(store)
    cases = {
        b"{not json": "not JSON",
        b"": "choose a PACT file",
        json.dumps(v3).encode(): f"/: product {EXAMPLE_PRODUCT} was not asked for in this invitation (asked: {BOLT})",
        json.dumps([{**v3, "productIds": [BOLT], "pcf": {**v3["pcf"], "declaredUnitAmount": "-1"}}]).encode():
            "/0/pcf/declaredUnitAmount",
        json.dumps({**v3, "productIds": [BOLT], "status": "Deprecated"}).encode(): "status Deprecated",
    }
    for content, expected in cases.items():
        response = _upload(client, token, content)
        assert response.status_code == 422
        errors = _errors(response.get_data(as_text=True))
        assert any(expected in message for message in errors["file"]), (expected, errors)
    errors = _errors(_upload(client, token, json.dumps(v3).encode()).get_data(as_text=True))
    assert f"no footprint for {BOLT}, which this invitation asks for" in errors["file"]
    assert store.list_received() == []


def test_too_many_requests_get_429_with_retry_after(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    client = _client(store, portal_requests_per_invite=3)
    assert [client.get(f"/portal/{token}").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = client.get(f"/portal/{token}")
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 600
    assert "Too many requests" in limited.get_data(as_text=True)
    later = _client(store, now=NOW + timedelta(minutes=11), portal_requests_per_invite=3)  # the window has passed
    assert later.get(f"/portal/{token}").status_code == 200
    guesser = _client(store, portal_requests_per_address=5)  # one address trying many tokens
    codes = [guesser.get(f"/portal/{'B' * 42}{n}").status_code for n in range(7)]
    assert codes[:4] == [404] * 4 and codes[-1] == 429


def test_an_oversized_upload_is_a_413_page_and_saves_nothing(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    response = _upload(_client(store, portal_max_upload_bytes=10_000), token, b" " * 20_000)
    assert response.status_code == 413 and "The file is too large" in response.get_data(as_text=True)
    assert store.list_received() == []


def test_portal_pages_forbid_framing_sniffing_caching_referrers_and_fetch_nothing_elsewhere(tmp_path):
    store = _store(tmp_path)
    _, token = _invite(store)
    client = _client(store)
    response = client.get(f"/portal/{token}")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    cookie = headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/portal/" in cookie
    page = response.get_data(as_text=True)
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert client.get("/portal/unknown").headers["Referrer-Policy"] == "no-referrer"


def test_pcf_node_invite_prints_a_link_the_portal_opens(tmp_path):
    store = _store(tmp_path)
    result = CliRunner().invoke(main, ["node", "invite", "--db", store.url, "--org", "BoltCo", "--product", BOLT,
                                       "--expires", "48h", "--url", "https://buyer.example:8443/", "--from",
                                       "MachineCo", "--email", "sales@boltco.example"])
    assert result.exit_code == 0, result.output
    [link] = re.findall(r"https://buyer\.example:8443/portal/[A-Za-z0-9_-]{43}", result.output)
    token = link.rsplit("/", 1)[1]
    invite = invite_by_token(store, token)
    assert invite is not None and invite.expires - invite.created == timedelta(hours=48)
    assert _client(store, now=invite.created).get(f"/portal/{token}").status_code == 200
    listed = CliRunner().invoke(main, ["node", "invites", "--db", store.url])
    assert f"{invite.id}  open" in listed.output and token not in listed.output
    refused = CliRunner().invoke(main, ["node", "invite", "--db", store.url, "--org", "BoltCo", "--product", BOLT,
                                        "--url", "http://buyer.example"])
    assert refused.exit_code == 1 and "HTTPS only" in refused.output


def test_the_schema_6_upgrade_adds_the_portal_to_an_older_database(store):
    with store.engine.begin() as connection:  # what a database made before the portal looks like
        for table in ("portal_invites", "portal_hits", "trusted_keys"):
            connection.execute(text(f"DROP TABLE {table}"))
        for column in ("channel", "invite_id"):
            connection.execute(text(f"ALTER TABLE received_footprints DROP COLUMN {column}"))
    upgrade_from_version(store, 3)
    invite, _ = _invite(store)
    record_submission(store, invite, [(_form_document(invite), "v3")], "form", NOW)
    assert store.list_received()[0].channel == "portal"


def _form_document(invite) -> dict:
    from exchange.node.portal_form import read_form

    submission = read_form(GOOD, replace(invite, products=(BOLT,)), NOW)
    assert not submission.errors, submission.errors
    return submission.documents[0][0]


def test_a_declared_pcf_is_the_number_typed_with_every_unit_pact_allows(tmp_path):
    from exchange.node.portal_form import read_form

    invite, _ = _invite(_store(tmp_path))
    for unit, mass, expected_mass in (("kilogram", "", "1000"), ("kilowatt hour", "", "0"), ("liter", "920", "920")):
        submission = read_form({**GOOD, "unit-0": unit, "mass-0": mass}, invite, NOW)
        assert not submission.errors, (unit, submission.errors)
        pcf = submission.documents[0][0]["pcf"]
        assert pcf["productMassPerDeclaredUnit"] == expected_mass and pcf["pcfExcludingBiogenicUptake"] == "95.5"
    assert Decimal(pcf["fossilGhgEmissions"]) == Decimal("95.5")


def test_numbers_are_plain_decimals_and_text_has_no_control_characters(tmp_path):
    from exchange.node.portal_form import read_form

    invite, _ = _invite(_store(tmp_path))
    for typed in ("1e999999", "NaN", "Infinity", "1_000", "0x10", "٣", "1,5"):  # an exponent would write out huge
        errors = read_form({**GOOD, "pcf-0": typed}, invite, NOW).errors
        assert errors == {"pcf-0": ["a number like 12.5 (a point for decimals, no thousands separators)"]}, typed
    assert read_form({**GOOD, "name-0": "M8\x00bolt"}, invite, NOW).errors == {"name-0": ["contains control characters"]}
    assert not read_form({**GOOD, "note-0": "line one\r\nline two"}, invite, NOW).errors


FIELDS = sorted(GOOD) + ["csrf", "how", "mass-1", "name-7", ""]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=60), max_size=12),
       upload=st.one_of(st.none(), st.binary(max_size=300)), keep_csrf=st.booleans())
def test_any_form_or_upload_answers_a_page_never_an_error(tmp_path_factory, data, upload, keep_csrf):
    import io

    store = _store(tmp_path_factory.mktemp("fuzz"))
    _, token = _invite(store, products=(BOLT, NUT))
    client = _client(store)
    form = {**data}
    if keep_csrf:
        form["csrf"] = _open(client, token)
    if upload is not None:
        form.update(how="upload", file=(io.BytesIO(upload), "x.json"))
    response = client.post(f"/portal/{token}", data=form, content_type="multipart/form-data")
    assert response.status_code in (200, 400, 410, 413, 422), response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
