"""The canonical `Footprint` as plain JSON (the `pcf compute --json` output), exactly as computed.

This is the toolkit's own view, with every computed detail; the exchange formats (PACT, CBAM) are
translations in `exchange/`. Decimals are written as strings so no float ever rounds them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from .footprint import (
    ComputedDetails,
    Contribution,
    ElectricityResult,
    Footprint,
    Offset,
    Provenance,
    UncertaintyResult,
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def footprint_to_dict(footprint: Footprint) -> dict[str, Any]:
    """Every field of the footprint, decimals as strings, date-times in RFC 3339 UTC."""
    return _plain(dataclasses.asdict(footprint))


def footprints_to_json(footprints: list[Footprint]) -> str:
    """A JSON array of footprints, indented for people and diffs."""
    return json.dumps([footprint_to_dict(f) for f in footprints], indent=2, ensure_ascii=False) + "\n"


def computed_to_dict(computed: ComputedDetails) -> dict[str, Any]:
    """The engine's details (gas breakdown, contributions, provenance, ...) as plain JSON.

    Written out field by field rather than with `dataclasses.asdict`, which deep-copies and is the
    slowest part of dumping a footprint (benchmarks/bench_pact.py).
    """
    text = _decimal_text
    e, p, u = computed.electricity, computed.provenance, computed.uncertainty
    return {
        "by_gas": {gas: text(v) for gas, v in computed.by_gas.items()},
        "by_category": {category: text(v) for category, v in computed.by_category.items()},
        "by_stage": {stage: text(v) for stage, v in computed.by_stage.items()},
        "contributions": [{"label": c.label, "kind": c.kind, "stage": c.stage, "kgco2e": text(c.kgco2e),
                           "share": text(c.share)} for c in computed.contributions],
        "electricity": {"kwh": text(e.kwh), "location_based_kgco2e": text(e.location_based_kgco2e),
                        "market_based_kgco2e": text(e.market_based_kgco2e), "pcf_location_based": text(e.pcf_location_based),
                        "market_basis": list(e.market_basis)},
        "uncertainty": None if u is None else {
            "iterations": u.iterations, "seed": u.seed, "mean": text(u.mean), "median": text(u.median),
            "low": text(u.low), "high": text(u.high), "standard_error": text(u.standard_error),
            "histogram": [[text(a), text(b), n] for a, b, n in u.histogram]},
        "sources": dict(computed.sources),
        "offsets": [{"scheme": o.scheme, "serial_range": o.serial_range, "vintage": o.vintage,
                     "tonnes_co2e": text(o.tonnes_co2e), "retired_on": o.retired_on} for o in computed.offsets],
        "provenance": {"model_digest": p.model_digest, "engine": p.engine, "engine_versions": dict(p.engine_versions),
                       "data_versions": dict(p.data_versions), "gwp_set": p.gwp_set,
                       "upstream_footprint_ids": list(p.upstream_footprint_ids)},
        "biogenic_co2_emissions_kg": text(computed.biogenic_co2_emissions_kg),
    }


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def computed_from_dict(data: dict[str, Any]) -> ComputedDetails:
    """Inverse of `computed_to_dict`; KeyError/ValueError/TypeError/ArithmeticError when malformed."""
    d = Decimal
    e, p, u = data["electricity"], data["provenance"], data.get("uncertainty")
    return ComputedDetails(
        by_gas={k: d(v) for k, v in data["by_gas"].items()},
        by_category={k: d(v) for k, v in data["by_category"].items()},
        by_stage={k: d(v) for k, v in data.get("by_stage", {}).items()},
        contributions=tuple(Contribution(c["label"], c["kind"], d(c["kgco2e"]), d(c["share"]), c.get("stage", ""))
                            for c in data["contributions"]),
        electricity=ElectricityResult(d(e["kwh"]), d(e["location_based_kgco2e"]), d(e["market_based_kgco2e"]),
                                      d(e["pcf_location_based"]), tuple(e.get("market_basis", ()))),
        uncertainty=None if u is None else UncertaintyResult(
            int(u["iterations"]), int(u["seed"]), d(u["mean"]), d(u["median"]), d(u["low"]), d(u["high"]),
            d(u["standard_error"]), tuple((d(a), d(b), int(n)) for a, b, n in u["histogram"])),
        sources={str(k): str(v) for k, v in data.get("sources", {}).items()},
        offsets=tuple(Offset(o["scheme"], o["serial_range"], int(o["vintage"]), d(o["tonnes_co2e"]), o["retired_on"])
                      for o in data["offsets"]),
        provenance=Provenance(p["model_digest"], p["engine"], dict(p["engine_versions"]), dict(p["data_versions"]),
                              p["gwp_set"], tuple(p["upstream_footprint_ids"])),
        biogenic_co2_emissions_kg=d(data["biogenic_co2_emissions_kg"]),
    )
