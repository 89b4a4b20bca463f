"""Rich terminal rendering of the plant inventory, the assessment and scenario comparisons."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from .assess import Assessment
from .inventory import Conservation, Inventory
from .scenario import Comparison, abatement_table, deltas


def _t(value: Decimal | None, places: int = 1) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def print_inventory(console: Console, inventory: Inventory, check: Conservation | None = None) -> None:
    """Scopes, energy balance, renewable share and offsets (beside the inventory, never netted)."""
    period = f"{inventory.period_start.date()} .. {inventory.period_end.date()}"
    console.print(f"[bold]{inventory.company}[/] plant GHG inventory {period} (tCO2e, IPCC {inventory.gwp} GWP100)",
                  highlight=False)
    scopes = _table("", "", "tCO2e")
    for category, value in inventory.scope1_by_category.items():
        if value:  # zero source categories are in the JSON; the terminal shows what there is
            scopes.add_row(f"Scope 1 {category.replace('_', ' ')}", _t(value))
    for gas, value in inventory.scope1_by_gas.items():
        scopes.add_row(f"  Scope 1 gas {gas}", _t(value))
    scopes.add_row("[bold]Scope 1", f"[bold]{_t(inventory.scope1)}")
    scopes.add_row("Scope 2 location-based", _t(inventory.scope2_location_based))
    scopes.add_row("[bold]Scope 2 market-based", f"[bold]{_t(inventory.scope2_market_based)}")
    for category, value in inventory.scope3_by_category.items():
        scopes.add_row(f"Scope 3 cat. {category.replace('_', ' ')}", _t(value))
    scopes.add_row("residual (Scope 1 + 2 market-based)", _t(inventory.residual_emissions))
    if inventory.biogenic_co2_t or inventory.removals:
        scopes.add_row("memo: biogenic CO2 (t) / removals", f"{_t(inventory.biogenic_co2_t)} / {_t(inventory.removals)}")
    console.print(scopes)
    energy = inventory.energy
    balance = _table("energy", "", "amount")
    balance.add_row("total final energy", f"{_t(energy.total_gj)} GJ")
    balance.add_row("electricity", f"{_t(energy.electricity_kwh / 1000)} MWh")
    for source, kwh in energy.electricity_by_source_kwh.items():
        if kwh:
            balance.add_row(f"  {source.replace('_', ' ')}", f"{_t(kwh / 1000)} MWh")
    for scheme, kwh in energy.certificates_by_scheme_kwh.items():
        balance.add_row(f"    certificates {scheme}", f"{_t(kwh / 1000)} MWh")
    for fuel, gj in energy.fuels_gj.items():
        balance.add_row(f"fuel {fuel.replace('_', ' ')}", f"{_t(gj)} GJ")
    balance.add_row("renewable electricity share", f"{_t(energy.renewable_electricity_share * 100)} %")
    console.print(balance)
    if inventory.offsets:
        console.print(f"offsets retired for the period: {_t(inventory.offsets_t)} tCO2e in {len(inventory.offsets)} "
                      "lot(s) - disclosed beside the inventory and the PCFs, never subtracted", highlight=False)
    if check is not None:
        note = f"; flows leaving the plant that are no product: {', '.join(check.unassigned_outputs)}" \
            if check.unassigned_outputs else ""
        console.print(f"conservation: plant Scope 1 + 2 {_t(check.plant)} t, sum over products' attributed direct and "
                      f"electricity emissions {_t(check.attributed)} t (relative difference "
                      f"{check.relative_difference:.1e}){note}", highlight=False)


def print_assessment(console: Console, assessment: Assessment) -> None:
    table = _table(f"zero-carbon assessment: {assessment.criteria_name}", "indicator", "value", "threshold", "status",
                   "gap")
    colour = {"met": "green", "not met": "red", "undefined": "red", "reported": "white"}
    for r in assessment.results:
        label = r.indicator.replace("_", " ") + (" *" if r.illustrative else "")
        table.add_row(label, f"{_t(r.value, 2)} {r.unit}", r.threshold or "-", f"[{colour[r.status]}]{r.status}",
                      _t(r.gap, 2) if r.gap else "")
    console.print(table)
    console.print(f"* illustrative threshold (see {assessment.criteria_file}); "
                  f"gaps: {', '.join(r.indicator for r in assessment.gaps) or 'none'}", highlight=False)


def print_comparison(console: Console, comparison: Comparison, currency: str = "") -> None:
    base = comparison.baseline
    table = _table("scenarios against the baseline (tCO2e; PCF in kgCO2e per declared unit)", "",
                   "baseline", *(s.name for s in comparison.scenarios))
    rows = [("Scope 1", "scope1", base.inventory.scope1),
            ("Scope 2 market-based", "scope2_market_based", base.inventory.scope2_market_based),
            ("Scope 2 location-based", "scope2_location_based", base.inventory.scope2_location_based),
            ("Scope 3", "scope3", base.inventory.scope3),
            ("residual (Scope 1 + 2 mb)", "residual_emissions", base.inventory.residual_emissions)]
    rows += [(f"PCF {flow}", f"pcf:{flow}", value) for flow, value in base.pcf.items()]
    changes = [deltas(base, s) for s in comparison.scenarios]
    for label, key, value in rows:
        places = 4 if key.startswith("pcf:") else 1
        cells = []
        for change in changes:
            delta = change[key]
            share = f" ({delta / value * 100:+.1f} %)" if value else ""
            cells.append(f"{delta:+,.{places}f}{share}")
        table.add_row(label, _t(value, places), *cells)
    console.print(table)
    mac = abatement_table(comparison)
    if any(r.cost_per_t is not None for r in mac):
        cost = f" ({currency})" if currency else ""
        table = _table("marginal abatement (cheapest first)", "scenario", "abated t", f"cost/t{cost}",
                       f"cost{cost}", "cumulative t")
        for r in mac:
            table.add_row(r.name, _t(r.abatement_t), _t(r.cost_per_t, 2), _t(r.total_cost, 0), _t(r.cumulative_t))
        console.print(table)
