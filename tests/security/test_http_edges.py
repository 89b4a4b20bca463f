"""The edges of HTTP on a real node (`pcf serve` over TLS): refusals carry the PACT JSON error body, 405 its `Allow`,
and every response the security headers, whether Flask or the server itself answered."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

from exchange.node.security_headers import SECURITY_HEADERS
from exchange.node.server import ServerLimits
from tests.support.node import new_node_db, start_node

LIMITS = ServerLimits()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("edges")
    store, db_url = new_node_db(data_dir, {"buyer": ("buyer-secret", "BuyerCo")})
    running = start_node(data_dir, db_url)
    yield running
    running.stop()


def assert_secured(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.method, response.url, name)


def assert_pact_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text[:200]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == "BadRequest" and body["message"]
    assert_secured(response)


@pytest.mark.parametrize("path", ["/health", "/3/footprints", "/2/footprints", "/openapi.json", "/docs",
                                  "/dashboard/", "/portal/not-a-token", "/3/footprints/not-an-id", "/nowhere"])
def test_every_response_carries_the_security_headers(node, path):
    assert_secured(requests.get(f"{node.base}{path}", verify=node.ca, timeout=10, allow_redirects=False))


def test_a_token_response_too(node):
    response = requests.post(f"{node.base}/auth/token", data={"grant_type": "client_credentials"},
                             auth=("buyer", "buyer-secret"), verify=node.ca, timeout=10)
    assert response.ok
    assert_secured(response)


@pytest.mark.parametrize("method,path,allowed", [("DELETE", "/3/footprints", {"GET", "HEAD", "OPTIONS"}),
                                                 ("PUT", "/3/events", {"POST", "OPTIONS"}),
                                                 ("POST", "/health", {"GET", "HEAD", "OPTIONS"})])
def test_405_names_the_allowed_methods_in_a_pact_body(node, method, path, allowed):
    response = requests.request(method, f"{node.base}{path}", verify=node.ca, timeout=10)
    assert_pact_error(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_414_for_a_request_target_over_the_limit(node):
    response = requests.get(f"{node.base}/3/footprints", params={"productId": "x" * LIMITS.max_request_line},
                            verify=node.ca, timeout=10)
    assert_pact_error(response, 414)


def test_431_for_headers_over_the_limit(node):
    big = {f"X-Pad-{i}": "y" * 200 for i in range(LIMITS.max_header_bytes // 200 + 1)}
    assert_pact_error(requests.get(f"{node.base}/health", headers=big, verify=node.ca, timeout=10), 431)
    many = {f"X-N-{i}": "1" for i in range(LIMITS.max_headers + 1)}
    assert_pact_error(requests.get(f"{node.base}/health", headers=many, verify=node.ca, timeout=10), 431)


@pytest.mark.parametrize("version", ["3", "2"])
def test_413_for_a_body_over_the_limit_before_the_app_reads_it(node, version):
    response = requests.post(f"{node.base}/{version}/events", data=b"{" + b" " * LIMITS.max_body_bytes + b"}",
                             headers={"Content-Type": "application/cloudevents+json"}, verify=node.ca, timeout=30)
    assert_pact_error(response, 413)
    assert str(LIMITS.max_body_bytes) in response.json()["message"]


def test_413_for_a_chunked_body_that_grows_over_the_limit(node):
    chunks = (b" " * 65536 for _ in range(LIMITS.max_body_bytes // 65536 + 2))
    response = requests.post(f"{node.base}/3/events", data=chunks,
                             headers={"Content-Type": "application/cloudevents+json"}, verify=node.ca, timeout=30)
    assert_pact_error(response, 413)


def test_past_h11s_own_buffer_the_answer_is_an_empty_431(node):
    """What the docs say the server answers when it cannot reach our code: h11's 431, empty, connection closed."""
    host, port = node.base.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=node.ca)
    with context.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:  # headers that never end: h11's buffer fills up
            for _ in range(LIMITS.hard_header_bytes // 1000 + 2):
                conn.sendall(b"X-Pad: " + b"z" * 990 + b"\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = b""
        try:
            while chunk := conn.recv(4096):
                answer += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
    assert answer.startswith(b"HTTP/1.1 431") and b"content-length: 0" in answer.lower()
