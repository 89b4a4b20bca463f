"""A client for a PACT node's REST API (v3.0.3 at `/3`, v2.3.3 at `/2`), built on `requests`.

It does what every caller of another tier's node would otherwise repeat: OAuth2 client credentials with the
token endpoint found by OpenID discovery (PACT v3 "Authentication Flow"), a cached token renewed before it
expires and once more on a 401, pagination along the absolute `Link: <...>; rel="next"` headers, PACT error
bodies turned into one exception type, and retries with exponential backoff and full jitter for what is
transient (connection failures, timeouts, 429, 5xx) and for nothing else.

Every request carries an explicit `timeout=` and `verify=`: requests lets `REQUESTS_CA_BUNDLE` override a
session's `verify`, so only a per-request value makes `ca_bundle` (a self-signed node's certificate) effective.
Sleep, randomness and the clock are injected so that tests of backoff and token expiry run instantly.

A client holds a `requests.Session` and its token cache: use one per thread.
"""

from __future__ import annotations

import json
import math
import random as _random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests

from lca_models.strict_json import StrictJsonError
from lca_models.strict_json import loads as strict_loads
from webhooks.outbound import OutboundRefused, guarded_session

__all__ = ["PactClient", "PactClientError", "PactDocumentRefused"]

EVENT_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
TOKEN_MARGIN = 30.0  # seconds before `expires_in` at which a cached token is renewed, to absorb clock and transit
_VERSION_PREFIX = {"v3": "/3", "v2": "/2"}


class PactClientError(Exception):
    """A request the node refused or that could not be completed.

    `status` is the HTTP status (None when no response arrived), `code` the PACT error code (`NotFound`,
    `BadRequest`, ...) or, from the token endpoint, the RFC 6749 `error` (`invalid_client`, ...); `url` is the
    URL that failed.
    """

    def __init__(self, status: int | None, code: str | None, message: str, url: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.url = status, code, message, url

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        return f"{head + ': ' if head else ''}{self.message} ({self.url})"


class PactDocumentRefused(PactClientError, ValueError):
    """The node answered, but with a body this toolkit refuses (duplicate keys, NaN): a verdict on the document,
    not a transport failure (verify reports it as ✗, not as "not reachable")."""


class _Transient(Exception):
    """A failure worth another attempt: the response (429/5xx) or the connection error message."""

    def __init__(self, response: requests.Response | None, message: str, url: str) -> None:
        super().__init__(message)
        self.response, self.message, self.url = response, message, url


def _json_or_none(response: requests.Response) -> Any:
    """The body as strict JSON, or None when it is not (error and token bodies: their text is the fallback)."""
    try:
        return strict_loads(response.content)
    except ValueError:
        return None


def _document(response: requests.Response) -> Any:
    """The body of a footprint response as strict JSON; PactClientError with the pointer of a duplicated key or
    NaN (a document two parsers would read differently is refused, not resolved)."""
    try:
        return strict_loads(response.content)
    except StrictJsonError as error:
        raise PactDocumentRefused(response.status_code, None, f"the response is not accepted JSON: {error}",
                                  response.url) from None
    except ValueError:
        return None


def _retry_after(response: requests.Response | None) -> float | None:
    """A numeric `Retry-After` (seconds); the HTTP-date form and nonsense are ignored."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _api_error(response: requests.Response, url: str) -> PactClientError:
    """PactClientError from a PACT error body `{code, message}`, or from whatever else the server sent."""
    body = _json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        message = body.get("message")
        return PactClientError(response.status_code, body["code"],
                               message if isinstance(message, str) else response.reason or "error", url)
    text = (response.text or "").strip()[:200]
    return PactClientError(response.status_code, None, text or response.reason or f"HTTP {response.status_code}", url)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class PactClient:
    """One PACT node, seen by one OAuth2 client (`client_id`/`client_secret`).

    `base_url` is the node's root (the API lives at `{base_url}/3/...` and `{base_url}/2/...`);
    `auth_base_url` is the spec's `$auth-base-url$` when the authorization server lives elsewhere.
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, auth_base_url: str | None = None,
                 ca_bundle: str | None = None, verify_tls: bool = True, timeout: float = 10.0, max_retries: int = 5,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, random: Callable[[], float] = _random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.auth_base_url = (auth_base_url or base_url).rstrip("/")
        self._credentials = (client_id, client_secret)
        # ca_bundle wins: a self-signed test node is trusted through its certificate, never by turning checks off.
        self._verify: str | bool = ca_bundle if ca_bundle else verify_tls
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._owns_session = session is None
        # the default session refuses non-public targets unless allowed (webhooks.outbound, docs/security.md)
        self._session = session if session is not None else guarded_session()
        self._sleep, self._random, self._clock = sleep, random, clock
        self._token_endpoint: str | None = None
        self._access_token: str | None = None
        self._token_expires_at: float = -math.inf

    # --- transport

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One logical request with retries for transient failures; the final response, whatever its status."""
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, **kwargs)
            except _Transient as failure:
                if attempt >= self.max_retries:
                    if failure.response is not None:
                        raise _api_error(failure.response, failure.url) from None
                    raise PactClientError(None, None, failure.message, failure.url) from None
                delay = self._random() * min(self.backoff_max, self.backoff_base * 2 ** attempt)
                retry_after = _retry_after(failure.response)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self._sleep(delay)
                attempt += 1

    def _attempt(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.request(method, url, timeout=self.timeout, verify=self._verify, **kwargs)
        except OutboundRefused as error:  # before ConnectionError: a forbidden address is not transient
            raise PactClientError(None, None, f"refused by the outbound policy: {error}", url) from None
        except requests.exceptions.SSLError as error:
            # A certificate that does not verify will not verify on the next attempt either.
            raise PactClientError(None, None, f"TLS error: {error}", url) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            failed = getattr(error.request, "url", None) or url
            raise _Transient(None, f"{type(error).__name__}: {error}", failed) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(response, f"HTTP {response.status_code}", response.url or url)
        return response

    # --- authentication

    def _discover_token_endpoint(self) -> str:
        """OpenID discovery, else `$auth-base-url$/auth/token` (PACT v3 "Authentication Flow")."""
        if self._token_endpoint is None:
            fallback = f"{self.auth_base_url}/auth/token"
            response = self._send("GET", f"{self.auth_base_url}/.well-known/openid-configuration",
                                  headers={"Accept": "application/json"})
            document = _json_or_none(response) if response.ok else None
            endpoint = document.get("token_endpoint") if isinstance(document, dict) else None
            self._token_endpoint = endpoint if isinstance(endpoint, str) and endpoint else fallback
        return self._token_endpoint

    def token(self) -> str:
        """A valid access token: the cached one, or a new one when it is within 30 s of expiry."""
        if self._access_token is not None and self._clock() < self._token_expires_at:
            return self._access_token
        endpoint = self._discover_token_endpoint()
        requested_at = self._clock()
        response = self._send("POST", endpoint, data={"grant_type": "client_credentials"},
                              auth=self._credentials, headers={"Accept": "application/json"})
        body = _json_or_none(response)
        if not response.ok:
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                description = body.get("error_description")
                raise PactClientError(response.status_code, body["error"],
                                      description if isinstance(description, str) else body["error"], endpoint)
            raise _api_error(response, endpoint)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PactClientError(response.status_code, None, "the token response has no access_token", endpoint)
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise PactClientError(response.status_code, None, f"unsupported token_type {token_type!r}", endpoint)
        expires_in = body.get("expires_in")
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            self._token_expires_at = requested_at + max(0.0, float(expires_in) - TOKEN_MARGIN)
        else:  # RFC 6749 leaves expires_in optional: keep the token until the API answers 401
            self._token_expires_at = math.inf
        self._access_token = token
        return token

    def _api(self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """An authenticated call; a 401 renews the token and repeats the call once. Errors raise."""
        for renewed in (False, True):
            if renewed:
                self._access_token, self._token_expires_at = None, -math.inf
            response = self._send(method, url, headers={"Accept": "application/json", **(headers or {}),
                                                        "Authorization": f"Bearer {self.token()}"}, **kwargs)
            if response.status_code != 401:
                break
        if response.status_code >= 400:
            raise _api_error(response, response.url or url)
        return response

    # --- API

    def _prefix(self, version: str) -> str:
        try:
            return f"{self.base_url}{_VERSION_PREFIX[version]}"
        except KeyError:
            raise ValueError(f"version must be 'v3' or 'v2', not {version!r}") from None

    def list_footprints(self, version: str = "v3", limit: int | None = None,
                        **filters: str | list[str]) -> Iterator[dict]:
        """Every footprint the node shows this client, page after page, lazily.

        `limit` is the page size asked for; `filters` are the spec's query parameters (`productId`,
        `companyId`, `geography`, `classification`, `validOn`, `validAfter`, `validBefore`, `status`): a list
        value is repeated (OR within a criterion), different criteria combine with AND on the node.
        """
        params: list[tuple[str, str]] = []
        if limit is not None:
            params.append(("limit", str(limit)))
        for name, value in filters.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            params += [(name, str(v)) for v in values]
        url: str | None = f"{self._prefix(version)}/footprints"
        origin, visited = _origin(self.base_url), set()
        first = True
        while url:
            response = self._api("GET", url, params=params if first else None)
            first = False
            visited.add(response.url)
            body = _document(response)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise PactClientError(response.status_code, None, "the response has no data list", response.url)
            yield from body["data"]
            link = response.links.get("next", {}).get("url")
            if not link:
                return
            url = urljoin(response.url, link)
            # The bearer token goes wherever the link points: only ever to the node itself, and never in circles.
            if _origin(url) != origin:
                raise PactClientError(response.status_code, None, f"next link leaves the node: {url}", response.url)
            if url in visited:
                raise PactClientError(response.status_code, None, "next link repeats a page already read", url)

    def get_footprint(self, footprint_id: str, version: str = "v3") -> dict:
        """The footprint with this id (the response's `data` object)."""
        url = f"{self._prefix(version)}/footprints/{quote(footprint_id, safe='')}"
        response = self._api("GET", url)
        body = _document(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise PactClientError(response.status_code, None, "the response has no data object", response.url)
        return body["data"]

    def send_event(self, event: dict, version: str = "v3") -> None:
        """POST a CloudEvent in structured mode; the node acknowledges with 200 (repeats are safe: it dedups)."""
        url = f"{self._prefix(version)}/events"
        payload = json.dumps(event, ensure_ascii=False).encode("utf-8")
        response = self._api("POST", url, data=payload, headers={"Content-Type": EVENT_CONTENT_TYPE})
        if response.status_code != 200:
            raise PactClientError(response.status_code, None,
                                  f"expected 200 for an event, got {response.status_code}", response.url or url)

    # --- lifetime

    def close(self) -> None:
        """Close the session if this client created it (a session passed in belongs to the caller)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> PactClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
