"""Schema 7 (disclosure levels) on a database made before it, on SQLite and PostgreSQL: `pcf node init` upgrades it
idempotently; organisations that were given a footprint keep what they had, everyone else gets the summary."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from exchange.node.keys import node_signing_key
from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from exchange.pact.own_extensions import COMPUTED
from exchange.pact.signing import canonical_digest, jwks, verify
from tests.node.test_disclosure_and_versions import LINE, computed
from tests.support.pact import PACT_FIXTURES, read_json


def as_version_6(store) -> None:
    """What a database of the previous release holds: one document per footprint, every computed detail in it, no
    footprint_disclosures, no shares.level."""
    with store.engine.begin() as connection:
        for seq, document in connection.execute(text("SELECT seq, v3_json FROM footprint_disclosures "
                                                     "WHERE level = 'full'")).all():
            connection.execute(text("UPDATE footprints SET v3_json = :d WHERE seq = :s"), {"d": document, "s": seq})
        connection.execute(text("DROP TABLE footprint_disclosures"))
        connection.execute(text("ALTER TABLE shares DROP COLUMN level"))
        connection.execute(text("UPDATE meta SET value = '6' WHERE key = 'schema_version'"))


def test_a_version_6_database_is_upgraded_without_leaking_line_items(store):
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    given, public = computed(base, 1, "urn:pact:product:given"), computed(base, 2, "urn:pact:product:public")
    plain = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json")).footprint  # no computed details
    publish_footprints(store, [given, plain], share_with=("BuyerCo",), level="full")
    publish_footprints(store, [public], public=True)
    as_version_6(store)
    with pytest.raises(Exception, match="run `pcf node init` to upgrade"):
        store.check_schema()
    with store.engine.connect() as connection:
        old_documents = dict(connection.execute(text("SELECT id, v3_json FROM footprints")).all())
    assert all(COMPUTED in old_documents[f.id] for f in (given, public))  # what was served to everyone before

    store.init_schema()
    store.init_schema()  # idempotent
    store.check_schema()
    trusted = jwks([node_signing_key(store)])
    assert store.get(given.id, "BuyerCo").v3_json == old_documents[given.id]  # BuyerCo had it all: it keeps it
    for footprint_id, org in ((given.id, "OtherCo"), (public.id, "OtherCo"), (public.id, "BuyerCo")):
        served = store.get(footprint_id, org).v3_json
        assert LINE not in served and COMPUTED not in served, (footprint_id, org)
        document = json.loads(served)
        assert next(c for c in verify(document, trusted) if c.name == "signature").ok
        assert canonical_digest(document) == canonical_digest(json.loads(old_documents[footprint_id]))
    assert store.get(plain.id, "BuyerCo").v3_json == old_documents[plain.id]  # nothing to hide: untouched
    store.share(public.id, ["NewCo"], level="full")
    assert LINE in store.get(public.id, "NewCo").v3_json  # the full variant was kept for whoever is given it
