"""Rich terminal rendering of a computed footprint: the total, its breakdown, and the top contributors, in the
language of the run (`pcf --lang`, lca_models/i18n.py)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from lca_models.footprint import STAGES, Footprint
from lca_models.i18n import format_day, format_number
from lca_models.i18n import gettext as _


def _num(value: Decimal | None, places: int = 4) -> str:
    return format_number(value, places, empty="-")


def print_footprint(console: Console, footprint: Footprint, top: int = 8) -> None:
    """Print one footprint for a person: headline, breakdown by category and gas, top contributors."""
    unit = f"{footprint.declared_unit_amount.normalize():f} {footprint.declared_unit_of_measurement}"
    gwp = ", ".join(footprint.ipcc_characterization_factors)
    console.print(
        f"[bold]{footprint.product_name_company}[/] ({footprint.company_name}) - "
        + _("[bold green]{value} kgCO2e[/] per {unit} (IPCC {gwp} GWP100, excl. biogenic uptake), {start} to {end}")
        .format(value=_num(footprint.pcf_excluding_biogenic_uptake), unit=unit, gwp=gwp,
                start=format_day(footprint.reference_period_start), end=format_day(footprint.reference_period_last_day)),
        highlight=False,
    )
    details = footprint.computed
    if details and details.uncertainty:
        u = details.uncertainty
        console.print(
            _("Monte Carlo ({draws} draws, seed {seed}): mean {mean}, median {median}, {interval} interval {low} to "
              "{high} kgCO2e (standard error of the mean {error})").format(
                interval="95 %", draws=u.iterations, seed=u.seed, mean=_num(u.mean), median=_num(u.median), low=_num(u.low),
                high=_num(u.high), error=_num(u.standard_error, 6)),
            highlight=False,
        )
    summary = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    summary.add_column(_("breakdown"))
    summary.add_column("kgCO2e", justify="right")
    summary.add_row(_("fossil"), _num(footprint.fossil_ghg_emissions))
    summary.add_row(_("land-use change"), _num(footprint.land_use_change_ghg_emissions))
    summary.add_row(_("biogenic non-CO2"), _num(footprint.biogenic_non_co2_emissions))
    summary.add_row(_("biogenic CO2 uptake"), _num(footprint.biogenic_co2_uptake))
    summary.add_row(_("PCF incl. biogenic uptake"), _num(footprint.pcf_including_biogenic_uptake))
    if footprint.packaging_emissions_included:
        summary.add_row("  " + _("of which packaging"), _num(footprint.packaging_ghg_emissions))
    if details:
        for gas, value in details.by_gas.items():
            if value:
                summary.add_row("  " + _("gas {gas}").format(gas=gas), _num(value))
        for stage, value in details.by_stage.items():
            name = _(STAGES[stage]) if stage in STAGES else stage
            summary.add_row("  " + _("stage: {stage}").format(stage=name.split(":")[0].split("：")[0]), _num(value))
        e = details.electricity
        summary.add_row(_("electricity, market-based"), f"{_num(e.market_based_kgco2e)} ({_num(e.kwh, 2)} kWh)")
        summary.add_row(_("electricity, location-based"), _num(e.location_based_kgco2e))
        summary.add_row(_("PCF if location-based"), _num(e.pcf_location_based))
        for basis in e.market_basis:
            summary.add_row("  " + _("market-based basis"), basis)
    if footprint.exempted_emissions_percent:
        summary.add_row(_("declared cut-offs"), _("{share} of the PCF: {what}").format(
            share=f"{footprint.exempted_emissions_percent} %", what=footprint.exempted_emissions_description))
    summary.add_row(_("primary data share"), f"{_num(footprint.primary_data_share, 1)} %")
    if footprint.dqi:
        q = footprint.dqi
        summary.add_row(_("DQR tech / geo / time"), f"{q.technological_dqr} / {q.geographical_dqr} / {q.temporal_dqr}")
    if footprint.verification:
        v = footprint.verification
        parts = [v.coverage, v.provider_name, v.standard_name, v.completed_at.date().isoformat() if v.completed_at else None]
        summary.add_row(_("third-party verification"), ", ".join(p for p in parts if p) or _("declared, no details"))
    else:
        summary.add_row(_("third-party verification"), _("none declared"))
    console.print(summary)
    if details and details.contributions:
        table = Table(title=_("top {count} contributors").format(count=min(top, len(details.contributions))),
                      header_style="bold", box=None)
        table.add_column(_("contributor"))
        table.add_column("kgCO2e", justify="right")
        table.add_column(_("share"), justify="right")
        for c in details.contributions[:top]:
            table.add_row(c.label, _num(c.kgco2e), f"{_num(c.share * 100, 1)} %")
        console.print(table)
    if details and details.offsets:
        tonnes = sum((o.tonnes_co2e for o in details.offsets), Decimal(0))
        console.print(
            _("offsets retired for the period: {tonnes} tCO2e in {lots} lot(s) - disclosed, not subtracted from the "
              "PCF").format(tonnes=tonnes, lots=len(details.offsets)),
            highlight=False,
        )
    console.print()
