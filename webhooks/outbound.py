"""Where the node may send requests: public addresses, plus what the operator allows (SSRF defence).

A node sends HTTP requests to URLs that others influence: a requester's `source` (where answers go), webhook
subscriber URLs, peer nodes, token endpoints found by discovery, redirects. Without a check, a node could be
pointed at its own loopback services, the cloud metadata service (169.254.169.254) or the private network.
So every outbound request goes through `guarded_session()`: its adapter resolves the host of each request it
sends (redirects included: requests sends each hop through the adapter) and refuses unless every resolved address
is public or explicitly allowed.

The allow-list comes from `PCF_OUTBOUND_ALLOW` (comma-separated: IP addresses, CIDR networks, host names, or the
keywords `loopback` and `private`), read on every check so a running process follows its environment. Local
demo and test nodes run on 127.0.0.1 and therefore set `PCF_OUTBOUND_ALLOW=loopback` explicitly
(`pcf.tiers.local_nodes`, `tests/conftest.py`). Known limit: the name is resolved here and again by the HTTP library;
a DNS server that answers differently within milliseconds (rebinding) is not defeated (docs/security.md).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

ENV = "PCF_OUTBOUND_ALLOW"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
KEYWORDS: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
}


class OutboundRefused(requests.exceptions.InvalidURL):
    """A request to a URL this node may not contact; the message names the URL, the address and why."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Public addresses are allowed; loopback, private, link-local, metadata, multicast and reserved ones are
    refused unless their network or host name is listed."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str) -> OutboundPolicy:
        """`"loopback, 10.1.0.0/16, erp.example.com"` -> policy; ValueError naming a malformed entry."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            for item in KEYWORDS.get(entry.lower(), (entry,)):
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    if not all(c.isalnum() or c in ".-" for c in item):
                        raise ValueError(f"{ENV}: {item!r} is not an IP address, network or host name") from None
                    hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_env(cls) -> OutboundPolicy:
        return cls.parse(os.environ.get(ENV, ""))

    def lists(self, url: str) -> bool:
        """Does the operator's allow-list name `url`'s host (by name, or every address it resolves to)?

        Public addresses pass `check` without being listed; this asks for more: where plain HTTP may be used
        (PACT requires TLS, so only hosts the operator named, such as loopback test services, get it)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            return False
        if host in self.hosts:
            return True
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)}
        except (socket.gaierror, UnicodeError, ValueError):
            return False
        resolved = []
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            resolved.append(getattr(address, "ipv4_mapped", None) or address)
        return bool(resolved) and all(any(a in network for network in self.networks) for a in resolved)

    def check(self, url: str) -> None:
        """Return if `url` may be contacted; OutboundRefused otherwise. Resolves the host name."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise OutboundRefused(f"{url}: only http(s) URLs may be contacted")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise OutboundRefused(f"{url}: no host")
        if host in self.hosts:
            return
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise OutboundRefused(f"{url}: malformed port") from None
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundRefused(f"{url}: cannot resolve {host} ({exc})") from None
        for text in sorted(addresses):
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if getattr(address, "ipv4_mapped", None):
                address = address.ipv4_mapped
            if any(address in network for network in self.networks):
                continue
            if not address.is_global or address.is_multicast:
                raise OutboundRefused(
                    f"{url}: {host} resolves to {address}, a non-public address (loopback, private, link-local or "
                    f"metadata); allow it with {ENV} if this node really should contact it")


class _GuardedAdapter(HTTPAdapter):
    """Checks each request's URL against the policy just before sending it (every redirect hop too)."""

    def __init__(self, policy: OutboundPolicy | None) -> None:
        super().__init__()
        self.policy = policy

    def send(self, request, *args, **kwargs):  # noqa: ANN001 - requests' own signature
        (self.policy or OutboundPolicy.from_env()).check(request.url)
        return super().send(request, *args, **kwargs)


def guarded_session(policy: OutboundPolicy | None = None) -> requests.Session:
    """A requests Session that refuses non-allowed targets; `policy` None follows PCF_OUTBOUND_ALLOW."""
    session = requests.Session()
    adapter = _GuardedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def check_url(url: str) -> None:
    """OutboundRefused if the environment's policy forbids `url` (for a clear error before any work is done)."""
    OutboundPolicy.from_env().check(url)
