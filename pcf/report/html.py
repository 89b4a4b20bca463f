"""A self-contained HTML footprint report, ISO 14067-style, for people who want to see where emissions come from.

    write_report(path, footprints, source=..., extra_sections=[ReportSection(title, html)])

Sections per product: goal and scope, system boundary, declared unit, results by gas and by life-cycle stage (the
energy supply upstream with the citation of each factor), a contribution chart, the Monte Carlo distribution when
one was run, data quality, electricity (market- vs location-based, and what uncovered kWh were charged at) and
offsets, listed apart and never netted. Everything is inline (CSS, SVG charts drawn by matplotlib with text as paths): the file renders with no
network access and can be mailed or archived as one file. `extra_sections` is the hook for other parts of the
toolkit (e.g. a factory assessment) to add their own already-rendered HTML fragment without this module importing
them. Jinja2 autoescapes everything else.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from exchange.charts import contribution_svg, distribution_svg
from lca_models.footprint import STAGES, Footprint

CATEGORY_NAMES = {
    "fossil": "fossil GHG emissions", "land_use_change": "land-use change", "biogenic_non_co2": "biogenic non-CO2",
    "biogenic_uptake": "biogenic CO2 uptake", "aircraft": "aircraft",
}


@dataclass(frozen=True)
class ReportSection:
    """An extra section: a title and an HTML fragment its producer rendered (and escaped) itself."""

    title: str
    html: str


@dataclass(frozen=True)
class Stage:
    name: str
    kgco2e: Decimal
    share: Decimal | None


def life_cycle_stages(footprint: Footprint) -> list[Stage]:
    """Cradle-to-gate stages the engine summed line by line (lca_models.footprint.STAGES): direct emissions of the
    modelled processes, purchased electricity (generation, market-based), the energy supply upstream and the
    materials' upstream. Empty for a footprint received without them."""
    details = footprint.computed
    if details is None:
        return []
    total = footprint.pcf_excluding_biogenic_uptake
    return [Stage(STAGES.get(key, key), value, (value / total * 100) if total else None)
            for key, value in details.by_stage.items()]


def _num(value: Decimal | None, places: int = 4) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("pcf.report", "templates"), autoescape=select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["num"] = _num
    return environment


def _chart(footprint: Footprint) -> Markup | None:
    if footprint.computed is None or not footprint.computed.contributions:
        return None
    unit = f"kgCO2e per {footprint.declared_unit_amount.normalize():f} {footprint.declared_unit_of_measurement}"
    return Markup(contribution_svg([(c.label, c.kgco2e) for c in footprint.computed.contributions], unit))


def _distribution(footprint: Footprint) -> Markup | None:
    u = footprint.computed.uncertainty if footprint.computed else None
    if u is None:
        return None
    unit = f"kgCO2e per {footprint.declared_unit_amount.normalize():f} {footprint.declared_unit_of_measurement}"
    bins = [(float(a), float(b), n) for a, b, n in u.histogram]
    return Markup(distribution_svg(bins, (float(u.low), float(u.high)), float(footprint.pcf_excluding_biogenic_uptake),
                                   unit))


def render_report(footprints: Sequence[Footprint], source: str = "", extra_sections: Sequence[ReportSection] = (),
                  generated: datetime | None = None) -> str:
    """The report as one HTML string (see the module docstring)."""
    products = [{"fp": f, "stages": life_cycle_stages(f), "chart": _chart(f), "distribution": _distribution(f),
                 "declared_unit": f"{f.declared_unit_amount.normalize():f} {f.declared_unit_of_measurement}",
                 "categories": [(CATEGORY_NAMES.get(k, k.replace("_", " ")), v)
                                for k, v in (f.computed.by_category.items() if f.computed else ())],
                 "offset_tonnes": sum((o.tonnes_co2e for o in f.computed.offsets), Decimal(0)) if f.computed else None}
                for f in footprints]
    return _environment().get_template("report.html").render(
        products=products, source=source, extra_sections=[(s.title, Markup(s.html)) for s in extra_sections],
        generated=(generated or datetime.now(timezone.utc)).replace(microsecond=0).isoformat())


def write_report(path: Path, footprints: Sequence[Footprint], source: str = "",
                 extra_sections: Sequence[ReportSection] = ()) -> None:
    """Render and write the report via a temporary file renamed into place (never a half-written report)."""
    html = render_report(footprints, source, extra_sections)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # same directory: the rename is atomic
    try:
        with temp.open("x", encoding="utf-8") as out:  # "x" honours the umask, unlike mkstemp's 0600
            out.write(html)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
