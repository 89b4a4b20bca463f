"""A PACT host for tests that checks every event it receives against the official OpenAPI event schemas.

A real HTTP server on a loopback port, shaped like WBCSD's conformance service (the host that judges a node's
answers): plain HTTP (a node sends to it only because the tests list loopback in PCF_OUTBOUND_ALLOW), no
`/.well-known/openid-configuration` (404: a client falls back to `/auth/token`), and `POST /auth/token` with HTTP
Basic client credentials. Unlike that service it requires the bearer token on its events endpoints, and it
validates *every* event, not only RequestFulfilled: `POST /3/events` against openapi-3.0.3.yaml, `POST /2/events`
against openapi-2.3.3.yaml (tests/fixtures/pact), the schema picked by the event's `type` const. A valid event gets
200, anything else 400 with the errors; each is recorded. It can also serve footprints (`GET /{3,2}/footprints/{id}`)
for a node that fetches what a Published event announced.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pcf.tiers.local_nodes import wait_for
from tests.support.pact import event_errors

_FOOTPRINT_PATH = re.compile(r"^/([23])/footprints/([0-9A-Fa-f-]{36})$")


@dataclass
class Received:
    path: str
    content_type: str
    body: object
    errors: list[str]


@dataclass
class EventReceiver:
    """Start with `with EventReceiver(client_id, secret) as receiver:`; `receiver.url` is its base URL."""

    client_id: str
    client_secret: str
    footprints: dict[tuple[str, str], dict] = field(default_factory=dict)  # (version, id) -> document
    received: list[Received] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __enter__(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object | None = None) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _bearer_ok(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {receiver.token}"

            def do_GET(self) -> None:  # noqa: N802
                match = _FOOTPRINT_PATH.match(self.path)
                if not match:
                    self._answer(404, {"code": "NotFound", "message": "no such route"})
                elif not self._bearer_ok():
                    self._answer(401, {"code": "BadRequest", "message": "bearer token required"})
                else:
                    document = receiver.footprints.get((f"v{match.group(1)}", match.group(2).lower()))
                    self._answer(200 if document else 404, {"data": document} if document else
                                 {"code": "NotFound", "message": "no such footprint"})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/auth/token":
                    expected = base64.b64encode(f"{receiver.client_id}:{receiver.client_secret}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {expected}":
                        self._answer(401, {"error": "invalid_client"})
                    else:
                        self._answer(200, {"access_token": receiver.token, "token_type": "Bearer", "expires_in": 3600})
                    return
                if self.path not in ("/3/events", "/2/events"):
                    self._answer(404, {"code": "NotFound", "message": "no such route"})
                    return
                content_type = self.headers.get("Content-Type", "")
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                errors = [] if self._bearer_ok() else ["Authorization: no valid bearer token"]
                if content_type.split(";")[0].strip() != "application/cloudevents+json":
                    errors.append(f"Content-Type {content_type!r} is not application/cloudevents+json")
                errors += event_errors(body, "v3" if self.path == "/3/events" else "v2")
                receiver.received.append(Received(self.path, content_type, body, errors))
                self._answer(200 if not errors else 400, None if not errors else
                             {"code": "BadRequest", "message": "; ".join(errors)[:1000]})

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def answers_to(self, request_id: str, timeout: float = 60.0) -> Received:
        """The first event received whose data answers `request_id` (waits for it)."""
        return wait_for(lambda: next((r for r in self.received if isinstance(r.body, dict)
                                      and isinstance(r.body.get("data"), dict)
                                      and r.body["data"].get("requestEventId") == request_id), None),
                        timeout=timeout, what=f"the answer to {request_id} at the validating receiver")
