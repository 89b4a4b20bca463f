"""connectors.pact_client against a real node (`pcf serve` over TLS) and, for retries, a scripted local server.

The node part checks what a caller relies on: discovery and token, every visible footprint exactly once across
pages, filters, errors with PACT codes, events, and token renewal (by the clock and after a 401). The scripted
part checks the backoff arithmetic and which failures are retried, with an injected `sleep` so nothing waits.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import sleep as real_sleep

import pytest
import requests

from connectors.pact_client import PactClient, PactClientError
from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from tests.support.node import free_port, new_node_db, start_node, with_id
from tests.support.pact import PACT_FIXTURES, read_json

BULK = 8
PAGE = 5


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("client-node")
    store, db_url = new_node_db(data_dir, {"buyer": ("buyer-secret", "BuyerCo"), "other": ("other-secret", "OtherCo")})
    # example-2 can be expressed in PACT v2 too (it has a CPC classification), so /2 serves the same footprints.
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    cpc = base.product_classifications
    named = {
        "A": with_id(base, 1, product_ids=("urn:pact:product:a",), company_ids=("urn:pact:company:s1",),
                        geography_country="DE", product_classifications=cpc + ("urn:pact:class:x",)),
        "B": with_id(base, 2, product_ids=("urn:pact:product:b",), company_ids=("urn:pact:company:s1",),
                        geography_country="FR", product_classifications=cpc + ("urn:pact:class:y",)),
        "C": with_id(base, 3, product_ids=("urn:pact:product:c",), company_ids=("urn:pact:company:s2",),
                        geography_country="DE", product_classifications=cpc + ("urn:pact:class:x",)),
    }
    bulk = [with_id(base, 100 + i, product_ids=(f"urn:pact:product:bulk-{i}",),
                       company_ids=("urn:pact:company:bulk",)) for i in range(BULK)]
    private_other = with_id(base, 4, product_ids=("urn:pact:product:a",), company_ids=("urn:pact:company:s1",))
    public = with_id(base, 5, product_ids=("urn:pact:product:e",), company_ids=("urn:pact:company:s3",))
    publish_footprints(store, list(named.values()) + bulk, share_with=("BuyerCo",))
    publish_footprints(store, [private_other], share_with=("OtherCo",))
    publish_footprints(store, [public], public=True)
    running = start_node(data_dir, db_url)
    running.named = {k: v.id for k, v in named.items()}
    running.visible = set(running.named.values()) | {f.id for f in bulk} | {public.id}
    running.private_other = private_other.id
    running.store = store
    yield running
    running.stop()
    store.dispose()


class RecordingSession(requests.Session):
    """A real session that also remembers (method, url, verify) of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, object]] = []

    def request(self, method, url, *args, **kwargs):
        self.calls.append((method, url, kwargs.get("verify")))
        return super().request(method, url, *args, **kwargs)

    def paths(self) -> list[str]:
        return [f"{method} {requests.utils.urlparse(url).path}" for method, url, _ in self.calls]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(node, *, secret: str = "buyer-secret", **kwargs) -> PactClient:
    return PactClient(node.base, "buyer", secret, ca_bundle=node.ca, sleep=lambda s: pytest.fail(f"slept {s}"),
                      **kwargs)


# --- against the node: authentication


def test_discovery_then_token_then_cached(node):
    session = RecordingSession()
    with make_client(node, session=session) as client:
        token = client.token()
        assert token and client.token() == token  # cached: no second token request
        assert len(client.get_footprint(node.named["A"])["id"]) == 36
    assert session.paths() == ["GET /.well-known/openid-configuration", "POST /auth/token",
                               f"GET /3/footprints/{node.named['A']}"]
    # verify= is given explicitly on every request (REQUESTS_CA_BUNDLE would otherwise replace it)
    assert {verify for _, _, verify in session.calls} == {node.ca}


def test_wrong_secret_raises_with_the_rfc6749_error_code(node):
    with make_client(node, secret="wrong") as client, pytest.raises(PactClientError) as caught:
        client.token()
    assert caught.value.status == 401 and caught.value.code == "invalid_client"
    assert caught.value.url == node.base + "/auth/token"


def test_tls_is_verified_by_default_and_not_retried(node):
    slept: list[float] = []
    with PactClient(node.base, "buyer", "buyer-secret", sleep=slept.append) as client:
        with pytest.raises(PactClientError) as caught:
            client.token()
    assert caught.value.status is None and "TLS" in caught.value.message
    assert slept == []


def test_expired_cached_token_is_renewed_by_the_clock(node):
    clock, session = FakeClock(), RecordingSession()
    with make_client(node, clock=clock, session=session) as client:
        first = client.token()
        clock.now += 3600 - 31  # the node issues 1 h tokens; still inside the 30 s margin
        assert client.token() == first
        clock.now += 2  # now within 30 s of expiry
        second = client.token()
        assert second != first
        assert client.get_footprint(node.named["B"])["id"] == node.named["B"]
    assert session.paths().count("POST /auth/token") == 2
    assert session.paths().count("GET /.well-known/openid-configuration") == 1


def test_a_401_renews_the_token_once_and_the_call_succeeds(node):
    session = RecordingSession()
    with make_client(node, session=session) as client:
        client.token()
        client._access_token = "garbage"  # the cache still believes it valid
        assert client.get_footprint(node.named["C"])["id"] == node.named["C"]
        assert client._access_token != "garbage"
    assert session.paths()[2:] == [f"GET /3/footprints/{node.named['C']}", "POST /auth/token",
                                   f"GET /3/footprints/{node.named['C']}"]


# --- against the node: API


def test_listing_over_several_pages_yields_every_visible_footprint_once(node):
    session = RecordingSession()
    with make_client(node, session=session) as client:
        ids = [footprint["id"] for footprint in client.list_footprints(limit=PAGE)]
    assert len(ids) == len(set(ids)) and set(ids) == node.visible
    assert node.private_other not in ids
    pages = session.paths().count("GET /3/footprints")
    assert pages == -(-len(node.visible) // PAGE) >= 3


def test_v2_listing_and_get(node):
    with make_client(node) as client:
        ids = {footprint["id"] for footprint in client.list_footprints("v2", limit=PAGE)}
        assert ids == node.visible
        footprint = client.get_footprint(node.named["A"], version="v2")
        assert footprint["id"] == node.named["A"] and footprint["specVersion"].startswith("2.")
        with pytest.raises(PactClientError) as caught:
            client.get_footprint(str(uuid.uuid4()), version="v2")
    assert caught.value.status == 404 and caught.value.code == "NoSuchFootprint"  # v2's 404 code


@pytest.mark.parametrize("filters, expected", [
    ({"productId": ["urn:pact:product:a", "urn:pact:product:b"]}, {"A", "B"}),  # OR within a criterion
    ({"companyId": "urn:pact:company:s1", "geography": "DE"}, {"A"}),  # AND across criteria
    ({"productId": ["urn:pact:product:a", "urn:pact:product:b", "urn:pact:product:c"],
      "classification": "urn:pact:class:x"}, {"A", "C"}),
    ({"productId": "urn:pact:product:nothing"}, set()),
])
def test_filters_or_within_and_across(node, filters, expected):
    with make_client(node) as client:
        assert {f["id"] for f in client.list_footprints(limit=2, **filters)} == {node.named[k] for k in expected}


def test_an_unknown_filter_is_a_bad_request(node):
    with make_client(node) as client, pytest.raises(PactClientError) as caught:
        list(client.list_footprints(colour="red"))
    assert caught.value.status == 400 and caught.value.code == "BadRequest"
    assert "colour=red" in caught.value.url


def test_get_footprint_returns_the_data_object(node):
    with make_client(node) as client:
        footprint = client.get_footprint(node.named["A"])
    assert footprint["id"] == node.named["A"] and footprint["productIds"] == ["urn:pact:product:a"]


def test_get_unknown_and_hidden_both_raise_not_found(node):
    with make_client(node) as client:
        missing = str(uuid.uuid4())
        with pytest.raises(PactClientError) as caught:
            client.get_footprint(missing)
        assert (caught.value.status, caught.value.code) == (404, "NotFound")
        assert caught.value.url.endswith(f"/3/footprints/{missing}") and caught.value.message
        with pytest.raises(PactClientError) as caught:
            client.get_footprint(node.private_other)
        assert (caught.value.status, caught.value.code) == (404, "NotFound")  # hidden looks missing


def _event(data: dict) -> dict:
    return {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0",
            "id": str(uuid.uuid4()), "source": "//buyer.example/pact", "time": "2026-01-31T17:31:00Z", "data": data}


def test_send_event_published_is_stored(node):
    event = _event({"pfIds": [node.named["A"]]})
    with make_client(node) as client:
        assert client.send_event(event) is None
    assert event["id"] in {e["event_id"] for e in node.store.list_events()}


def test_send_malformed_event_raises_bad_request(node):
    event = _event({"pfIds": ["not-a-uuid"]})
    with make_client(node) as client, pytest.raises(PactClientError) as caught:
        client.send_event(event)
    assert (caught.value.status, caught.value.code) == (400, "BadRequest")
    assert event["id"] not in {e["event_id"] for e in node.store.list_events()}


# --- retries, against a scripted local server


class Scripted:
    """A plain-HTTP server on 127.0.0.1: an OpenID document naming `token_path` (404 when None: the client must
    fall back to /auth/token), a token there, and for every other path the next scripted (status, headers, body,
    delay) answer, the last one repeating."""

    def __init__(self, *answers: tuple, token_path: str | None = None) -> None:
        self.answers = list(answers)
        self.attempts = 0
        self.token_requests = 0
        self.token_path = token_path or "/auth/token"
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, headers: dict, body) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    if token_path is None:
                        return self._answer(404, {}, {"code": "NotFound", "message": "no"})
                    return self._answer(200, {}, {"issuer": scripted.base, "token_endpoint": scripted.base + token_path})
                scripted.attempts += 1
                status, headers, body, delay = (scripted.answers.pop(0) if len(scripted.answers) > 1
                                                else scripted.answers[0])
                if delay:
                    real_sleep(delay)
                try:
                    self._answer(status, headers, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == scripted.token_path:
                    scripted.token_requests += 1
                    return self._answer(200, {}, {"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
                self.do_GET()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


def ok(delay: float = 0.0) -> tuple:
    return 200, {}, {"data": {"id": "x"}}, delay


def failing(status: int, headers: dict | None = None, code: str = "InternalError") -> tuple:
    return status, headers or {}, {"code": code, "message": f"status {status}"}, 0.0


def scripted_client(server: Scripted, slept: list[float], **kwargs) -> PactClient:
    return PactClient(server.base, "c", "s", sleep=slept.append, **kwargs)


def test_two_503_then_200_succeeds_after_three_attempts_within_backoff_bounds():
    slept: list[float] = []
    with Scripted(failing(503), failing(503), ok()) as server, scripted_client(server, slept) as client:
        assert client.get_footprint("x") == {"id": "x"}
    assert server.attempts == 3 and server.token_requests == 1  # discovery 404 fell back to /auth/token
    assert len(slept) == 2
    assert 0 <= slept[0] <= 0.5 and 0 <= slept[1] <= 1.0  # random() * min(max, 0.5 * 2**attempt)


def test_the_token_endpoint_named_by_openid_discovery_is_used():
    slept: list[float] = []
    with Scripted(ok(), token_path="/oauth2/v1/token") as server, scripted_client(server, slept) as client:
        assert client.get_footprint("x") == {"id": "x"}
        assert client._token_endpoint == server.base + "/oauth2/v1/token"
    assert server.token_requests == 1 and server.attempts == 1 and slept == []


def test_backoff_is_exponential_capped_and_retries_run_out():
    slept: list[float] = []
    with Scripted(failing(502)) as server, scripted_client(server, slept, random=lambda: 0.5, backoff_max=3.0,
                                                            max_retries=4) as client:
        with pytest.raises(PactClientError) as caught:
            client.get_footprint("x")
    assert server.attempts == 5
    assert slept == [0.25, 0.5, 1.0, 1.5]  # 0.5 * min(3.0, 0.5 * 2**attempt): jittered, doubling, capped
    assert (caught.value.status, caught.value.code) == (502, "InternalError")


def test_429_honours_retry_after():
    slept: list[float] = []
    with Scripted(failing(429, {"Retry-After": "2"}, "TooMany"), ok()) as server, \
            scripted_client(server, slept, random=lambda: 0.99) as client:
        assert client.get_footprint("x") == {"id": "x"}
    assert server.attempts == 2 and len(slept) == 1 and slept[0] >= 2


def test_a_400_is_not_retried():
    slept: list[float] = []
    with Scripted(failing(400, code="BadRequest"), ok()) as server, scripted_client(server, slept) as client:
        with pytest.raises(PactClientError) as caught:
            client.get_footprint("x")
    assert server.attempts == 1 and slept == []
    assert (caught.value.status, caught.value.code) == (400, "BadRequest")


def test_a_timeout_is_retried():
    slept: list[float] = []
    with Scripted(ok(delay=1.0), ok()) as server, scripted_client(server, slept, timeout=0.2) as client:
        assert client.get_footprint("x") == {"id": "x"}
    assert server.attempts == 2 and len(slept) == 1


def test_connection_refused_is_retried_then_raises():
    slept: list[float] = []
    base = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with PactClient(base, "c", "s", sleep=slept.append, max_retries=3) as client:
        with pytest.raises(PactClientError) as caught:
            client.get_footprint("x")
    assert len(slept) == 3
    assert caught.value.status is None and caught.value.code is None
    assert "Connection" in caught.value.message and caught.value.url.startswith(base)
