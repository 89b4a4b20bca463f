"""An event's `source` as an address: the spec's `//host` form and absolute URLs, the answer's URL, peer keys."""

from __future__ import annotations

import pytest

from exchange.node.addresses import UnusableSource, answer_url, api_base, peer_origin, source_url
from webhooks.outbound import OutboundPolicy

LOOPBACK = OutboundPolicy.parse("loopback")
NOTHING = OutboundPolicy.parse("")


@pytest.mark.parametrize("source, version, expected", [
    ("//api.recipient.org/3/events", "v3", "https://api.recipient.org/3/events"),  # v3.0.3 spec examples
    ("//api.recipient.org/2/events", "v2", "https://api.recipient.org/2/events"),
    ("//Buyer.Example:8443", "v3", "https://buyer.example:8443/3/events"),
    ("//buyer.example/pact/", "v2", "https://buyer.example/pact/2/events"),
    ("https://api.example.com/v3/events", "v3", "https://api.example.com/v3/events/3/events"),  # OpenAPI example
    ("https://api.example.com/3/events", "v2", "https://api.example.com/3/events"),  # the source as given
    ("HTTPS://[::1]:9443", "v3", "https://[::1]:9443/3/events"),
    ("http://127.0.0.1:8004", "v3", "http://127.0.0.1:8004/3/events"),  # WBCSD's conformance service, listed
    ("http://127.0.0.1:8004/", "v2", "http://127.0.0.1:8004/2/events"),
])
def test_answer_url(source, version, expected):
    assert answer_url(source, version, LOOPBACK) == expected


@pytest.mark.parametrize("source, policy", [
    ("http://127.0.0.1:8004", NOTHING),  # plain http only for hosts the operator lists
    ("http://93.184.216.34", LOOPBACK),  # a public host: PACT requires TLS
    ("ftp://buyer.example", LOOPBACK),
    ("buyer.example", LOOPBACK),
    ("//buyer.example/x?y=1", LOOPBACK),
    ("//bad host", LOOPBACK),
    ("", LOOPBACK),
])
def test_sources_no_answer_could_reach(source, policy):
    with pytest.raises(UnusableSource):
        source_url(source, policy)


def test_a_listed_host_name_gets_http():
    assert source_url("http://conformance.test:8004", OutboundPolicy.parse("conformance.test")) == "http://conformance.test:8004"


@pytest.mark.parametrize("url, expected", [
    ("https://Node.Example:443/x/y", "https://node.example"),
    ("https://node.example:8443/", "https://node.example:8443"),
    ("http://127.0.0.1:80", "http://127.0.0.1"),
    ("http://127.0.0.1:8004/3/events", "http://127.0.0.1:8004"),
    ("https://[::1]:9443/3", "https://[::1]:9443"),
])
def test_peer_origin(url, expected):
    assert peer_origin(url) == expected


def test_api_base_strips_the_events_path_only():
    assert api_base("https://api.example.com/pact/3/events") == "https://api.example.com/pact"
    assert api_base("http://127.0.0.1:8004") == "http://127.0.0.1:8004"
    assert api_base("https://api.example.com/v3/events") == "https://api.example.com/v3/events"


def test_the_policy_lists_names_and_networks_not_every_public_address():
    assert LOOPBACK.lists("http://127.0.0.1:8004") and LOOPBACK.lists("http://localhost:1")
    assert not LOOPBACK.lists("http://10.0.0.1") and not NOTHING.lists("http://93.184.216.34")
    assert OutboundPolicy.parse("10.0.0.0/8").lists("http://10.1.2.3:80")
