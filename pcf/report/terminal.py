"""Rich terminal rendering of a computed footprint: the total, its breakdown, and the top contributors."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from lca_models.footprint import STAGES, Footprint


def _num(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:,.{places}f}"


def print_footprint(console: Console, footprint: Footprint, top: int = 8) -> None:
    """Print one footprint for a person: headline, breakdown by category and gas, top contributors."""
    unit = f"{footprint.declared_unit_amount.normalize():f} {footprint.declared_unit_of_measurement}"
    gwp = ", ".join(footprint.ipcc_characterization_factors)
    console.print(
        f"[bold]{footprint.product_name_company}[/] ({footprint.company_name}) "
        f"- [bold green]{_num(footprint.pcf_excluding_biogenic_uptake)} kgCO2e[/] per {unit} "
        f"(IPCC {gwp} GWP100, excl. biogenic uptake), "
        f"{footprint.reference_period_start.date()} to {footprint.reference_period_last_day}",
        highlight=False,
    )
    details = footprint.computed
    if details and details.uncertainty:
        u = details.uncertainty
        console.print(
            f"Monte Carlo ({u.iterations} draws, seed {u.seed}): mean {_num(u.mean)}, median {_num(u.median)}, "
            f"95 % interval {_num(u.low)} to {_num(u.high)} kgCO2e (standard error of the mean {_num(u.standard_error, 6)})",
            highlight=False,
        )
    summary = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    summary.add_column("breakdown")
    summary.add_column("kgCO2e", justify="right")
    summary.add_row("fossil", _num(footprint.fossil_ghg_emissions))
    summary.add_row("land-use change", _num(footprint.land_use_change_ghg_emissions))
    summary.add_row("biogenic non-CO2", _num(footprint.biogenic_non_co2_emissions))
    summary.add_row("biogenic CO2 uptake", _num(footprint.biogenic_co2_uptake))
    summary.add_row("PCF incl. biogenic uptake", _num(footprint.pcf_including_biogenic_uptake))
    if footprint.packaging_emissions_included:
        summary.add_row("  of which packaging", _num(footprint.packaging_ghg_emissions))
    if details:
        for gas, value in details.by_gas.items():
            if value:
                summary.add_row(f"  gas {gas}", _num(value))
        for stage, value in details.by_stage.items():
            summary.add_row(f"  stage: {STAGES.get(stage, stage).split(':')[0]}", _num(value))
        e = details.electricity
        summary.add_row("electricity, market-based", f"{_num(e.market_based_kgco2e)} ({_num(e.kwh, 2)} kWh)")
        summary.add_row("electricity, location-based", _num(e.location_based_kgco2e))
        summary.add_row("PCF if location-based", _num(e.pcf_location_based))
        for basis in e.market_basis:
            summary.add_row("  market-based basis", basis)
    if footprint.exempted_emissions_percent:
        summary.add_row("declared cut-offs", f"{footprint.exempted_emissions_percent} % of the PCF: "
                        f"{footprint.exempted_emissions_description}")
    summary.add_row("primary data share", f"{_num(footprint.primary_data_share, 1)} %")
    if footprint.dqi:
        q = footprint.dqi
        summary.add_row("DQR tech / geo / time", f"{q.technological_dqr} / {q.geographical_dqr} / {q.temporal_dqr}")
    if footprint.verification:
        v = footprint.verification
        parts = [v.coverage, v.provider_name, v.standard_name, v.completed_at.date().isoformat() if v.completed_at else None]
        summary.add_row("third-party verification", ", ".join(p for p in parts if p) or "declared, no details")
    else:
        summary.add_row("third-party verification", "none declared")
    console.print(summary)
    if details and details.contributions:
        table = Table(title=f"top {min(top, len(details.contributions))} contributors", header_style="bold", box=None)
        table.add_column("contributor")
        table.add_column("kgCO2e", justify="right")
        table.add_column("share", justify="right")
        for c in details.contributions[:top]:
            table.add_row(c.label, _num(c.kgco2e), f"{c.share * 100:.1f} %")
        console.print(table)
    if details and details.offsets:
        tonnes = sum((o.tonnes_co2e for o in details.offsets), Decimal(0))
        console.print(
            f"offsets retired for the period: {tonnes} tCO2e in {len(details.offsets)} lot(s) "
            "- disclosed, not subtracted from the PCF",
            highlight=False,
        )
    console.print()
