"""Reduction scenarios: change the factory model along a small vocabulary, re-solve, compare.

Settings (`path=value`, applied in order; every problem is reported at once):

  electricity.green_share=0.6         certificates/PPAs cover 60 % of every line's grid electricity (grid kWh =
                                      consumption less on-site PV); existing certificates and PPAs are scaled to
                                      that total, a line without any gets a green certificate (scheme "scenario")
  <process>.fuel=<fuel>               every fuel of the process becomes <fuel>, same energy (GJ NCV) and category
  <process>.electricity=<value unit>  the process's electricity becomes <value unit>; several lines and their
                                      instruments are scaled in proportion
  <process>.onsite_pv=<value unit>    on-site PV consumed behind the meter on the process's first electricity line
  <process>.emission.<substance>=<value unit>  the process's direct emission of <substance> (added if absent)

A scenario is a new model (its digest derived from the baseline's and the settings), so the engine solves it
like any other; the plant inventory and every product's PCF are compared with the baseline. Abatement is
measured on residual emissions (Scope 1 + Scope 2 market-based); with a cost per tonne the scenarios form a
marginal abatement cost table, cheapest first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from marshmallow import RAISE, Schema, fields, validate

from lca_models import background, units
from lca_models.errors import ModelError, ModelErrors, UnitError
from lca_models.gwp import elementary_flows
from lca_models.model import DEFAULT_DQR, Electricity, Emission, Instrument, Process, ProductModel, Quality
from lca_models.i18n import N_
from lca_models.yaml_files import load_yaml_file

from ..engine import Engine
from ..engine.foreground import MARKET_ONLY_INSTRUMENTS
from ..report.progress import SILENT, Steps
from .inventory import Inventory, build_inventory

SCENARIO_SCHEME = "scenario"


@dataclass(frozen=True)
class Scenario:
    name: str
    settings: tuple[tuple[str, str], ...]
    abatement_cost_per_t: Decimal | None = None


def parse_settings(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    """`["electricity.green_share=0.6", ...]` -> `(("electricity.green_share", "0.6"), ...)`."""
    parsed, errors = [], []
    for pair in pairs:
        path, sep, value = pair.partition("=")
        if not sep or not path.strip() or not value.strip():
            errors.append(ModelError("expected PATH=VALUE, e.g. electricity.green_share=0.6", f"--set {pair}"))
            continue
        parsed.append((path.strip(), value.strip()))
    if errors:
        raise ModelErrors(errors)
    return tuple(parsed)


class _Editor:
    """Applies settings to a copy of the model's processes, collecting every problem."""

    def __init__(self, model: ProductModel) -> None:
        self.model = model
        self.processes = {p.id: p for p in model.processes}
        self.errors: list[ModelError] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append(ModelError(reason, f"--set {path}"))

    def quantity(self, path: str, value: str, dimension: str, target: str) -> Decimal | None:
        amount, _, unit = value.partition(" ")
        try:
            number = Decimal(amount)
            if number < 0:
                raise InvalidOperation
            if units.dimension(unit) != dimension:
                raise UnitError(f"{unit} is not a unit of {dimension}")
            return units.convert(number, unit, target)
        except (InvalidOperation, UnitError) as exc:
            reason = str(exc) if isinstance(exc, UnitError) else "not a number >= 0"
            self.fail(path, f"{value!r}: give '<number> <unit of {dimension}>' ({reason})")
            return None

    def apply(self, path: str, value: str) -> None:
        if path == "electricity.green_share":
            return self.green_share(path, value)
        # process ids may contain dots: the longest id the path starts with wins
        owner = max((pid for pid in self.processes if path.startswith(f"{pid}.")), key=len, default=None)
        process = self.processes.get(owner) if owner else None
        parts = [owner, *path[len(owner) + 1:].split(".")] if owner else path.split(".")
        if process is None or len(parts) < 2:
            known = ", ".join(sorted(self.processes))
            self.fail(path, f"unknown setting: use electricity.green_share or <process>.fuel|electricity|"
                      f"onsite_pv|emission.<substance> with a process of the model ({known})")
            return
        handler = {"fuel": self.fuel, "electricity": self.electricity, "onsite_pv": self.onsite_pv}.get(parts[1])
        if handler and len(parts) == 2:
            return handler(path, process, value)
        if parts[1] == "emission" and len(parts) == 3:
            return self.emission(path, process, parts[2], value)
        self.fail(path, f"unknown setting {'.'.join(parts[1:])!r} for process {process.id!r}: use fuel, electricity, "
                  "onsite_pv or emission.<substance>")

    def green_share(self, path: str, value: str) -> None:
        try:
            share = Decimal(value)
        except InvalidOperation:
            share = Decimal(-1)
        if not 0 <= share <= 1:
            self.fail(path, f"{value!r}: a share between 0 and 1")
            return
        for process in list(self.processes.values()):
            lines = tuple(self._green_line(line, share) for line in process.electricity)
            self.processes[process.id] = dataclasses.replace(process, electricity=lines)

    @staticmethod
    def _green_line(line: Electricity, share: Decimal) -> Electricity:
        onsite = sum((i.amount_kwh for i in line.instruments if i.type == "onsite_pv"), Decimal(0))
        target = share * (line.amount_kwh - onsite)
        market = [i for i in line.instruments if i.type in MARKET_ONLY_INSTRUMENTS]
        others = [i for i in line.instruments if i.type not in MARKET_ONLY_INSTRUMENTS]
        current = sum((i.amount_kwh for i in market), Decimal(0))
        if current:
            market = [dataclasses.replace(i, amount_kwh=i.amount_kwh * target / current) for i in market]
        elif target:
            market = [Instrument("green_certificate", target, SCENARIO_SCHEME)]
        return dataclasses.replace(line, instruments=tuple(others + [i for i in market if i.amount_kwh]))

    def fuel(self, path: str, process: Process, value: str) -> None:
        if value not in background.fuel_properties():
            self.fail(path, f"unknown fuel {value!r} (known: {', '.join(sorted(background.fuel_properties()))})")
            return
        if not process.fuels:
            self.fail(path, f"process {process.id!r} burns no fuel to switch")
            return
        if any(f.category == "mobile" for f in process.fuels) and not background.fuel_properties()[value].mobile:
            self.fail(path, f"process {process.id!r} burns fuel in vehicles: {value!r} has no road-transport factors")
            return
        # the measured carbon content belonged to the old fuel: the new one burns on its default factors
        fuels = tuple(dataclasses.replace(f, fuel=value, co2_kg_per_gj=None) for f in process.fuels)
        self.processes[process.id] = dataclasses.replace(process, fuels=fuels)

    def electricity(self, path: str, process: Process, value: str) -> None:
        kwh = self.quantity(path, value, "energy", "kWh")
        if kwh is None:
            return
        current = sum((line.amount_kwh for line in process.electricity), Decimal(0))
        if not current:
            self.fail(path, f"process {process.id!r} draws no electricity: add a grid line to the model first")
            return
        ratio = kwh / current
        lines = tuple(dataclasses.replace(
            line, amount_kwh=line.amount_kwh * ratio,
            instruments=tuple(dataclasses.replace(i, amount_kwh=i.amount_kwh * ratio) for i in line.instruments))
            for line in process.electricity)
        self.processes[process.id] = dataclasses.replace(process, electricity=lines)

    def onsite_pv(self, path: str, process: Process, value: str) -> None:
        kwh = self.quantity(path, value, "energy", "kWh")
        if kwh is None:
            return
        if not process.electricity:
            self.fail(path, f"process {process.id!r} draws no electricity")
            return
        first = process.electricity[0]
        others = [i for i in first.instruments if i.type != "onsite_pv"]
        room = first.amount_kwh - sum((i.amount_kwh for i in others), Decimal(0))
        if kwh > room:
            self.fail(path, f"{kwh} kWh of PV is more than the {room} kWh not already covered on that line")
            return
        line = dataclasses.replace(first, instruments=tuple(others + ([Instrument("onsite_pv", kwh)] if kwh else [])))
        self.processes[process.id] = dataclasses.replace(process, electricity=(line, *process.electricity[1:]))

    def emission(self, path: str, process: Process, substance: str, value: str) -> None:
        if substance not in elementary_flows():
            self.fail(path, f"unknown substance {substance!r}")
            return
        kg = self.quantity(path, value, "mass", "kg")
        if kg is None:
            return
        emissions = [e for e in process.emissions if e.substance != substance]
        existing = next((e for e in process.emissions if e.substance == substance), None)
        if kg:
            emissions.append(dataclasses.replace(existing, amount_kg=kg) if existing
                             else Emission(substance, kg, Quality("primary", DEFAULT_DQR["primary"])))
        self.processes[process.id] = dataclasses.replace(process, emissions=tuple(emissions))


def apply_settings(model: ProductModel, settings: tuple[tuple[str, str], ...]) -> ProductModel:
    """The model with `settings` applied; ModelErrors naming each bad setting, the model untouched."""
    editor = _Editor(model)
    for path, value in settings:
        editor.apply(path, value)
    if editor.errors:
        raise ModelErrors(editor.errors)
    digest = hashlib.sha256(f"{model.digest}:{json.dumps(settings)}".encode()).hexdigest()
    processes = tuple(editor.processes[p.id] for p in model.processes)
    return dataclasses.replace(model, processes=processes, digest=digest)


# --- scenario files

class _ScenarioSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1))
    set = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, validate=validate.Length(min=1))
    abatement_cost_per_t = fields.Decimal()


class _ScenarioFileSchema(Schema):
    class Meta:
        unknown = RAISE

    currency = fields.String(load_default="")
    scenarios = fields.List(fields.Nested(_ScenarioSchema), required=True, validate=validate.Length(min=1))


def load_scenarios(path: Path) -> tuple[str, tuple[Scenario, ...]]:
    """(currency, scenarios) from a YAML file; ModelErrors with file and path per problem."""
    data = load_yaml_file(path, _ScenarioFileSchema(), N_("scenario file"))
    return data["currency"], tuple(
        Scenario(s["name"], tuple((k, str(v)) for k, v in s["set"].items()), s.get("abatement_cost_per_t"))
        for s in data["scenarios"])


# --- running and comparing

@dataclass(frozen=True)
class Outcome:
    """A model's plant inventory and each product's PCF (kgCO2e per declared unit)."""

    name: str
    inventory: Inventory
    pcf: dict[str, Decimal]
    abatement_cost_per_t: Decimal | None = None


@dataclass(frozen=True)
class Comparison:
    baseline: Outcome
    scenarios: tuple[Outcome, ...]


def evaluate(engine: Engine, model: ProductModel, name: str, gwp: str | None = None,
             cost: Decimal | None = None) -> Outcome:
    footprints = engine.compute(model, gwp)
    pcf = {p.flow: f.pcf_excluding_biogenic_uptake for p, f in zip(model.products, footprints, strict=True)}
    return Outcome(name, build_inventory(model, gwp), pcf, cost)


def run(engine: Engine, model: ProductModel, scenarios: tuple[Scenario, ...], gwp: str | None = None,
        steps: Steps = SILENT) -> Comparison:
    """The baseline and every scenario (each applied to the baseline, not to the previous scenario)."""
    variants = [(s, apply_settings(model, s.settings)) for s in scenarios]  # every bad setting before any solve
    steps.phase(f"solving the baseline and {len(variants)} scenario(s)", total=len(variants) + 1)
    baseline = evaluate(engine, model, "baseline", gwp)
    steps.advance()
    outcomes = []
    for scenario, variant in variants:
        outcomes.append(evaluate(engine, variant, scenario.name, gwp, scenario.abatement_cost_per_t))
        steps.advance()
    return Comparison(baseline, tuple(outcomes))


def deltas(baseline: Outcome, scenario: Outcome) -> dict[str, Decimal]:
    """Scenario minus baseline: inventory lines in tCO2e, PCFs in kgCO2e per declared unit."""
    b, s = baseline.inventory, scenario.inventory
    result = {
        "scope1": s.scope1 - b.scope1,
        "scope2_market_based": s.scope2_market_based - b.scope2_market_based,
        "scope2_location_based": s.scope2_location_based - b.scope2_location_based,
        "scope3": s.scope3 - b.scope3,
        "residual_emissions": s.residual_emissions - b.residual_emissions,
    }
    for flow, value in scenario.pcf.items():
        result[f"pcf:{flow}"] = value - baseline.pcf[flow]
    return result


@dataclass(frozen=True)
class AbatementRow:
    name: str
    abatement_t: Decimal  # residual emissions avoided per period
    cost_per_t: Decimal | None
    total_cost: Decimal | None
    cumulative_t: Decimal


def abatement_table(comparison: Comparison) -> tuple[AbatementRow, ...]:
    """Marginal abatement cost table: scenarios with a cost, cheapest per tonne first, then those without."""
    base = comparison.baseline.inventory.residual_emissions
    priced = sorted((s for s in comparison.scenarios if s.abatement_cost_per_t is not None),
                    key=lambda s: s.abatement_cost_per_t)
    unpriced = [s for s in comparison.scenarios if s.abatement_cost_per_t is None]
    rows, cumulative = [], Decimal(0)
    for outcome in priced + unpriced:
        abated = base - outcome.inventory.residual_emissions
        cumulative += abated
        cost = outcome.abatement_cost_per_t
        rows.append(AbatementRow(outcome.name, abated, cost, cost * abated if cost is not None else None, cumulative))
    return tuple(rows)


def to_json(comparison: Comparison, currency: str = "") -> dict:
    """Baseline, each scenario's deltas and the abatement table, decimals as strings."""
    def num(value: Decimal | None) -> str | None:
        return None if value is None else f"{value:.6f}".rstrip("0").rstrip(".")

    base = comparison.baseline
    return {
        "baseline": {"residual_emissions_t": num(base.inventory.residual_emissions),
                     "pcf_kgco2e_per_declared_unit": {k: num(v) for k, v in base.pcf.items()}},
        "scenarios": [{"name": s.name, "deltas": {k: num(v) for k, v in deltas(base, s).items()},
                       "pcf_kgco2e_per_declared_unit": {k: num(v) for k, v in s.pcf.items()}}
                      for s in comparison.scenarios],
        "abatement": [{"name": r.name, "abatement_t": num(r.abatement_t), "cost_per_t": num(r.cost_per_t),
                       "total_cost": num(r.total_cost), "cumulative_t": num(r.cumulative_t), "currency": currency}
                      for r in abatement_table(comparison)],
    }
