"""From a canonical footprint to what the node stores: PACT JSON in both versions and the filter keys."""

from __future__ import annotations

import json
from datetime import timedelta

from exchange.pact import PactMappingError, to_v2, to_v3
from lca_models.footprint import Footprint

from .storage import FootprintRecord

# PACT v3.0.3 Sec. 7.3: without a validity period a footprint is valid for 3 years from referencePeriodEnd.
DEFAULT_VALIDITY = timedelta(days=3 * 365 + 1)


def footprint_record(footprint: Footprint) -> FootprintRecord:
    """The stored form of a footprint; the v2 document is kept where v2 can express the footprint."""
    v3 = json.dumps(to_v3(footprint), ensure_ascii=False, separators=(",", ":"))
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


def publish_footprints(store, footprints: list[Footprint], share_with: tuple[str, ...] = (), public: bool = False) -> list[str]:
    """Store footprints (all or none), shared with `share_with` organisations or public; returns their ids."""
    store.publish([footprint_record(f) for f in footprints], share_with=share_with, public=public)
    return [f.id for f in footprints]
