"""The event type names the node accepts and sends are the `const`s of the official OpenAPI event schemas."""

from __future__ import annotations

import pytest

from exchange.node.events import EVENT_TYPES, KINDS, VERSIONS, check_event, event_type, kind_of, version_of
from exchange.pact import PactValidationError
from tests.support.pact import openapi

SCHEMA_OF = {"Published": "PublishedEvent", "RequestCreated": "RequestCreatedEvent",
             "RequestFulfilled": "RequestFulfilledEvent", "RequestRejected": "RequestRejectedEvent"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_type_name_is_the_official_openapi_const(kind, version):
    schema = openapi(version)["components"]["schemas"][SCHEMA_OF[kind]]
    assert event_type(kind, version) == schema["properties"]["type"]["const"]
    assert (kind_of(event_type(kind, version)), version_of(event_type(kind, version))) == (kind, version)


def test_the_table_covers_every_kind_in_every_version_once():
    assert set(EVENT_TYPES) == {(kind, version) for kind in KINDS for version in VERSIONS}
    assert len(set(EVENT_TYPES.values())) == len(EVENT_TYPES)


@pytest.mark.parametrize("endpoint, other", [("v3", "v2"), ("v2", "v3")])
def test_an_endpoint_accepts_its_own_versions_names_only(endpoint, other):
    event = {"specversion": "1.0", "id": "e1", "source": "//peer.example", "time": "2026-01-01T00:00:00Z",
             "data": {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]}}
    assert check_event({**event, "type": event_type("Published", endpoint)}, endpoint)["kind"] == "Published"
    with pytest.raises(PactValidationError, match="/type: unknown event type for PACT"):
        check_event({**event, "type": event_type("Published", other)}, endpoint)
