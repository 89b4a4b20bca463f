"""`POST /auth/token` (RFC 6749 Sec. 4.4, client credentials) and the OpenID provider configuration."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, json, request

from .auth import AuthError, TokenService, basic_credentials
from .request_limit import RateLimited, RequestLimiter, address_key


def _oauth_error(error: str, description: str, status: int) -> Response:
    """RFC 6749 Sec. 5.2 error body; 401 with a Basic challenge when client authentication failed."""
    response = Response(json.dumps({"error": error, "error_description": description}), status=status,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="pact"'
    return response


def client_key(client_id: str) -> str:
    """The rate-limit key of a client id (hashed: ids of any length and content fit the key column)."""
    return "token-client:" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def make_auth_blueprint(tokens: TokenService, limiter: RequestLimiter) -> Blueprint:
    """The token endpoint; failed authentications count against the client id and the caller's address
    (`limiter` kinds "token-client" and "token-address"), and past either limit the answer is 429 before any
    secret is hashed."""
    blueprint = Blueprint("auth", __name__)

    @blueprint.post("/auth/token")
    def token() -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", "content type must be application/x-www-form-urlencoded", 400)
        form = request.form
        if form.get("grant_type") is None:
            return _oauth_error("invalid_request", "grant_type is missing", 400)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "only grant_type=client_credentials is supported", 400)
        try:
            basic = basic_credentials(request.headers.get("Authorization"))
        except AuthError as error:
            return _oauth_error(error.error, error.description, error.status)
        in_body = form.get("client_id") is not None or form.get("client_secret") is not None
        if basic and in_body:
            return _oauth_error("invalid_request", "use one client authentication method, not two", 400)
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        if not client_id or secret is None:
            return _oauth_error("invalid_client", "client authentication is missing", 401)
        if "\x00" in client_id:  # no client id holds NUL (PostgreSQL text cannot): the same answer as unknown
            return _oauth_error("invalid_client", "Authentication failed", 401)
        keys = (client_key(client_id), address_key(request.remote_addr, "token-address"))
        try:
            limiter.check(*keys)
        except RateLimited as limited:
            response = _oauth_error("invalid_request", f"too many failed authentications for this client or from "
                                    f"this address; retry in {limited.retry_after} s", 429)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        try:
            principal = tokens.authenticate(client_id, secret)
        except AuthError as error:
            limiter.count(*keys)
            return _oauth_error(error.error, error.description, error.status)
        response = Response(json.dumps(tokens.issue(principal)), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    @blueprint.get("/.well-known/openid-configuration")
    def openid_configuration() -> Response:
        base = request.host_url.rstrip("/")
        document = {
            "issuer": base,
            "token_endpoint": f"{base}/auth/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "scopes_supported": ["footprint:list", "footprint:read"],
        }
        return Response(json.dumps(document), mimetype="application/json")

    return blueprint
