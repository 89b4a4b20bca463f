"""From a canonical footprint to what the node stores: PACT JSON in both versions and the filter keys."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from exchange.pact import PactMappingError, from_v3, to_v2, to_v3
from exchange.pact.signing import SigningKey, sign
from lca_models.footprint import Footprint

from .storage import FootprintRecord

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
    """The stored form of a footprint, its v3 document signed by the node (v2 copies carry the same extension)."""
    return footprint_record(sign(to_v3(footprint), key, signed_at))


def publish_footprints(store, footprints: list[Footprint], share_with: tuple[str, ...] = (), public: bool = False,
                       signed_at: datetime | None = None) -> list[str]:
    """Sign and store footprints (all or none), shared with `share_with` organisations or public; returns their ids."""
    from .keys import node_signing_key

    key = node_signing_key(store)
    moment = signed_at or datetime.now(timezone.utc)
    records = [signed_record(f, key, moment) for f in footprints]
    with store.transaction() as connection:
        store.publish(records, share_with=share_with, public=public, connection=connection)
        notify_published(store, connection, [r.id for r in records], moment)
    return [f.id for f in footprints]


STANDARD_WEBHOOK = "standard-webhook"  # outbox kind: a signed POST to a subscriber (Standard Webhooks)


def notify_published(store, connection, footprint_ids: list[str], now: datetime) -> None:
    """Queue a `footprint.published` notice for every webhook subscriber, in the caller's transaction."""
    from webhooks.outbox import enqueue

    for url in store.subscriptions(connection):
        message_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps({"type": "footprint.published", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "data": {"pfIds": footprint_ids}})
        enqueue(connection, message_id, url, STANDARD_WEBHOOK, body, now)
