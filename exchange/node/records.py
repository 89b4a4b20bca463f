"""From a canonical footprint to what the node stores: PACT JSON in both versions, at each disclosure level, and the
filter keys."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from exchange.pact import PactMappingError, from_v3, to_v2, to_v3
from exchange.pact.disclosure import LEVELS, SUMMARY, disclosed, level_of
from exchange.pact.own_extensions import COMPUTED
from exchange.pact.signing import SigningKey, sign
from lca_models.footprint import Footprint

from .storage import FootprintRecord, StoreError, meta

# PACT v3.0.3 Sec. 7.3: without a validity period a footprint is valid for 3 years from referencePeriodEnd.
DEFAULT_VALIDITY = timedelta(days=3 * 365 + 1)


def footprint_record(document: dict) -> FootprintRecord:
    """The stored form of a (signed) v3 document, kept as sent; its v2 form where v2 can express the footprint."""
    footprint = from_v3(document).footprint
    v3 = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    try:
        v2 = json.dumps(to_v2(footprint), ensure_ascii=False, separators=(",", ":"))
    except PactMappingError:
        v2 = None
    start = footprint.validity_period_start or footprint.reference_period_end
    end = footprint.validity_period_end or footprint.reference_period_end + DEFAULT_VALIDITY
    geographies = tuple(g for g in (footprint.geography_region_or_subregion, footprint.geography_country,
                                    footprint.geography_country_subdivision) if g)
    if footprint.geography_country_subdivision:  # a footprint for CN-HE lies within CN
        geographies += (footprint.geography_country_subdivision.split("-", 1)[0],)
    return FootprintRecord(
        id=footprint.id, status=footprint.status, created=footprint.created, validity_start=start, validity_end=end,
        v3_json=v3, v2_json=v2,
        keys={"product": footprint.product_ids, "company": footprint.company_ids,
              "classification": footprint.product_classifications, "geography": geographies},
    )


def signed_record(footprint: Footprint, key: SigningKey, signed_at: datetime) -> FootprintRecord:
    """The stored form of a footprint: its v3 document at each disclosure level, each signed by the node (v2 copies
    carry the same extension). The summary documents are the record's own; the levels that disclose more are its
    variants (none when the footprint has no computed details: every level is the summary then)."""
    variants = {}
    for level in LEVELS[1:LEVELS.index(level_of(footprint)) + 1]:  # the levels that disclose more than summary
        record = footprint_record(sign(to_v3(disclosed(footprint, level)), key, signed_at))
        variants[level] = (record.v3_json, record.v2_json)
    summary = footprint_record(sign(to_v3(disclosed(footprint, SUMMARY)), key, signed_at))
    return dataclasses.replace(summary, variants=variants)


def resigned(v3_json: str, key: SigningKey, signed_at: datetime, **changes) -> tuple[str, str | None]:
    """(v3, v2) documents of a stored v3 document with `changes` to its top-level fields (e.g. status), signed
    again by the node: the document changed, so its old signature no longer holds."""
    document = {**json.loads(v3_json), **changes}
    record = footprint_record(sign(document, key, signed_at))
    return record.v3_json, record.v2_json


def summary_documents(v3_json: str, key: SigningKey, signed_at: datetime) -> tuple[str, str | None]:
    """(v3, v2) summary documents of a stored document that carries the engine's computed details, re-signed."""
    document = json.loads(v3_json)
    kept = [e for e in document.get("extensions", []) if not (isinstance(e, dict) and e.get("dataSchema") == COMPUTED)]
    document.pop("extensions", None)
    return resigned(json.dumps(document), key, signed_at, **({"extensions": kept} if kept else {}))


def stored_key(connection) -> SigningKey:
    """The node's signing key, read in the caller's transaction (a schema upgrade re-signing documents)."""
    from .keys import KEY_NAME

    pem = connection.execute(select(meta.c.value).where(meta.c.key == f"secret:{KEY_NAME}")).scalar()
    if pem is None:
        raise StoreError("this node holds footprints but no signing key: the database is incomplete")
    return SigningKey.from_pem(pem)


def publish_footprints(store, footprints: list[Footprint], share_with: tuple[str, ...] = (), public: bool = False,
                       signed_at: datetime | None = None, level: str = SUMMARY) -> list[str]:
    """Sign and store footprints (all or none), shared with `share_with` organisations at disclosure `level`, or
    public (summary); returns their ids. A footprint recomputing a published product (same productIds,
    companyIds, reference period and geography) is its new version: it names the one(s) it replaces in
    `precedingPfIds`, those become Deprecated, and the organisations they were shared with get the new one
    (`versions.py`)."""
    from .keys import node_signing_key
    from .versions import supersede, with_predecessors

    key = node_signing_key(store)
    moment = signed_at or datetime.now(timezone.utc)
    footprints, replaced = with_predecessors(store, footprints)
    records = [signed_record(f, key, moment) for f in footprints]
    with store.transaction() as connection:
        store.publish(records, share_with=share_with, public=public, connection=connection, level=level)
        deprecated = supersede(store, connection, replaced, key, moment)
        notify_published(store, connection, [r.id for r in records], moment, deprecated)
    return [f.id for f in footprints]


STANDARD_WEBHOOK = "standard-webhook"  # outbox kind: a signed POST to a subscriber (Standard Webhooks)


def notify_published(store, connection, footprint_ids: list[str], now: datetime,
                     deprecated: list[str] | None = None) -> None:
    """Queue a `footprint.published` notice for every webhook subscriber, in the caller's transaction; `deprecated`
    names the footprints the new ones replace (now Deprecated)."""
    from webhooks.outbox import enqueue

    data: dict = {"pfIds": footprint_ids}
    if deprecated:
        data["deprecatedPfIds"] = deprecated
    for url in store.subscriptions(connection):
        message_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps({"type": "footprint.published", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "data": data})
        enqueue(connection, message_id, url, STANDARD_WEBHOOK, body, now)
