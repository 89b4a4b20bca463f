"""Versions as PACT defines them (spec v3.0.3 Sec. 7.2): a change to a published footprint is a new footprint.

A recomputation of a product this node published (same productIds, same companyIds: the same organisation's product;
same reference period and geography: the same scope, as footprints of other years or regions coexist) is its new
version: it names the Active footprint(s) it replaces in `precedingPfIds`; each of those becomes
`Deprecated`, the one change the spec allows to a published footprint, so its stored documents change in status only
and are signed again at each level (they are this node's own footprints). The organisations the old version was
shared with get the new one at the same level (public stays public), and the peers among them, the nodes their
requests came from, get a PACT Published event naming both; webhook subscribers get `footprint.published`
(`records.notify_published`). All of it happens in the publishing transaction.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from sqlalchemy.engine import Connection

from exchange.pact.signing import SigningKey
from lca_models.footprint import Footprint
from webhooks.outbox import enqueue

from .addresses import UnusableSource, answer_url
from .events import PUBLISHED, REQUEST_CREATED, event_type
from .records import resigned
from .storage import NodeStore

DEPRECATED = "Deprecated"


def with_predecessors(store: NodeStore, footprints: list[Footprint]) -> tuple[list[Footprint], dict[str, list[str]]]:
    """The footprints with `precedingPfIds` naming the Active footprints they replace, and new id -> replaced ids.

    A footprint whose id is stored already (the same model computed again gives the same id) is no new version."""
    out, replaced = [], {}
    for footprint in footprints:
        if footprint.status != "Active" or store.get(footprint.id) is not None:
            out.append(footprint)
            continue
        older = [i for i, document in store.active_versions(footprint.product_ids, footprint.company_ids)
                 if i != footprint.id.lower() and _same_scope(footprint, json.loads(document))]
        if older:
            preceding = tuple(dict.fromkeys(footprint.preceding_pf_ids + tuple(older)))
            footprint = dataclasses.replace(footprint, preceding_pf_ids=preceding)
            replaced[footprint.id] = older
        out.append(footprint)
    return out, replaced


def _instant(text) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _same_scope(footprint: Footprint, document: dict) -> bool:
    """Does a stored footprint cover what `footprint` covers: the same reference period and geography? Footprints
    of one product for other years or regions coexist, each Active; only the same scope computed again replaces."""
    pcf = document.get("pcf", {})
    return (_instant(pcf.get("referencePeriodStart")) == footprint.reference_period_start
            and _instant(pcf.get("referencePeriodEnd")) == footprint.reference_period_end
            and pcf.get("geographyRegionOrSubregion") == footprint.geography_region_or_subregion
            and pcf.get("geographyCountry") == footprint.geography_country
            and pcf.get("geographyCountrySubdivision") == footprint.geography_country_subdivision)


def supersede(store: NodeStore, connection: Connection, replaced: dict[str, list[str]], key: SigningKey,
              now: datetime) -> list[str]:
    """Deprecate the replaced footprints (re-signed at each level), give the new versions their audience and queue
    a Published event to the peers among it, in the caller's transaction; returns the deprecated ids."""
    deprecated: list[str] = []
    for new_id, older in replaced.items():
        audience: set[str] = set()
        for old_id in older:
            documents = {level: resigned(v3, key, now, status=DEPRECATED)
                         for level, v3 in store.documents_of(old_id, connection).items()}
            store.deprecate(old_id, documents, connection)
            audience |= set(store.carry_audience(old_id, new_id, connection))
            deprecated.append(old_id)
        _announce(store, connection, sorted(audience), [new_id, *older], now)
    return deprecated


def _announce(store: NodeStore, connection: Connection, orgs: list[str], footprint_ids: list[str], now: datetime) -> None:
    """Queue a PACT Published event naming `footprint_ids` to the node of each organisation in `orgs` this node
    can reach: where that organisation's latest request came from, when this node has credentials for it."""
    from .workflow import PACT_EVENT, cloud_event, own_source, request_version

    latest: dict[str, dict] = {}
    for request in store.list_events(REQUEST_CREATED):
        if request["org"] in orgs:
            latest[request["org"]] = request  # oldest first: the last one wins
    for org in orgs:
        request = latest.get(org)
        if request is None:
            continue
        version = request_version(request)
        try:
            target = answer_url(request["source"], version)
        except UnusableSource:
            continue
        if store.get_peer(target) is None:
            continue
        event = cloud_event(event_type(PUBLISHED, version), own_source(store), {"pfIds": footprint_ids}, now)
        enqueue(connection, event["id"], target, PACT_EVENT, json.dumps(event), now)
