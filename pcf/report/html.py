"""A self-contained HTML footprint report, ISO 14067-style, for people who want to see where emissions come from.

    write_report(path, footprints, source=..., extra_sections=[ReportSection(title, html)])

Sections per product: goal and scope, system boundary, declared unit, results by gas and by life-cycle stage (the
energy supply upstream with the citation of each factor), a contribution chart, the Monte Carlo distribution when
one was run, data quality, electricity (market- vs location-based, and what uncovered kWh were charged at) and
offsets, listed apart and never netted, in English or Simplified Chinese (`language`, lca_models.i18n). Everything
is inline (CSS, SVG charts drawn by matplotlib with text as paths): the file renders with no
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
from lca_models import i18n
from lca_models.footprint import STAGES, Footprint
from lca_models.i18n import N_
from lca_models.i18n import gettext as _

CATEGORY_NAMES = {  # shown in the report's language (Jinja `_()`)
    "fossil": N_("fossil GHG emissions"), "land_use_change": N_("land-use change"),
    "biogenic_non_co2": N_("biogenic non-CO2"), "biogenic_uptake": N_("biogenic CO2 uptake"), "aircraft": N_("aircraft"),
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


def _environment() -> Environment:
    """Jinja with the i18n extension: `_()` and `{% trans %}` in the language of the rendering context, numbers and
    dates by Babel (filters `num`, `day`, `moment`)."""
    environment = Environment(loader=PackageLoader("pcf.report", "templates"), autoescape=select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True)
    i18n.install_jinja(environment)
    return environment


def _per_unit(footprint: Footprint) -> str:
    return _("kgCO2e per {amount} {unit}").format(amount=f"{footprint.declared_unit_amount.normalize():f}",
                                                  unit=footprint.declared_unit_of_measurement)


def _chart(footprint: Footprint) -> Markup | None:
    if footprint.computed is None or not footprint.computed.contributions:
        return None
    return Markup(contribution_svg([(c.label, c.kgco2e) for c in footprint.computed.contributions], _per_unit(footprint)))


def _distribution(footprint: Footprint) -> Markup | None:
    u = footprint.computed.uncertainty if footprint.computed else None
    if u is None:
        return None
    bins = [(float(a), float(b), n) for a, b, n in u.histogram]
    return Markup(distribution_svg(bins, (float(u.low), float(u.high)), float(footprint.pcf_excluding_biogenic_uptake),
                                   _per_unit(footprint)))


def render_report(footprints: Sequence[Footprint], source: str = "", extra_sections: Sequence[ReportSection] = (),
                  generated: datetime | None = None, language: str | None = None) -> str:
    """The report as one HTML string (see the module docstring), in `language` (default: the current one)."""
    if language is not None:
        with i18n.using(language):
            return render_report(footprints, source, extra_sections, generated)
    products = [{"fp": f, "stages": life_cycle_stages(f), "chart": _chart(f), "distribution": _distribution(f),
                 "declared_unit": f"{f.declared_unit_amount.normalize():f} {f.declared_unit_of_measurement}",
                 "categories": [(CATEGORY_NAMES.get(k, k.replace("_", " ")), v)
                                for k, v in (f.computed.by_category.items() if f.computed else ())],
                 "offset_tonnes": sum((o.tonnes_co2e for o in f.computed.offsets), Decimal(0)) if f.computed else None}
                for f in footprints]
    return _environment().get_template("report.html").render(
        products=products, source=source, extra_sections=[(s.title, Markup(s.html)) for s in extra_sections],
        generated=i18n.format_moment((generated or datetime.now(timezone.utc)).replace(microsecond=0)))


def write_report(path: Path, footprints: Sequence[Footprint], source: str = "",
                 extra_sections: Sequence[ReportSection] = (), language: str | None = None) -> None:
    """Render and write the report via a temporary file renamed into place (never a half-written report)."""
    html = render_report(footprints, source, extra_sections, language=language)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # same directory: the rename is atomic
    try:
        with temp.open("x", encoding="utf-8") as out:  # "x" honours the umask, unlike mkstemp's 0600
            out.write(html)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
