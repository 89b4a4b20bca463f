"""From a canonical footprint to what the node stores: PACT JSON in both versions and the filter keys."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from exchange.pact import PactMappingError, detect_version, from_v3, to_v2, to_v3
from exchange.pact.signing import SigningKey, sign, signature_of
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


class NotOurFootprint(ValueError):
    """An unsigned footprint of another organisation: the node will not sign it (a signature means authorship)."""


def publish_footprints(store, footprints: list[Footprint], share_with: tuple[str, ...] = (), public: bool = False,
                       signed_at: datetime | None = None) -> list[str]:
    """Sign and store footprints this node's organisation computed (all or none), shared with `share_with`
    organisations or public; returns their ids. Documents from elsewhere go through `publish_documents`."""
    from .keys import node_signing_key

    key = node_signing_key(store)
    moment = signed_at or datetime.now(timezone.utc)
    return _store_and_notify(store, [signed_record(f, key, moment) for f in footprints], share_with, public, moment)


def publish_documents(store, items: list[tuple[dict, Footprint]], share_with: tuple[str, ...] = (),
                      public: bool = False, signed_at: datetime | None = None) -> list[str]:
    """Publish PACT documents (each with its loaded footprint), all or none; returns their ids.

    A signature means authorship: a signed document is stored verbatim, its signature and provenance kept and
    never replaced (whoever's it is); an unsigned one is signed only when its companyIds are this organisation's
    (`pcf node init --company-id`), else NotOurFootprint says what to do instead.
    """
    from .keys import node_identity, node_signing_key

    identity = node_identity(store)
    moment = signed_at or datetime.now(timezone.utc)
    records, key = [], None
    for document, footprint in items:
        if signature_of(document) is not None:
            if detect_version(document) != "v3":
                raise NotOurFootprint(f"footprint {footprint.id}: a signed PACT v2 document cannot be served as v3 "
                                      "without breaking its signature: publish its signed v3 form")
            records.append(footprint_record(document))
            continue
        if not identity.company_ids:
            raise NotOurFootprint(f"footprint {footprint.id} is unsigned and this node does not know its organisation "
                                  "yet: `pcf node init --org NAME --company-id URN` (only its own footprints are signed)")
        if not identity.owns(footprint.company_ids):
            raise NotOurFootprint(
                f"footprint {footprint.id} is unsigned and its companyIds ({', '.join(footprint.company_ids)}) are not "
                f"this organisation's ({', '.join(identity.company_ids)}): this node signs only footprints its "
                "organisation computed; ask its author for the signed document and publish that")
        key = key or node_signing_key(store)
        records.append(signed_record(footprint, key, moment))
    return _store_and_notify(store, records, share_with, public, moment)


def _store_and_notify(store, records: list[FootprintRecord], share_with: tuple[str, ...], public: bool,
                      moment: datetime) -> list[str]:
    with store.transaction() as connection:
        store.publish(records, share_with=share_with, public=public, connection=connection)
        notify_published(store, connection, [r.id for r in records], moment)
    return [r.id for r in records]


STANDARD_WEBHOOK = "standard-webhook"  # outbox kind: a signed POST to a subscriber (Standard Webhooks)


def notify_published(store, connection, footprint_ids: list[str], now: datetime) -> None:
    """Queue a `footprint.published` notice for every webhook subscriber, in the caller's transaction."""
    from webhooks.outbox import enqueue

    for url in store.subscriptions(connection):
        message_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps({"type": "footprint.published", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "data": {"pfIds": footprint_ids}})
        enqueue(connection, message_id, url, STANDARD_WEBHOOK, body, now)
