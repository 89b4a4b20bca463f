"""Slow or stalled clients cannot starve others: a real `pcf serve` (one worker, the worst case) over TLS on loopback.

32 stalled connections, half that sent 3 bytes of a TLS ClientHello, half that finished the handshake and sent half
an HTTP request; `/health` is still answered within 1 s each time, and the server closes every stalled connection
after its timeout (exchange/node/server.py: 5 s for the handshake, 5 s for the request headers).
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

import pytest
import requests

from exchange.node.server import ServerLimits
from tests.support.node import free_port, new_node_db, served_in_child, start_node

STALLED = 32
HELLO_START = b"\x16\x03\x01"  # a TLS record header: handshake, TLS 1.0 record version; then nothing


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("slow-clients")
    db_url = new_node_db(data_dir)[1]
    running = start_node(data_dir, db_url, workers=1)
    yield running
    running.stop()


def _address(node) -> tuple[str, int]:
    host, port = node.base.removeprefix("https://").rsplit(":", 1)
    return host, int(port)


def _stalled_hello(address: tuple[str, int]) -> socket.socket:
    raw = socket.create_connection(address, timeout=30)
    raw.sendall(HELLO_START)
    return raw


def _stalled_request(address: tuple[str, int], ca: str) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=ca)
    conn = context.wrap_socket(socket.create_connection(address, timeout=30), server_hostname=address[0])
    conn.sendall(b"GET /3/footprints HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x")  # no end of headers
    return conn


def _health_seconds(node) -> float:
    started = time.monotonic()
    response = requests.get(f"{node.base}/health", verify=node.ca, timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    return time.monotonic() - started


def _closed_by_server(conn: socket.socket) -> bool:
    """True when the server closed the connection (EOF or reset) rather than leaving it open."""
    try:
        return conn.recv(1024) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


def test_stalled_connections_neither_starve_others_nor_stay_open(node):
    address = _address(node)
    hellos = [_stalled_hello(address) for _ in range(STALLED // 2)]
    requests_ = [_stalled_request(address, node.ca) for _ in range(STALLED // 2)]
    opened = time.monotonic()
    try:
        # while all 32 stall, a fresh client is answered at once, again and again
        timings = [_health_seconds(node) for _ in range(5)]
        assert max(timings) < 1.0, timings

        limits = ServerLimits()
        deadline = opened + max(limits.handshake_timeout, limits.header_timeout) + 5
        for conn in hellos + requests_:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            assert _closed_by_server(conn), "a stalled connection is still open after the timeouts"
        assert time.monotonic() - opened >= min(limits.handshake_timeout, limits.header_timeout) - 0.5
        assert _health_seconds(node) < 1.0
    finally:
        for conn in hellos + requests_:
            conn.close()


def _serve_with_short_timeouts(data_dir, port: int) -> None:
    """In a child process: the node under serve_app with body limits short enough for a test."""
    from functools import partial

    from exchange.node.app import NodeConfig, create_app
    from exchange.node.server import serve_app

    serve_app(partial(create_app, NodeConfig(f"sqlite:///{data_dir / 'node.sqlite'}")), "127.0.0.1", port,
              data_dir / "tls" / "cert.pem", data_dir / "tls" / "key.pem", 1, read_timeout=1.0, body_timeout=2.0)


@pytest.fixture(scope="module")
def short_timeouts(node):
    data_dir = Path(node.ca).parent.parent
    port = free_port()
    with served_in_child(_serve_with_short_timeouts, (data_dir, port), port, node.ca, "the node under short timeouts"):
        yield ("127.0.0.1", port), node.ca


def _send_body_slowly(short_timeouts, pause: float, chunks: int) -> tuple[bytes, float]:
    """POST an event whose body arrives one byte every `pause` s; (what the server answered, seconds it took)."""
    address, ca = short_timeouts
    context = ssl.create_default_context(cafile=ca)
    started = time.monotonic()
    with context.wrap_socket(socket.create_connection(address, timeout=30), server_hostname=address[0]) as conn:
        conn.sendall(b"POST /3/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n"
                     b"Content-Length: 100\r\n\r\n")
        try:
            for _ in range(chunks):
                time.sleep(pause)
                conn.sendall(b" ")
        except OSError:
            pass  # the server closed while we were still sending
        answer = b""
        try:
            while chunk := conn.recv(4096):
                answer += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
    return answer, time.monotonic() - started


def test_a_trickled_body_gets_a_pact_408_at_its_deadline(short_timeouts):
    answer, took = _send_body_slowly(short_timeouts, pause=0.4, chunks=8)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"strict-transport-security" in head.lower(), answer[:300]
    assert json.loads(body) == {"code": "BadRequest", "message": "request body not received within 2 s"}
    assert 1.9 < took < 5


def test_a_stalled_body_is_closed_after_the_read_timeout(short_timeouts):
    answer, took = _send_body_slowly(short_timeouts, pause=0, chunks=0)
    assert answer == b"" and 0.9 < took < 4
