"""From a canonical footprint to what the node stores: PACT JSON in both versions, at each disclosure level, and the
filter keys."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from exchange.pact import PactMappingError, detect_version, from_v3, to_v2, to_v3
from exchange.pact.disclosure import LEVELS, SUMMARY, disclosed, level_of
from exchange.pact.own_extensions import COMPUTED
from exchange.pact.signing import SigningKey, sign, signature_of
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
    """The node's signing key, read in the caller's transaction (a schema upgrade re-signing documents): the active
    key, or on a database older than schema 7 the single key it kept in `meta`."""
    from .storage import LEGACY_KEY, active_key

    active = active_key(connection)
    pem = active[1] if active else connection.execute(select(meta.c.value).where(meta.c.key == LEGACY_KEY)).scalar()
    if pem is None:
        raise StoreError("this node holds footprints but no signing key: the database is incomplete")
    return SigningKey.from_pem(pem)


class NotOurFootprint(ValueError):
    """An unsigned footprint of another organisation: the node will not sign it (a signature means authorship)."""


def publish_footprints(store, footprints: list[Footprint], share_with: tuple[str, ...] = (), public: bool = False,
                       signed_at: datetime | None = None, level: str = SUMMARY) -> list[str]:
    """Sign and store footprints this node's organisation computed (all or none), shared with `share_with`
    organisations at disclosure `level`, or public (summary); returns their ids. A footprint recomputing a published
    product (same productIds, companyIds, reference period and geography) is its new version: it names the one(s) it
    replaces in `precedingPfIds`, those become Deprecated, and the organisations they were shared with get the new one
    (`versions.py`). Documents from elsewhere go through `publish_documents`."""
    return _publish(store, [], footprints, share_with, public, signed_at or datetime.now(timezone.utc), level)


def publish_documents(store, items: list[tuple[dict, Footprint]], share_with: tuple[str, ...] = (),
                      public: bool = False, signed_at: datetime | None = None, level: str = SUMMARY) -> list[str]:
    """Publish PACT documents (each with its loaded footprint), all or none; returns their ids.

    A signature means authorship: a signed document is stored verbatim, its signature and provenance kept and
    never replaced (whoever's it is; no disclosure levels or versions: its author decided them); an unsigned one is
    signed only when its companyIds are this organisation's (`pcf node init --company-id`), else NotOurFootprint
    says what to do instead. Our own go through `publish_footprints`' rules (levels, versions).
    """
    from .keys import node_identity

    identity = node_identity(store)
    verbatim, own = [], []
    for document, footprint in items:
        if signature_of(document) is not None:
            if detect_version(document) != "v3":
                raise NotOurFootprint(f"footprint {footprint.id}: a signed PACT v2 document cannot be served as v3 "
                                      "without breaking its signature: publish its signed v3 form")
            verbatim.append(footprint_record(document))
            continue
        if not identity.company_ids:
            raise NotOurFootprint(f"footprint {footprint.id} is unsigned and this node does not know its organisation "
                                  "yet: `pcf node init --org NAME --company-id URN` (only its own footprints are signed)")
        if not identity.owns(footprint.company_ids):
            raise NotOurFootprint(
                f"footprint {footprint.id} is unsigned and its companyIds ({', '.join(footprint.company_ids)}) are not "
                f"this organisation's ({', '.join(identity.company_ids)}): this node signs only footprints its "
                "organisation computed; ask its author for the signed document and publish that")
        own.append(footprint)
    return _publish(store, verbatim, own, share_with, public, signed_at or datetime.now(timezone.utc), level)


def _publish(store, verbatim: list[FootprintRecord], own: list[Footprint], share_with: tuple[str, ...], public: bool,
             moment: datetime, level: str) -> list[str]:
    """Store documents kept verbatim and our own footprints signed (with their versions), in one transaction."""
    from .keys import node_signing_key
    from .versions import supersede, with_predecessors

    own, replaced = with_predecessors(store, own)
    key = node_signing_key(store) if own else None
    records = verbatim + [signed_record(f, key, moment) for f in own]
    with store.transaction() as connection:
        store.publish(records, share_with=share_with, public=public, connection=connection, level=level)
        deprecated = supersede(store, connection, replaced, key, moment)
        notify_published(store, connection, [r.id for r in records], moment, deprecated)
    return [r.id for r in records]


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
