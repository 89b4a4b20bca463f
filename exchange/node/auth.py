"""OAuth2 client credentials (RFC 6749 Sec. 4.4) for the node: hashed secrets, signed expiring tokens.

Secrets are hashed with Werkzeug's `generate_password_hash` (scrypt) and checked with its constant-time
`check_password_hash`; access tokens are JWTs (PyJWT, HS256) signed with a per-node key kept in the database,
so every worker process accepts every other's tokens. Nothing here is hand-written cryptography.

Revocation is effective at once: a token is accepted only while its client exists and was issued after the client's
`tokens_after_us` (`pcf node remove-client`, `pcf node revoke-tokens`). That is one primary-key lookup per request,
read from the shared database, so every process and instance refuses a revoked token from the next request on (on the
API's hot path the lookup rides in the page's own statement: `claims`, then `current` with the floor read there).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from werkzeug.security import check_password_hash, generate_password_hash

from .storage import NodeStore, micros

VERIFIED_CACHE_SIZE = 10_000  # tokens whose signature this process checked already (cleared when full)
# A fixed hash to compare against when the client id is unknown, so that timing does not reveal which ids exist.
_DUMMY_HASH = generate_password_hash("carbon-exchange: no such client")
ALGORITHM = "HS256"


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the client and the organisation it belongs to."""

    client_id: str
    org: str


class AuthError(Exception):
    """A token request or bearer token refused: `error` is the RFC 6749 Sec. 5.2 code, or a PACT error code."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) from an HTTP Basic `Authorization` header (RFC 7617), or None."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise AuthError("invalid_client", "malformed Basic credentials", 401)
    return client_id, secret


class TokenService:
    """Issues and checks access tokens for one node."""

    def __init__(self, store: NodeStore, lifetime: timedelta, clock) -> None:
        self.store, self.lifetime, self.clock = store, lifetime, clock
        self._key = store.secret("token-signing-key", lambda: secrets.token_urlsafe(48))
        self._verified: dict[str, dict] = {}  # token -> its claims, once its signature checked out

    def authenticate(self, client_id: str, secret: str) -> Principal:
        client = self.store.get_client(client_id)
        ok = check_password_hash(client.secret_hash if client else _DUMMY_HASH, secret)
        if client is None or not ok:
            raise AuthError("invalid_client", "Authentication failed", 401)
        return Principal(client.client_id, client.org)

    def issue(self, principal: Principal) -> dict:
        now: datetime = self.clock()
        claims = {"sub": principal.client_id, "org": principal.org, "iat": int(now.timestamp()),
                  "ius": micros(now),  # issued at, in microseconds: what `pcf node revoke-tokens` compares
                  "exp": int((now + self.lifetime).timestamp()), "jti": secrets.token_hex(8)}
        return {"access_token": jwt.encode(claims, self._key, algorithm=ALGORITHM), "token_type": "Bearer",
                "expires_in": int(self.lifetime.total_seconds())}

    def verify(self, header: str | None) -> Principal:
        """The caller of a bearer-authenticated request; AuthError with PACT's code otherwise."""
        claims = self.claims(header)
        # revocation is checked on every request, outside the cache: one primary-key read, effective at once in
        # every process (pcf node remove-client, revoke-tokens)
        return self.current(claims, self.store.token_floor(str(claims["sub"])))

    def claims(self, header: str | None) -> dict:
        """The claims of the bearer token in `header` if it is well signed and unexpired; AuthError otherwise. Not
        yet a caller: `current` checks revocation against the client's token floor."""
        if not header or not header[:7].lower() == "bearer ":
            raise AuthError("BadRequest", "missing bearer token (Authorization: Bearer <token>)", 401)
        token = header[7:].strip()
        claims = self._verified.get(token)
        if claims is None:
            claims = self._claims(token)
        if claims["exp"] <= self.clock().timestamp():  # checked against the injected clock, not the wall clock
            raise AuthError("TokenExpired", "The specified access token has expired", 401)
        return claims

    @staticmethod
    def current(claims: dict, floor: int | None) -> Principal:
        """The caller whose token has these `claims`, given its client's token floor read just now (None: no such
        client); AuthError if the token was issued before the floor (revoked) or its client was removed. The API's
        hot path reads the floor with the page it serves (`NodeStore.list_visible`), the rest through `verify`."""
        issued = claims.get("ius")
        if floor is None or not isinstance(issued, int) or issued < floor:
            raise AuthError("BadRequest", "invalid access token (revoked, or its client was removed)", 401)
        return Principal(claims["sub"], claims["org"])

    def _claims(self, token: str) -> dict:
        """The claims of a token whose signature checks out, remembered for this process: a token is immutable, so
        its signature needs checking once (the API's hot path then costs a dict lookup). Expiry is checked on every
        request; anything that can end a token earlier must be checked beside this cache, not inside it."""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "org"],
                                "verify_exp": False})
        except jwt.PyJWTError:
            raise AuthError("BadRequest", "invalid access token", 401) from None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims
