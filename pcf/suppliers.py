"""Supplier footprints used as model inputs: read a PACT v3 or v2 document into per-unit flows.

A supplier's footprint enters the model as an aggregated activity: kgCO2e per one unit of its
`declaredUnitOfMeasurement` (PACT v3 `CarbonFootprint`: emissions are per `declaredUnitAmount` ×
unit, so every value is divided by the amount). The supplier's total (`pcfExcludingBiogenicUptake`,
v2 `pCfExcludingBiogenic`) is kept exactly; it is split into land-use change, biogenic non-CO2 and
the rest (fossil), and biogenic uptake rides along as a removal. Only the fields the engine needs are
read here; the full, strict PACT marshalling lives in `exchange.pact`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lca_models.errors import ModelError
from lca_models.units import PACT_DECLARED_UNITS

@dataclass(frozen=True)
class SupplierFootprint:
    """What the engine takes from a supplier's PACT footprint, per one unit of its declared unit."""

    path: Path
    id: str
    spec_version: str
    unit: str  # our unit symbol for the supplier's declaredUnitOfMeasurement
    fossil: Decimal  # kgCO2e: the total less land-use change and biogenic non-CO2
    land_use_change: Decimal
    biogenic_non_co2: Decimal
    biogenic_uptake: Decimal  # kgCO2e, <= 0
    primary_data_share: Decimal | None  # percent
    dqr: tuple[Decimal, Decimal, Decimal] | None  # technological, geographical, temporal

    @property
    def flows(self) -> list[tuple[str, Decimal]]:
        """(flow id, amount) per unit: co2e_* are already kgCO2e, co2_uptake is kg CO2 taken up."""
        flows = [
            ("co2e_fossil", self.fossil),
            ("co2e_luc", self.land_use_change),
            ("co2e_biogenic_non_co2", self.biogenic_non_co2),
            ("co2_uptake", -self.biogenic_uptake),
        ]
        return [(flow, amount) for flow, amount in flows if amount != 0]


def _decimal(pcf: dict, name: str, path: Path, required: bool = False) -> Decimal | None:
    value = pcf.get(name)
    if value is None:
        if required:
            raise ModelError(f"supplier footprint lacks pcf.{name}", file=str(path))
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ModelError(f"pcf.{name}: {value!r} is not a decimal", file=str(path)) from None


def _document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read supplier footprint: {exc.strerror or exc}", file=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"supplier footprint is not JSON: {exc}", file=str(path)) from None
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = document["data"]  # a saved `GET /footprints/{id}` response
    if not isinstance(document, dict) or not isinstance(document.get("pcf"), dict):
        raise ModelError("not a PACT ProductFootprint (no `pcf` object)", file=str(path))
    return document


def load_supplier_footprint(path: Path) -> SupplierFootprint:
    """Read a PACT v3 or v2 ProductFootprint file; ModelError naming the file when it is unusable."""
    document = _document(path)
    pcf = document["pcf"]
    is_v2 = "pCfExcludingBiogenic" in pcf or "declaredUnit" in pcf
    unit_word = pcf.get("declaredUnit") if is_v2 else pcf.get("declaredUnitOfMeasurement")
    if unit_word not in PACT_DECLARED_UNITS:
        raise ModelError(f"unknown declared unit {unit_word!r} in supplier footprint", file=str(path))
    amount = _decimal(pcf, "unitaryProductAmount" if is_v2 else "declaredUnitAmount", path, required=True)
    if amount <= 0:
        raise ModelError("the declared unit amount must be > 0", file=str(path))
    if is_v2:
        total = _decimal(pcf, "pCfExcludingBiogenic", path, required=True)
        including = _decimal(pcf, "pCfIncludingBiogenic", path)
        luc = _decimal(pcf, "dLucGhgEmissions", path) or Decimal(0)
        bio = _decimal(pcf, "otherBiogenicGhgEmissions", path) or Decimal(0)
        uptake = _decimal(pcf, "biogenicCarbonWithdrawal", path)
    else:
        total = _decimal(pcf, "pcfExcludingBiogenicUptake", path, required=True)
        including = _decimal(pcf, "pcfIncludingBiogenicUptake", path)
        luc = _decimal(pcf, "landUseChangeGhgEmissions", path) or Decimal(0)
        bio = _decimal(pcf, "biogenicNonCO2Emissions", path) or Decimal(0)
        uptake = _decimal(pcf, "biogenicCO2Uptake", path)
    if total < 0:
        raise ModelError("pcfExcludingBiogenicUptake must be >= 0", file=str(path))
    if uptake is None:
        uptake = min(including - total, Decimal(0)) if including is not None else Decimal(0)
    if uptake > 0:
        raise ModelError("biogenic uptake must be <= 0", file=str(path))
    fossil = total - luc - bio
    if fossil < 0:  # parts larger than the total: keep the total, the one figure a buyer relies on
        fossil, luc, bio = total, Decimal(0), Decimal(0)
    dqi = pcf.get("dqi") or {}
    dqr_keys = ("technologicalDQR", "geographicalDQR", "temporalDQR")
    dqr = tuple(Decimal(str(dqi[k])) for k in dqr_keys) if all(k in dqi for k in dqr_keys) else None
    return SupplierFootprint(
        path=path,
        id=str(document.get("id", "")),
        spec_version=str(document.get("specVersion", "")),
        unit=PACT_DECLARED_UNITS[unit_word],
        fossil=fossil / amount,
        land_use_change=luc / amount,
        biogenic_non_co2=bio / amount,
        biogenic_uptake=uptake / amount,
        primary_data_share=_decimal(pcf, "primaryDataShare", path),
        dqr=dqr,  # type: ignore[arg-type]
    )
