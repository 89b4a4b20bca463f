"""Where a node sends things: an event's `source` as a URL, the answer's address, a peer's credentials key.

PACT names the sender of an event in its CloudEvents `source`; the answer to a request goes there. The spec's own
examples write it as a network-path reference, `"source": "//api.recipient.org/3/events"` (v3.0.3 "Example
ProductFootprint.RequestCreated"), other hosts (WBCSD's conformance service among them) as an absolute URL with no
path. Both are accepted: `//...` means https, `https://...` is kept, and plain `http://...` is used only for a host
the operator lists in `PCF_OUTBOUND_ALLOW` (PACT requires TLS: loopback test services get it, public hosts never).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from webhooks.outbound import ENV, OutboundPolicy

_SOURCE = re.compile(r"^(?:(https?):)?//([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?(/[^\s?#]*)?$", re.IGNORECASE)
_EVENTS_PATH = re.compile(r"/[23]/events$")
_DEFAULT_PORT = {"https": 443, "http": 80}


class UnusableSource(ValueError):
    """A `source` this node could never send an answer to (malformed, or plain HTTP to a host not listed)."""


def source_url(source: str, policy: OutboundPolicy | None = None) -> str:
    """The absolute URL of an event's `source` (scheme kept, `//` as https, no trailing slash); UnusableSource
    for anything else, or for `http://` to a host the outbound policy does not list."""
    match = _SOURCE.match(source.strip())
    if not match:
        raise UnusableSource(f"source {source!r} is neither //host[:port][/path] nor an http(s) URL: "
                             "the answer could not be sent back")
    scheme = (match.group(1) or "https").lower()
    url = f"{scheme}://{match.group(2).lower()}{match.group(3) or ''}{(match.group(4) or '').rstrip('/')}"
    if scheme == "http" and not (policy or OutboundPolicy.from_env()).lists(url):
        raise UnusableSource(f"source {source!r}: PACT requires TLS, and plain http is used only for hosts this "
                             f"node's operator lists in {ENV}")
    return url


def answer_url(source: str, version: str, policy: OutboundPolicy | None = None) -> str:
    """Where the answer to a request from `source` goes: the source itself when its path already ends in
    `/3/events` or `/2/events`, else the source + `/3/events` (`/2/events` for a v2 request)."""
    url = source_url(source, policy)
    if _EVENTS_PATH.search(urlsplit(url).path):
        return url
    return url + ("/2/events" if version == "v2" else "/3/events")


def api_base(url: str) -> str:
    """The base URL of a host's API (`/3/...` and `/2/...` below it) from its events URL or base URL."""
    return _EVENTS_PATH.sub("", url.rstrip("/"))


def peer_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased and without the scheme's default port: the key under which
    a peer node's credentials are kept (so `https://Node.example:443/x` and `https://node.example` are one peer)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if scheme not in _DEFAULT_PORT or not host:
        return url.strip().rstrip("/")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORT[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"
