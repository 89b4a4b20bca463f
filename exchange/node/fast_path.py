"""The API's two hot routes answered before Flask: ListFootprints and GetFootprint (v3 and v2), success only.

A WSGI middleware in front of the Flask app. A GET of `/{3,2}/footprints` or `/{3,2}/footprints/<id>` is parsed,
authenticated and answered by the very functions the Flask handlers use (api.py), without building Flask's request
and response objects or its context. The token's revocation check reads the client's token floor in the page's own
statement (one round trip per request); a revoked token's page is thrown away and Flask answers the 401. Anything
else, and any request on these routes that does not end in a 200 (a bad token, a malformed query, an unknown id, a
database error), goes to Flask unchanged, so every error keeps one implementation, its body and its status. A 200
answered here carries the headers Flask's own would: those every response gets from the app's after-request hooks
are read from the app once, at start (tests/node/test_fast_path.py compares both paths byte for byte).
"""

from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import parse_qsl

from flask import Flask, Response
from werkzeug.wsgi import get_host

from .api import get_body, list_page, next_link, page_body, parse_listing, served_footprint
from .auth import TokenService
from .cursors import CursorSeal
from .storage import NodeStore

_VERSIONS = {"/3/": "v3", "/2/": "v2"}
_FOOTPRINTS = "footprints"
_OWN_HEADERS = {"content-type", "content-length"}


def _headers_of_every_response(app: Flask) -> list[tuple[str, str]]:
    """The headers the app's after-request hooks add to a response of the API (e.g. Cache-Control)."""
    with app.test_request_context("/3/footprints", base_url="https://localhost"):
        response = app.process_response(Response("", mimetype="application/json"))
    return [(name, value) for name, value in response.headers.items() if name.lower() not in _OWN_HEADERS]


class FastPath:
    """WSGI middleware: see the module docstring."""

    def __init__(self, app: Flask, store: NodeStore, tokens: TokenService, config, seal: CursorSeal) -> None:
        self.flask_app: Callable = app.wsgi_app
        self.store, self.tokens, self.config, self.seal = store, tokens, config, seal
        self.common_headers = _headers_of_every_response(app)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        version = _VERSIONS.get(path[:3])
        if version and environ.get("REQUEST_METHOD") == "GET" and path.startswith(_FOOTPRINTS, 3):
            answer = self._answer(environ, version, path[3:])
            if answer is not None:
                body, link = answer
                data = body.encode()
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
                if link:
                    headers.append(("Link", link))
                start_response("200 OK", headers + self.common_headers)
                return [data]
        return self.flask_app(environ, start_response)

    def _answer(self, environ: dict, version: str, rest: str) -> tuple[str, str | None] | None:
        """(body, Link header or None) of a successful answer; None for anything Flask must answer."""
        try:
            if rest == _FOOTPRINTS:
                claims = self.tokens.claims(environ.get("HTTP_AUTHORIZATION"))
                query = environ.get("QUERY_STRING", "").encode("latin-1").decode()
                parameters = parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote")
                listing = parse_listing(parameters, self.config, version, self.seal, claims["org"])
                page = list_page(self.store, claims["org"], listing, version, floor_of=str(claims["sub"]))
                principal = self.tokens.current(claims, page.token_floor)  # revoked: Flask answers (401)
                link = None
                if page.has_more:
                    path = environ["PATH_INFO"].encode("latin-1").decode()
                    link = next_link(environ["wsgi.url_scheme"], get_host(environ), path, parameters,
                                     self.seal.seal(principal.org, listing.bound, page.items[-1][0]))
                return page_body(page), link
            if rest.startswith(_FOOTPRINTS + "/") and "/" not in rest[len(_FOOTPRINTS) + 1:]:
                claims = self.tokens.claims(environ.get("HTTP_AUTHORIZATION"))
                served = served_footprint(self.store, claims["org"], rest[len(_FOOTPRINTS) + 1:], version,
                                          floor_of=str(claims["sub"]))
                self.tokens.current(claims, served.token_floor)
                return get_body(served), None
        except Exception:  # noqa: BLE001 - whatever does not end in a 200 here, Flask answers (and logs) as ever
            return None
        return None
