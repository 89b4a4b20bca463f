"""Zero-carbon assessment: the plant's indicators against thresholds read from a criteria file.

A criteria file names its source per threshold (or marks it illustrative), so an assessment never passes off
a placeholder as a standard. The result is a data structure; `to_json` and `assessment_html` render it (the
HTML fragment is escaped and self-contained, for the report page).
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from lca_models.i18n import N_
from lca_models.i18n import gettext as _
from lca_models.yaml_files import load_yaml_file

from .inventory import Inventory

BUNDLED_CRITERIA = "zero_carbon_criteria_illustrative.yaml"
INDICATORS = {  # name -> unit
    "emission_intensity": "tCO2e/t",
    "renewable_electricity_share": "%",
    "energy_intensity": "GJ/t",
    "residual_emissions": "tCO2e",
    "offset_coverage": "%",
}


class _CriterionSchema(Schema):
    class Meta:
        unknown = RAISE

    indicator = fields.String(required=True, validate=validate.OneOf(list(INDICATORS)))
    min = fields.Decimal()
    max = fields.Decimal()
    unit = fields.String(required=True)
    source = fields.String(required=True, validate=validate.Length(min=1))
    illustrative = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data: dict, **kwargs: Any) -> None:
        problems: dict[str, list[str]] = {}
        if "min" in data and "max" in data:
            problems["_schema"] = ["give min or max, not both"]
        expected = INDICATORS.get(data.get("indicator", ""))
        if expected and data.get("unit") != expected:
            problems["unit"] = [f"{data['indicator']} is measured in {expected}"]
        if problems:
            raise ValidationError(problems)


class _CriteriaSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    criteria = fields.List(fields.Nested(_CriterionSchema), required=True, validate=validate.Length(min=1))


@dataclass(frozen=True)
class Criterion:
    indicator: str
    unit: str
    source: str
    illustrative: bool
    min: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True)
class Criteria:
    name: str
    source_file: str
    criteria: tuple[Criterion, ...]


def load_criteria(path: Path | None = None) -> Criteria:
    """A criteria file (the bundled illustrative one when `path` is None); ModelErrors lists every problem."""
    if path is None:
        where = BUNDLED_CRITERIA
        text = resources.files("lca_models").joinpath(f"data/{BUNDLED_CRITERIA}").read_text(encoding="utf-8")
    else:
        where, text = str(path), None
    data = load_yaml_file(where, _CriteriaSchema(), N_("criteria file"), text)
    return Criteria(data["name"], where, tuple(
        Criterion(c["indicator"], c["unit"], c["source"], c["illustrative"], c.get("min"), c.get("max"))
        for c in data["criteria"]))


def indicators(inventory: Inventory) -> dict[str, Decimal | None]:
    """The plant's indicator values; None where undefined (no product mass, no residual emissions)."""
    mass = inventory.output_mass_t
    residual = inventory.residual_emissions
    return {
        "emission_intensity": residual / mass if mass else None,
        "renewable_electricity_share": inventory.energy.renewable_electricity_share * 100,
        "energy_intensity": inventory.energy.total_gj / mass if mass else None,
        "residual_emissions": residual,
        "offset_coverage": inventory.offsets_t / residual * 100 if residual > 0 else None,
    }


@dataclass(frozen=True)
class IndicatorResult:
    indicator: str
    value: Decimal | None
    unit: str
    status: str  # "met" | "not met" | "reported" (no threshold) | "undefined" (no value)
    threshold: str | None  # e.g. ">= 60"
    gap: Decimal | None  # how far from the threshold, in the indicator's unit (positive)
    source: str
    illustrative: bool


@dataclass(frozen=True)
class Assessment:
    criteria_name: str
    criteria_file: str
    results: tuple[IndicatorResult, ...]

    @property
    def gaps(self) -> tuple[IndicatorResult, ...]:
        return tuple(r for r in self.results if r.status in ("not met", "undefined"))

    @property
    def met(self) -> bool:
        return not self.gaps


def assess(inventory: Inventory, criteria: Criteria) -> Assessment:
    """Each criterion's indicator against its threshold; a missing value is a gap, never a pass."""
    values = indicators(inventory)
    results = []
    for criterion in criteria.criteria:
        value = values[criterion.indicator]
        bound, threshold = (criterion.min, f">= {criterion.min}") if criterion.min is not None else (
            (criterion.max, f"<= {criterion.max}") if criterion.max is not None else (None, None))
        gap = None
        if bound is None:
            status = "reported"
        elif value is None:
            status = "undefined"
        else:
            gap = bound - value if criterion.min is not None else value - bound
            status = "met" if gap <= 0 else "not met"
            gap = max(gap, Decimal(0))
        results.append(IndicatorResult(criterion.indicator, value, criterion.unit, status, threshold, gap,
                                       criterion.source, criterion.illustrative))
    return Assessment(criteria.name, criteria.source_file, tuple(results))


def _round(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def to_json(assessment: Assessment) -> dict:
    """The assessment as JSON-ready data (decimals as strings, 4 decimal places)."""
    results = []
    for r in assessment.results:
        row = asdict(r)
        row["value"], row["gap"] = _round(r.value), _round(r.gap)
        results.append(row)
    return {"criteria": assessment.criteria_name, "criteria_file": assessment.criteria_file,
            "all_met": assessment.met, "results": results,
            "gaps": [r["indicator"] for r in results if r["status"] in ("not met", "undefined")]}


# what the HTML fragment shows, marked for the catalogue (it is read in the report's language)
_LABELS = {"emission_intensity": N_("emission intensity"), "renewable_electricity_share": N_("renewable electricity share"),
           "energy_intensity": N_("energy intensity"), "residual_emissions": N_("residual emissions"),
           "offset_coverage": N_("offset coverage"), "met": N_("met"), "not met": N_("not met"),
           "reported": N_("reported"), "undefined": N_("undefined")}


def assessment_html(assessment: Assessment) -> str:
    """An escaped HTML <section> with the status per indicator and the gap list, for the HTML report, in the
    language of the rendering context."""
    e = html.escape

    def label(key: str) -> str:
        return _(_LABELS[key]) if key in _LABELS else key.replace("_", " ")

    illustrative = " <em>(" + e(_("illustrative")) + ")</em>"
    rows = "".join(
        f"<tr class=\"{e(r.status.replace(' ', '-'))}\"><td>{e(label(r.indicator))}</td>"
        f"<td>{e(_round(r.value) or '-')} {e(r.unit)}</td><td>{e(r.threshold or '-')}</td>"
        f"<td>{e(label(r.status))}</td><td>{e(_round(r.gap) or '')}</td>"
        f"<td>{e(r.source)}{illustrative if r.illustrative else ''}</td></tr>"
        for r in assessment.results
    )
    gaps = "".join("<li>" + e(_("{indicator}: {gap} {unit} short of {threshold}").format(
        indicator=label(r.indicator), gap=_round(r.gap) or _("no value"), unit=r.unit, threshold=r.threshold or ""))
        + "</li>" for r in assessment.gaps)
    headings = "".join(f"<th>{e(_(name))}</th>" for name in (N_("indicator"), N_("value"), N_("threshold"),
                                                              N_("status"), N_("gap"), N_("source")))
    title = e(_("Zero-carbon assessment"))
    criteria = e(_("Criteria: {name} ({file})").format(name=assessment.criteria_name, file=assessment.criteria_file))
    ending = "<h3>" + e(_("Gaps")) + f"</h3><ul>{gaps}</ul>" if gaps else "<p>" + e(_("All criteria met.")) + "</p>"
    return (f"<section class=\"zero-carbon-assessment\"><h2>{title}</h2><p>{criteria}</p>"
            f"<table><thead><tr>{headings}</tr></thead><tbody>{rows}</tbody></table>{ending}</section>")
