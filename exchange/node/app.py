"""The node's Flask app factory: PACT v3 and v2 REST API over one store.

    create_app(config, store=None, clock=None) -> Flask

Everything a test wants to swap (store, clock) is a parameter; no module-level state. Blueprints: auth
(`/auth/token`, `/.well-known/openid-configuration`), v3 (`/3/...`), v2 (`/2/...`), docs (`/openapi.json`, `/docs`),
the operator's dashboard (`/dashboard/`) and the supplier portal (`/portal/<token>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from .api import make_api_blueprint
from .auth import AuthError, TokenService
from .auth_routes import make_auth_blueprint
from .bodies import drain
from .cursors import KEY_NAME as CURSOR_KEY_NAME
from .cursors import CursorSeal, new_key
from .dashboard import make_dashboard_blueprint
from .docs import make_docs_blueprint
from .errors import ApiError, error_response
from .fast_path import FastPath
from .keys import node_jwks
from .limits import configured
from .portal import make_portal_blueprint
from .request_limit import Limit, RequestLimiter
from .security_headers import add_security_headers
from .storage import NodeStore


@dataclass(frozen=True)
class NodeConfig:
    """What a node is configured with; defaults suit a single supplier."""

    db_url: str
    token_lifetime: timedelta = timedelta(hours=1)
    max_body_bytes: int = 1_000_000  # events with footprints inside; larger bodies get 413
    page_size: int = 1000  # footprints per page when the client gives no `limit`
    max_limit: int = 1000
    # the supplier portal (portal.py): requests per window by caller address and by invitation link, upload size
    portal_requests_per_address: int = 120
    portal_requests_per_invite: int = 30  # a supplier correcting the form a few times stays far below
    portal_window: timedelta = timedelta(minutes=10)
    portal_max_upload_bytes: int = 512_000  # PACT files of a few footprints are a few kB each
    # failed authentications per window before 429 (request_limit.py): a client with its right secret never fails;
    # an address may be a NAT holding several partners, so its limit is higher than one client's
    token_failures_per_client: int = 10
    token_failures_per_address: int = 50
    token_window: timedelta = timedelta(minutes=5)
    login_failures_per_user: int = 10  # the dashboard has one user, its admin
    login_failures_per_address: int = 20
    login_window: timedelta = timedelta(minutes=15)
    # events kept per organisation (event_quota.py): beyond either, a new event is refused (400) and nothing stored;
    # answered events older than the retention are pruned (requests still awaiting an answer never are)
    events_per_org: int = 10_000
    event_bytes_per_org: int = 100_000_000
    event_retention: timedelta = timedelta(days=90)
    max_json_depth: int = 64  # deeper JSON bodies (events, portal uploads) are refused with 400
    fast_path: bool = True  # list and get answered before Flask (fast_path.py); off only to compare both paths


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _version_of_path(path: str) -> str:
    return "v2" if path.startswith("/2/") else "v3"


def create_app(config: NodeConfig, store: NodeStore | None = None, clock: Callable[[], datetime] | None = None) -> Flask:
    """A PACT node app over `store` (opened from `config.db_url` when not given)."""
    store = store or NodeStore(config.db_url)
    store.check_schema()
    config = configured(config, store)
    clock = clock or _utc_now
    tokens = TokenService(store, config.token_lifetime, clock)
    limiter = RequestLimiter(store, {
        "token-client": Limit(config.token_failures_per_client, config.token_window),
        "token-address": Limit(config.token_failures_per_address, config.token_window),
        "login-user": Limit(config.login_failures_per_user, config.login_window),
        "login-address": Limit(config.login_failures_per_address, config.login_window),
        "address": Limit(config.portal_requests_per_address, config.portal_window),
        "invite": Limit(config.portal_requests_per_invite, config.portal_window)}, clock)
    seal = CursorSeal(store.secret(CURSOR_KEY_NAME, new_key))
    app = Flask("carbon-exchange-node", static_folder=None)  # no static files: no file-serving route
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.extensions["pact"] = {"store": store, "tokens": tokens, "config": config, "clock": clock}

    app.register_blueprint(make_auth_blueprint(tokens, limiter))
    app.register_blueprint(make_api_blueprint("v3", store, tokens, config, clock, seal), url_prefix="/3")
    app.register_blueprint(make_api_blueprint("v2", store, tokens, config, clock, seal), url_prefix="/2")
    app.register_blueprint(make_docs_blueprint())
    app.register_blueprint(make_dashboard_blueprint(store, limiter, clock), url_prefix="/dashboard")
    app.register_blueprint(make_portal_blueprint(store, limiter, config.portal_max_upload_bytes, clock),
                           url_prefix="/portal")

    @app.get("/.well-known/jwks.json")
    def jwks_document() -> Response:
        """The node's public signing keys, each bound to the organisation (name, company ids, host, created and
        revoked times): what `pcf verify --trusted` checks footprint signatures against."""
        return Response(json.dumps(node_jwks(store)), mimetype="application/json")

    @app.get("/schemas/<name>.json")
    def extension_schema(name: str) -> Response:
        """The published JSON Schemas of this toolkit's PACT extensions (signature, provenance)."""
        from importlib import resources

        if name not in ("signature-extension-1.0.0", "provenance-extension-1.0.0"):
            raise ApiError("NotFound", f"no schema {name}")
        text = resources.files("exchange").joinpath("pact", "schemas", f"{name}.json").read_text(encoding="utf-8")
        return Response(text, mimetype="application/schema+json")

    @app.get("/health")
    def health() -> Response:
        """A trivial JSON endpoint: liveness, and the baseline of the node benchmark."""
        return Response('{"status":"ok"}', mimetype="application/json")

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.code, error.message, _version_of_path(request.path), error.status)

    @app.errorhandler(AuthError)
    def auth_error(error: AuthError) -> Response:
        version = _version_of_path(request.path)
        status = error.status if (version == "v3" or error.error == "TokenExpired") else 400
        response = error_response(error.error, error.description, version, status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="pact", error="invalid_token"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            drain(request)
        code = {404: "NotFound", 403: "AccessDenied", 500: "InternalError"}.get(error.code, "BadRequest")
        message = {413: f"request body larger than {config.max_body_bytes} bytes"}.get(error.code, error.description)
        response = error_response(code, message, _version_of_path(request.path), error.code)
        allowed = dict(error.get_headers()).get("Allow")
        if allowed:  # 405: the methods the resource does allow (RFC 9110 15.5.6)
            response.headers["Allow"] = allowed
        return response

    @app.errorhandler(DataError)
    def data_refused(error: DataError) -> Response:
        """A value the database cannot store or compare (e.g. out of range): the client's input, so a 400."""
        app.logger.warning("database refused a value on %s %s: %s", request.method, request.path, error.orig)
        return error_response("BadRequest", "a value in the request cannot be stored or compared",
                              _version_of_path(request.path))

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        """The database is busy past its timeout (SQLite) or unreachable: 503 with Retry-After, not a 500."""
        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
        response = error_response("InternalError", "the database is busy or unavailable; retry shortly",
                                  _version_of_path(request.path), 503)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("InternalError", "An internal or unexpected error has occurred",
                              _version_of_path(request.path), 500)

    @app.after_request
    def security_headers(response: Response) -> Response:
        add_security_headers(response.headers)
        return response

    if config.fast_path:
        app.wsgi_app = FastPath(app, store, tokens, config, seal)
    return app
