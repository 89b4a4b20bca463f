"""The fast path (exchange/node/fast_path.py) answers exactly as Flask's handlers do: same status, headers, bytes.

Two apps over one store, one with the fast path and one without, get the same requests: successes (which the fast
path answers) and failures (which it hands to Flask) must not differ in any byte but the Date header.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from exchange.node.app import NodeConfig, create_app
from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from tests.support.node import add_clients, with_id
from tests.support.pact import PACT_FIXTURES, read_json

BASE = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_fast_path_and_flask_give_the_same_answers(store):
    add_clients(store, {"a": ("a-secret", "OrgA"), "b": ("b-secret", "OrgB")})
    mine = [with_id(BASE, 10 + i, product_ids=(f"urn:pact:product:p{i % 2}",)) for i in range(5)]
    publish_footprints(store, mine, share_with=("OrgB",))
    publish_footprints(store, [with_id(BASE, 99)], share_with=("OrgA",))
    publish_footprints(store, [dataclasses.replace(with_id(BASE, 98), product_ids=("urn:pact:product:pub",))],
                       public=True)
    fast_app = create_app(NodeConfig(store.url), store=store, clock=lambda: NOW)
    fast = fast_app.test_client()
    flask = create_app(NodeConfig(store.url, fast_path=False), store=store, clock=lambda: NOW).test_client()
    token = fast.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("b", "b-secret")).json
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    first = fast.get("/3/footprints?limit=2", headers=bearer)
    next_url = first.headers["Link"].split(">")[0].removeprefix("<")
    paths = ["/3/footprints", "/3/footprints?limit=2", next_url, "/2/footprints?limit=3",
             "/3/footprints?productId=URN:PACT:PRODUCT:P1&limit=1&x-acme=%C3%A9", f"/3/footprints/{mine[0].id}",
             f"/2/footprints/{mine[1].id.upper()}", f"/3/footprints/{with_id(BASE, 99).id}",  # hidden: 404
             "/3/footprints/not-a-uuid", "/3/footprints?limit=0", "/3/footprints?cursor=x", "/3/footprints/",
             "/3/footprints?limit=%FF", "/3/footprints?limit=%C2%B2",
             "/2/footprints?$filter=productIds/any(p:(p eq 'urn:pact:product:p0'))"]
    statuses = {}
    for path in paths:
        for headers in (bearer, {"Authorization": "Bearer nope"}, {}):
            one, other = fast.get(path, headers=headers), flask.get(path, headers=headers)
            assert (one.status_code, one.data) == (other.status_code, other.data), path
            assert sorted(one.headers.items()) == sorted(other.headers.items()), path
            if headers is bearer:
                statuses[path] = one.status_code
    assert [path for path, status in statuses.items() if status == 200] == paths[:6] + paths[-1:]
    assert statuses[paths[6]] == 400  # example 3 has no v2 form: NotImplemented, a 400 in v2
    assert first.headers["Cache-Control"] == "no-store"  # the app's after-request header, on the fast path too


    def not_here():
        raise AssertionError("Flask's handler ran: the fast path did not answer")

    for endpoint in ("pact_v3.list_footprints", "pact_v3.get_footprint", "pact_v2.list_footprints"):
        fast_app.view_functions[endpoint] = not_here
    assert fast.get("/3/footprints?limit=2", headers=bearer).data == first.data
    assert fast.get(f"/3/footprints/{mine[0].id}", headers=bearer).status_code == 200
    assert fast.get("/2/footprints", headers=bearer).status_code == 200


def test_a_revoked_or_removed_client_is_refused_on_the_fast_path_as_by_flask(store):
    """The fast path reads the token floor in the page's own statement: a token revoked, or of a removed client,
    must still get Flask's 401 on every route it answers, and a fresh token its 200."""
    add_clients(store, {"b": ("b-secret", "OrgB"), "c": ("c-secret", "OrgC")})
    publish_footprints(store, [with_id(BASE, 10), with_id(BASE, 11)], share_with=("OrgB", "OrgC"))
    now = [NOW]
    fast = create_app(NodeConfig(store.url), store=store, clock=lambda: now[0]).test_client()
    flask = create_app(NodeConfig(store.url, fast_path=False), store=store, clock=lambda: now[0]).test_client()

    def bearer(client_id: str) -> dict[str, str]:
        token = fast.post("/auth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, f"{client_id}-secret")).json["access_token"]
        return {"Authorization": f"Bearer {token}"}

    paths = ["/3/footprints", "/3/footprints?limit=1", "/2/footprints?limit=1", "/3/footprints?productId=nothing",
             f"/3/footprints/{with_id(BASE, 10).id}", "/2/footprints?$filter=productIds/any(p:(p eq 'nothing'))"]
    old_b, old_c = bearer("b"), bearer("c")
    assert [fast.get(path, headers=old_b).status_code for path in paths] == [200] * len(paths)
    now[0] = NOW + timedelta(seconds=1)
    assert store.revoke_tokens("b", now[0])
    assert store.remove_client("c")
    for path in paths:
        for headers in (old_b, old_c):
            one, other = fast.get(path, headers=headers), flask.get(path, headers=headers)
            assert one.status_code == (400 if path.startswith("/2/") else 401), path  # v2's code for a bad token
            assert (one.status_code, one.data) == (other.status_code, other.data), path
    now[0] = NOW + timedelta(seconds=2)
    fresh = bearer("b")
    assert [fast.get(path, headers=fresh).status_code for path in paths] == [200] * len(paths)
