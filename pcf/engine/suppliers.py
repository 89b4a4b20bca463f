"""Supplier footprints used as model inputs: read a PACT v3 or v2 document into per-unit flows.

A supplier's footprint enters the model as an aggregated activity: kgCO2e per one unit of its
`declaredUnitOfMeasurement` (PACT v3 `CarbonFootprint`: emissions are per `declaredUnitAmount` ×
unit, so every value is divided by the amount). The supplier's total (`pcfExcludingBiogenicUptake`,
v2 `pCfExcludingBiogenic`) is kept exactly; it is split into land-use change, biogenic non-CO2 and
the rest (fossil), and biogenic uptake rides along as a removal. Only the fields the engine needs are
taken from the canonical footprint that `exchange.pact` reads (and validates) from the file.

The supplier's data quality (`dqi`, v2 DQRs mapped onto v3's 1-5 scale) and `primaryDataShare` are kept so they
flow into the buyer's contribution-weighted DQR and primary data share. A footprint characterised with another
IPCC GWP set than the model's is refused, unless it carries the toolkit's per-gas breakdown (computed-details
extension, or the `breakdown` extension of a footprint disclosed at that level), which is then recharacterised gas
by gas with the model's set.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Mapping

from exchange.pact import PactValidationError, footprints_in, load_footprint, parse_json
from exchange.pact import own_extensions as own
from lca_models.errors import ModelError
from lca_models.footprint import Footprint
from lca_models.gwp import GWP_SETS, elementary_flows
from lca_models.units import PACT_DECLARED_UNITS
from webhooks.outbound import OutboundRefused, check_url


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
    gwp_sets: tuple[str, ...] = ("AR6",)  # PACT ipccCharacterizationFactors
    by_gas: dict[str, Decimal] | None = None  # kgCO2e per unit, from the toolkit's computed-details extension
    by_category: dict[str, Decimal] | None = None

    def flows(self, gwp: str, label: str = "") -> list[tuple[str, Decimal]]:
        """(flow id, amount) per unit, characterised with `gwp`: co2e_* are kgCO2e, co2_uptake is kg CO2 taken up.

        ModelError when the footprint uses another GWP set and carries no per-gas breakdown to recharacterise.
        """
        fossil = self.fossil + self.recharacterisation(gwp, label)
        flows = [
            ("co2e_fossil", fossil),
            ("co2e_luc", self.land_use_change),
            ("co2e_biogenic_non_co2", self.biogenic_non_co2),
            ("co2_uptake", -self.biogenic_uptake),
        ]
        return [(flow, amount) for flow, amount in flows if amount != 0]

    def recharacterisation(self, gwp: str, label: str = "") -> Decimal:
        """What changes in kgCO2e per unit when the supplier's gases are weighted with `gwp` instead of their set.

        Each non-CO2 gas of the breakdown is turned back into kg with the supplier's GWP and weighted again; CO2 has a
        GWP of 1 in every set and aggregated CO2e stays as published. All those gases are fossil, except methane,
        whose fossil and biogenic GWPs differ: a breakdown that cannot tell them apart is refused.
        """
        if gwp in self.gwp_sets:
            return Decimal(0)
        name = label or str(self.path)
        given = "/".join(self.gwp_sets) or "no"
        if not self.by_gas:
            raise ModelError(f"supplier input {name}: its footprint {self.id} is characterised with IPCC {given} "
                             f"GWP100, the model with {gwp}; mixing them is not allowed: ask for a {gwp} footprint, or "
                             "one with a per-gas breakdown (carbon-exchange computed details) to recharacterise")
        known = [s for s in self.gwp_sets if s in GWP_SETS]
        if not known:
            raise ModelError(f"supplier input {name}: IPCC {given} GWP100 cannot be recharacterised (the bundled sets "
                             "are AR5 and AR6)")
        if self.by_gas.get("CH4") and (self.by_category or {}).get("biogenic_non_co2"):
            raise ModelError(f"supplier input {name}: its breakdown does not split fossil from biogenic methane, whose "
                             f"GWPs differ, so it cannot be recharacterised from {known[0]} to {gwp}")
        fossil = {f.gas: f for f in elementary_flows().values() if f.category == "fossil" and f.gas != "CO2"
                  and not f.gas.startswith("CO2e")}
        change = Decimal(0)
        for gas, kgco2e in self.by_gas.items():
            flow = fossil.get(gas)
            if flow is not None and kgco2e:
                change += kgco2e * (flow.gwp[gwp] / flow.gwp[known[0]] - 1)
        return change


class SupplierLoader:
    """Resolves the supplier inputs of a model: PACT files, or (with `fetch`) footprint URLs on supplier nodes.

    Keeps every document it read, so the footprint computed from them can declare its upstream footprints
    (ids and canonical digests) in a signed provenance extension.
    """

    def __init__(self, fetch: Callable[[str], dict] | None = None) -> None:
        self.fetch = fetch
        self.documents: dict[str, dict] = {}
        self._loaded: dict[str, SupplierFootprint] = {}

    def load(self, ref: str) -> SupplierFootprint:
        """The supplier footprint behind `ref` (a file path or a footprint URL), read once."""
        if ref not in self._loaded:
            self._loaded[ref] = self._load(ref)
        return self._loaded[ref]

    def _load(self, ref: str) -> SupplierFootprint:
        if ref.startswith(("https://", "http://")):
            if self.fetch is None:
                raise ModelError(f"supplier footprint {ref} is on a node: run this with node credentials "
                                 "(`pcf fulfil` uses the node's peers)")
            try:
                check_url(ref)  # a model must not point the node at internal addresses (docs/security.md)
            except OutboundRefused as exc:
                raise ModelError(f"supplier footprint URL refused: {exc}") from None
            try:
                document = self.fetch(ref)
            except Exception as exc:  # noqa: BLE001 - any transport failure becomes a clear model error
                raise ModelError(f"cannot fetch supplier footprint {ref}: {exc}") from None
            self.documents[ref] = document
            return _from_document(document, ref)
        footprint, document = _read_file(Path(ref))
        self.documents[ref] = document
        return from_footprint(footprint, Path(ref))


def _from_document(document: dict, ref: str) -> SupplierFootprint:
    try:
        return from_footprint(load_footprint(document).footprint, Path(ref))
    except PactValidationError as error:
        problems = "; ".join(str(issue) for issue in error.issues[:5])
        raise ModelError(f"not a valid PACT footprint: {problems}", file=ref) from None


def _read_file(path: Path) -> tuple[Footprint, dict]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read supplier footprint: {exc.strerror or exc}", file=str(path)) from None
    try:
        found = footprints_in(parse_json(raw))
        if len(found) != 1:
            raise ModelError(f"the file holds {len(found)} footprints; give one per supplier input", file=str(path))
        [(prefix, document)] = found
        footprint = load_footprint(document).footprint
    except PactValidationError as error:
        problems = "; ".join(f"{prefix}{issue}" for issue in error.issues[:5])
        raise ModelError(f"not a valid PACT footprint: {problems}", file=str(path)) from None
    return footprint, document


def from_footprint(footprint: Footprint, path: Path) -> SupplierFootprint:
    """Per-unit flows of a supplier's footprint; the total excluding biogenic uptake is kept exactly."""
    amount = footprint.declared_unit_amount
    total = footprint.pcf_excluding_biogenic_uptake
    luc = footprint.land_use_change_ghg_emissions or Decimal(0)
    bio = footprint.biogenic_non_co2_emissions or Decimal(0)
    uptake = footprint.biogenic_co2_uptake
    if uptake is None:
        uptake = min(footprint.pcf_including_biogenic_uptake - total, Decimal(0))
    fossil = total - luc - bio
    if fossil < 0:  # parts larger than the total: keep the total, the one figure a buyer relies on
        fossil, luc, bio = total, Decimal(0), Decimal(0)
    dqi = footprint.dqi
    computed = footprint.computed
    found = own.find(footprint.extensions, own.BREAKDOWN)  # a footprint disclosed at the breakdown level
    breakdown = found.data if found is not None and isinstance(found.data, dict) else {}
    return SupplierFootprint(
        path=path,
        id=footprint.id,
        spec_version=footprint.spec_version,
        unit=PACT_DECLARED_UNITS[footprint.declared_unit_of_measurement],
        fossil=fossil / amount,
        land_use_change=luc / amount,
        biogenic_non_co2=bio / amount,
        biogenic_uptake=uptake / amount,
        primary_data_share=footprint.primary_data_share,
        dqr=(dqi.technological_dqr, dqi.geographical_dqr, dqi.temporal_dqr) if dqi else None,
        gwp_sets=tuple(footprint.ipcc_characterization_factors),
        by_gas=_per_unit(computed.by_gas if computed else breakdown.get("byGas"), amount),
        by_category=_per_unit(computed.by_category if computed else breakdown.get("byCategory"), amount),
    )


def _per_unit(values: Mapping[str, Decimal | str] | None, amount: Decimal) -> dict[str, Decimal] | None:
    """kgCO2e per declared unit of a breakdown (computed details, or the `breakdown` level's extension); None when
    there is none, or a peer's extension is not made of numbers (then it is as if there were none)."""
    if not values or not isinstance(values, Mapping):
        return None
    try:
        found = {str(name): Decimal(str(value)) / amount for name, value in values.items()}
    except ArithmeticError:
        return None
    return found if all(value.is_finite() for value in found.values()) else None
