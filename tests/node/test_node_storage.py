"""The repository on both databases: SQLite (default) and PostgreSQL (the server on 127.0.0.1:5432)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timezone

import pytest

from exchange.node.records import publish_footprints
from exchange.node.storage import Filters, StoreError
from exchange.pact import from_v3
from tests.support.pact import PACT_FIXTURES, read_json


@pytest.fixture
def footprint():
    return from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint


def test_init_is_idempotent_and_versioned(store):
    store.init_schema()
    store.check_schema()


def test_publish_share_list_and_get(store, footprint):
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    page = store.list_visible("BuyerCo", Filters(geography=("us",)), 0, 10)
    assert [json.loads(json_text)["id"] for _, json_text in page.items] == [footprint.id]
    assert store.list_visible("OtherCo", Filters(), 0, 10).items == []
    stored = store.get(footprint.id.upper())
    assert stored.shared_with == frozenset({"BuyerCo"}) and stored.v3_json.startswith("{")


def test_footprints_are_immutable_and_a_failed_batch_writes_nothing(store, footprint):
    other = dataclasses.replace(footprint, id=str(uuid.uuid4()))
    publish_footprints(store, [footprint])
    with pytest.raises(StoreError, match="immutable"):
        publish_footprints(store, [other, footprint])  # the second collides: the first must not stay
    assert store.count() == 1 and store.get(other.id) is None


def test_events_are_kept_once_per_source_and_id(store):
    now = datetime.now(timezone.utc)
    assert store.record_event("e1", "//a", "t", "Org", "{}", now)
    assert not store.record_event("e1", "//a", "t", "Org", "{}", now)
    assert store.record_event("e1", "//b", "t", "Org", "{}", now)
    assert len(store.list_events()) == 2


def test_node_secret_is_created_once(store):
    first = store.secret("k", lambda: "one")
    assert store.secret("k", lambda: "two") == first == "one"
