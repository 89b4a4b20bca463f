"""Rate limits, event quota, JSON depth and revocation against a real `pcf serve` over TLS, on SQLite and PostgreSQL.

Everything here comes from loopback, so the per-address limits see one address for the attacker and the real
client alike: the node's limits are set (`pcf node limits --set`) so the per-client limit stops the flood first,
and the last test shows the per-address limit on its own.
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import text

from exchange.node.app import NodeConfig
from exchange.node.dashboard import set_admin_password
from exchange.node.events import PUBLISHED, event_type
from exchange.node.limits import set_limit
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from exchange.pact import from_v3
from pcf.cli import main
from tests.support.databases import postgres_schema
from tests.support.node import add_clients, start_node, with_id
from tests.support.pact import PACT_FIXTURES, assert_response_valid, read_json

PASSWORD = "correct horse battery staple"
# at most 5 + 8 failures for the victim in the first test, under the address's 20; 20 s: a window long enough for 20
# scrypt checks on a loaded test machine
LIMITS = {"token-failures-per-client": "5", "token-failures-per-address": "20", "token-window": "20s",
          "login-failures-per-user": "3", "login-failures-per-address": "20", "login-window": "10s",
          "events-per-org": "3"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("limits")
    if request.param == "sqlite":
        db_url, cleanup = f"sqlite:///{data_dir / 'node.sqlite'}", None
        cli_db = ["--data-dir", str(data_dir)]
    else:
        db_url, engine, schema = postgres_schema()

        def cleanup() -> None:
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        cli_db = ["--db", db_url]
    store = NodeStore(db_url)
    store.init_schema()
    add_clients(store, {"buyer": ("buyer-secret", "BuyerCo"), "victim": ("victim-secret", "VictimCo"),
                        "quota": ("quota-secret", "QuotaCo"), "leaver": ("leaver-secret", "LeaverCo")})
    for name, value in LIMITS.items():
        set_limit(store, NodeConfig(db_url), name, value)
    set_admin_password(store, PASSWORD)
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
    shared = with_id(base, 901)
    publish_footprints(store, [shared], share_with=("BuyerCo", "LeaverCo"))
    running = start_node(data_dir, db_url)
    running.store, running.cli_db, running.shared = store, cli_db, shared.id
    yield running
    running.stop()
    store.dispose()
    if cleanup:
        cleanup()


def token_request(node, client_id: str, secret: str) -> requests.Response:
    return requests.post(node.base + "/auth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), verify=node.ca, timeout=30)


def pcf(node, *args: str) -> str:
    result = CliRunner().invoke(main, ["node", *args, *node.cli_db])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_wrong_secret_flood_gets_429s_cheaply_while_a_real_client_still_gets_its_token(node):
    def attempt(_):
        started = time.perf_counter()
        response = token_request(node, "victim", "wrong")
        return response, time.perf_counter() - started

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(32)))
    statuses = [response.status_code for response, _ in results]
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 5 + 8  # the limit, plus at most the tries already past the check at that moment
    limited = [(response, seconds) for response, seconds in results if response.status_code == 429]
    for response, _ in limited:
        assert response.json()["error"] == "invalid_request" and "retry in" in response.json()["error_description"]
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert response.headers["Cache-Control"] == "no-store"
    # refused before the ~100 ms scrypt: a refused try costs less than a checked one
    assert statistics.median(s for _, s in limited) < statistics.median(s for r, s in results if r.status_code == 401)

    assert token_request(node, "buyer", "buyer-secret").status_code == 200  # another client, same address
    still = token_request(node, "victim", "victim-secret")  # even the right secret waits for the window
    assert still.status_code == 429
    time.sleep(int(still.headers["Retry-After"]))
    assert token_request(node, "victim", "victim-secret").status_code == 200  # Retry-After was long enough


def login_form(session: requests.Session, node) -> str:
    page = session.get(node.base + "/dashboard/login", verify=node.ca, timeout=10).text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def login(session: requests.Session, node, password: str) -> requests.Response:
    return session.post(node.base + "/dashboard/login", data={"password": password, "csrf": login_form(session, node)},
                        verify=node.ca, timeout=30, allow_redirects=False)


def dashboard_opens(cookies, node) -> bool:
    response = requests.get(node.base + "/dashboard/", cookies=cookies, verify=node.ca, timeout=30,
                            allow_redirects=False)
    return response.status_code == 200


def test_dashboard_logins_are_limited_and_sessions_end_on_logout_and_password_change(node):
    attacker = requests.Session()
    assert [login(attacker, node, "guess").status_code for _ in range(3)] == [401, 401, 401]
    refused = login(attacker, node, PASSWORD)  # the right password too: the user's limit is reached
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 10
    time.sleep(int(refused.headers["Retry-After"]))

    admin, other = requests.Session(), requests.Session()
    assert login(admin, node, PASSWORD).status_code == 302 and login(other, node, PASSWORD).status_code == 302
    kept = admin.cookies.copy()  # what a thief of the cookie would hold
    assert dashboard_opens(kept, node)
    page = admin.get(node.base + "/dashboard/", verify=node.ca, timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert admin.post(node.base + "/dashboard/logout", data={"csrf": csrf}, verify=node.ca, timeout=30,
                      allow_redirects=False).status_code == 302
    assert not dashboard_opens(kept, node)  # logged out on the server, not only in the browser
    assert dashboard_opens(other.cookies, node)
    set_admin_password(node.store, "a new and longer password")  # what `pcf node admin-password` does
    assert not dashboard_opens(other.cookies, node)


def event(number: int, data: dict | None = None) -> dict:
    return {"type": event_type(PUBLISHED, "v3"), "specversion": "1.0", "id": f"quota-{number}",
            "source": "//quota.example", "time": "2026-06-01T00:00:00Z",
            "data": data or {"pfIds": [str(uuid.uuid4())]}}


def post_event(node, token: str, body) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    return requests.post(node.base + "/3/events", headers=headers, verify=node.ca, timeout=30, **kwargs)


def stored_events(node, org: str) -> int:
    with node.store.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM events WHERE org = :org"), {"org": org}).scalar_one()


def test_events_past_the_quota_get_400_and_nothing_is_stored_and_deep_json_gets_400(node):
    token = node.token("quota", "quota-secret")
    assert [post_event(node, token, event(n)).status_code for n in range(3)] == [200, 200, 200]
    over = post_event(node, token, event(3))
    assert over.status_code == 400 and "quota" in over.json()["message"]
    assert_response_valid(over.json(), "v3", "/3/events", method="post", status=400)
    assert stored_events(node, "QuotaCo") == 3
    buyer = node.token("buyer", "buyer-secret")  # another organisation's quota is its own
    deep = '{"type": "x", "data": ' + "[" * 500 + "]" * 500 + "}"
    for body in (deep, '{"a": ' + "[" * 65 + "]" * 65 + "}", "[" * 100_000):
        response = post_event(node, buyer, body)
        assert response.status_code == 400 and "nested deeper than 64" in response.json()["message"], response.text
    assert post_event(node, buyer, event(4)).status_code == 200


def test_revocation_is_effective_at_once(node):
    old = node.token("buyer", "buyer-secret")
    headers = {"Authorization": f"Bearer {old}"}
    footprint = f"{node.base}/3/footprints/{node.shared}"
    assert requests.get(footprint, headers=headers, verify=node.ca, timeout=30).status_code == 200
    pcf(node, "revoke-tokens", "buyer")
    refused = requests.get(footprint, headers=headers, verify=node.ca, timeout=30)
    assert refused.status_code == 401
    assert_response_valid(refused.json(), "v3", "/3/footprints", status=401)
    fresh = {"Authorization": f"Bearer {node.token('buyer', 'buyer-secret')}"}
    assert requests.get(footprint, headers=fresh, verify=node.ca, timeout=30).status_code == 200

    pcf(node, "unshare", node.shared, "BuyerCo")
    assert requests.get(footprint, headers=fresh, verify=node.ca, timeout=30).status_code == 404
    listed = requests.get(f"{node.base}/3/footprints", headers=fresh, verify=node.ca, timeout=30).json()["data"]
    assert node.shared not in {item["id"] for item in listed}

    leaver = {"Authorization": f"Bearer {node.token('leaver', 'leaver-secret')}"}
    assert requests.get(footprint, headers=leaver, verify=node.ca, timeout=30).status_code == 200  # still shared
    pcf(node, "remove-client", "leaver")
    assert requests.get(footprint, headers=leaver, verify=node.ca, timeout=30).status_code == 401
    assert token_request(node, "leaver", "leaver-secret").status_code == 401


def test_the_per_address_limit_stops_a_flood_spread_over_many_client_ids(node):
    """Last: it closes the token endpoint to this address (every test's) until its window ends. Each client id is
    tried once, so only the address can be what refuses."""
    statuses: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        while 429 not in statuses and len(statuses) < 200:
            statuses += pool.map(lambda n: token_request(node, f"ghost-{n}", "wrong").status_code,
                                 range(len(statuses), len(statuses) + 4))
    assert 429 in statuses and statuses.count(401) >= 20 - 13  # the address's 20, less what the first test counted
    refused = token_request(node, "buyer", "buyer-secret")  # the address, whoever asks
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 20


def test_the_log_holds_no_traceback_of_a_request(node):
    """Refused bodies (deep JSON, over quota, revoked tokens) are answered, not logged as errors. (The server's own
    shutdown may print an atexit traceback of its worker process, which no request causes: not checked here.)"""
    node.stop()
    log = node.process.stderr.read().decode("utf-8", "replace")
    for sign in ("unexpected error on", "RecursionError", "/3/events", "/auth/token", "/dashboard"):
        assert sign not in log, log[-3000:]
