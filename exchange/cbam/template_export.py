"""Write an installation into the Commission's communication template (operator -> importer).

`write_template(installation, path)` fills the operator's input cells of a copy of the official blank
template (bundled: data/communication_template_v2.1.1.xlsx) and leaves every formula, validation list and
sheet of the template in place (as far as openpyxl keeps them: it drops the template's conditional-format
extensions), so the importer's Excel computes the same summaries. The cells are found with the same
`template_layout` the importer uses; the file is written to a temporary name and renamed, so a failure
never leaves a half-written workbook.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from exchange.spreadsheet_safe import set_safe_cell
from lca_models.cbam_installation import ADDRESS_ITEMS, PRODUCT_PARAMETERS, PRODUCTION_ROUTES, Installation, \
    ProductionProcess

from .codes import installation_code_problems, template_country_code, template_country_name
from .errors import CbamError
from .template_defaults import with_default_values
from .template_layout import Layout, locate
from .template_workbook import BLANK_TEMPLATE, TemplateWorkbook

_METHOD_TEXT = {"combustion": "Combustion", "process emissions": "Process emissions", "mass balance": "Mass Balance",
                "slope method": "Slope method", "overvoltage method": "Overvoltage method"}
_ONLY_DIRECT = "Only direct production"


def write_template(installation: Installation, path: str | Path, template: Path = BLANK_TEMPLATE) -> Path:
    """Fill a copy of `template` with the installation's inputs (default values filled in); returns the path."""
    from openpyxl import load_workbook

    problems = [f"{where}: {reason}" for where, reason in installation_code_problems(installation)]
    if not installation.products:
        problems.append("products: none: the template would state the SEE of no good (give each good's CN code)")
    if problems:
        raise CbamError("\n".join(problems))
    installation = with_default_values(installation)
    path = Path(path)
    if not path.parent.is_dir():
        raise CbamError(f"{path.parent}: no such directory")
    with warnings.catch_warnings():  # openpyxl cannot keep the template's conditional-format extensions
        warnings.simplefilter("ignore", UserWarning)
        book = load_workbook(template)
    blank = TemplateWorkbook.from_workbook(book, template)
    layout = locate(blank)
    cells = _cells(installation, layout)
    for (sheet, coordinate), value in cells.items():
        set_safe_cell(book[sheet][coordinate], value)  # an operator's text never becomes a live formula
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    try:
        book.save(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise CbamError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _cells(installation: Installation, layout: Layout) -> dict[tuple[str, str], Any]:
    """Every input cell to write, (sheet, "L16") -> value."""
    _check_capacity(installation, layout)
    out: dict[tuple[str, str], Any] = {}

    def put(sheet: str, row: int, column: str, value: Any) -> None:
        if value is not None and value != "":
            out[(sheet, f"{column}{row}")] = value

    sheet = "A_InstData"
    if installation.period_start:
        put(sheet, layout.period_row, "I", datetime.combine(installation.period_start, datetime.min.time()))
    if installation.period_end:
        put(sheet, layout.period_row, "L", datetime.combine(installation.period_end, datetime.min.time()))
    about = {item: installation.address.get(key) for key, item in ADDRESS_ITEMS.items()}
    about |= {"ii.": installation.name, "viii.": template_country_name(installation.country)}
    for item, value in about.items():
        if item in layout.about_rows:
            put(sheet, layout.about_rows[item], "I", value)
    goods = dict(installation.goods_categories)  # every category a process makes must be listed in 4(a)
    for category in (c for p in installation.processes for c in (p.goods_category, *p.included_goods)):
        goods.setdefault(category, [])
    if len(goods) > len(layout.goods_rows):
        raise CbamError(f"the template has room for {len(layout.goods_rows)} goods categories; the installation "
                        f"has {len(goods)}")
    for row, (category, routes) in zip(layout.goods_rows, goods.items()):
        put(sheet, row, "E", category)
        for column, route in zip("IJKLMN", routes):
            put(sheet, row, column, route)
    for row, process in zip(layout.process_rows, installation.processes):
        put(sheet, row, "E", process.goods_category)
        for column, included in zip("FGHIJK", process.included_goods or (_ONLY_DIRECT,)):
            put(sheet, row, column, included)
        put(sheet, row, "L", process.name)
    for row, precursor in zip(layout.purchased_rows, installation.purchased_precursors):
        put(sheet, row, "E", precursor.goods_category)
        put(sheet, row, "F", template_country_code(precursor.country) if precursor.country else None)
        put(sheet, row, "L", precursor.name)

    sheet = "B_EmInst"
    for row, stream in zip(layout.stream_rows, installation.source_streams):
        for column, value in (("D", _METHOD_TEXT[stream.method]), ("E", stream.name), ("F", stream.activity_data),
                              ("G", stream.ad_unit), ("H", stream.ncv), ("J", stream.emission_factor),
                              ("K", stream.ef_unit if stream.method != "mass balance" else None),
                              ("L", stream.carbon_content), ("N", stream.oxidation_factor),
                              ("P", stream.conversion_factor), ("R", stream.biomass_content)):
            put(sheet, row, column, value)
    for row, pfc in zip(layout.pfc_rows, installation.pfc_sources):
        for column, value in (("D", _METHOD_TEXT[pfc.method]), ("E", pfc.technology), ("F", pfc.activity_data),
                              ("AG", pfc.frequency), ("AH", pfc.duration), ("AI", pfc.sef_cf4), ("AJ", pfc.aeo),
                              ("AK", pfc.ce), ("AL", pfc.ovc), ("AM", pfc.f_c2f6),
                              ("AT", pfc.collection_efficiency)):
            put(sheet, row, column, value)
    for row, source in zip(layout.measured_rows, installation.measured_sources):
        for column, value in (("D", source.name), ("E", source.gas), ("V", source.concentration),
                              ("X", source.hours), ("Z", source.flue_gas_flow), ("R", source.biomass_fraction)):
            put(sheet, row, column, value)

    if installation.indirect_emissions is not None:
        put("C_Emissions&Energy", layout.indirect_row, "M", installation.indirect_emissions)

    for number, (process, block) in enumerate(zip(installation.processes, layout.processes), 1):
        _process_cells(installation, number, process, block, put)

    sheet = "E_PurchPrec"
    for precursor, block in zip(installation.purchased_precursors, layout.purchased):
        consumed = [p.precursors.get(precursor.name, 0.0) for p in installation.processes]
        purchased = dict(precursor.purchased) or {
            PRODUCTION_ROUTES[precursor.goods_category][0]: sum(consumed) + precursor.consumed_other}
        routes = PRODUCTION_ROUTES[precursor.goods_category]
        for route, amount in purchased.items():
            put(sheet, block.numbered["(a)"][routes.index(route) + 1], "L", amount)
        for k, amount in enumerate(consumed, 1):
            put(sheet, block.numbered["(b)"][k], "L", amount)
        put(sheet, block.markers["(c)"], "L", precursor.consumed_other)
        items = block.items["(e)"]
        for item, value, source in (("i.", precursor.see_direct, precursor.see_direct_source),
                                    ("ii.", precursor.specific_electricity, precursor.specific_electricity_source),
                                    ("iii.", precursor.electricity_ef, precursor.electricity_ef_source)):
            put(sheet, items[item], "L", value)
            put(sheet, items[item], "M", source)
        if precursor.see_indirect_given is not None:  # over the template's electricity x EF formula, as operators do
            put(sheet, items["iv."], "L", precursor.see_indirect_given)

    for row, product in zip(layout.product_rows, installation.products):
        put("Summary_Products", row, "D", product.process)
        put("Summary_Products", row, "F", product.cn_code)
        put("Summary_Products", row, "H", product.name)
        for key, value in product.parameters.items():
            put("Summary_Products", row, PRODUCT_PARAMETERS[key][0], value)
    return out


def _process_cells(installation: Installation, number: int, process: ProductionProcess, block: Any, put: Any) -> None:
    sheet = "D_Processes"
    routes = PRODUCTION_ROUTES[process.goods_category]
    for route, amount in process.production.items():
        put(sheet, block.numbered["(a)"][routes.index(route) + 1], "L", amount)
    others = [p for p in installation.processes if p.name != process.name]
    consumed = [p.precursors.get(process.name, 0.0) for p in others]
    market = process.produced_for_market
    if market is None:
        market = process.activity_level - sum(consumed) - process.consumed_for_non_cbam
    put(sheet, block.items["(b)"]["i."], "L", market)
    for k, amount in enumerate(consumed, 1):  # row k names the k-th other process (the template skips itself)
        if amount:
            put(sheet, block.numbered["(c)"][k], "L", amount)
    put(sheet, block.markers["(d)"], "L", process.consumed_for_non_cbam)
    heat = bool(process.heat_imported or process.heat_exported)
    waste_gas = bool(process.waste_gas_imported or process.waste_gas_exported)
    put(sheet, block.markers["(f)"], "K", heat)
    put(sheet, block.markers["(f)"], "L", waste_gas)
    put(sheet, block.markers["(g)"], "L", process.direct_emissions)
    if heat:
        put(sheet, block.items["(h)"]["i."], "L", process.heat_imported)
        put(sheet, block.items["(h)"]["i."], "M", process.heat_exported)
        put(sheet, block.items["(h)"]["ii."], "L", process.heat_imported_ef)
        put(sheet, block.items["(h)"]["ii."], "M", process.heat_exported_ef)
    if waste_gas:
        put(sheet, block.items["(i)"]["i."], "L", process.waste_gas_imported)
        put(sheet, block.items["(i)"]["i."], "M", process.waste_gas_exported)
    put(sheet, block.items["(j)"]["i."], "L", process.electricity_consumed)
    put(sheet, block.items["(j)"]["ii."], "L", process.electricity_ef)
    put(sheet, block.items["(j)"]["iii."], "L", process.electricity_ef_source)
    put(sheet, block.items["(k)"]["i."], "L", process.electricity_exported)
    if process.electricity_exported:
        put(sheet, block.items["(k)"]["ii."], "L", process.electricity_exported_ef)


def _check_capacity(installation: Installation, layout: Layout) -> None:
    """The template has fixed room (10 processes, 20 purchased precursors, ...): refuse what does not fit."""
    room = {"production processes": (len(installation.processes), min(len(layout.process_rows), len(layout.processes))),
            "purchased precursors": (len(installation.purchased_precursors),
                                     min(len(layout.purchased_rows), len(layout.purchased))),
            "source streams": (len(installation.source_streams), len(layout.stream_rows)),
            "PFC sources": (len(installation.pfc_sources), len(layout.pfc_rows)),
            "measured emission sources": (len(installation.measured_sources), len(layout.measured_rows)),
            "products": (len(installation.products), len(layout.product_rows))}
    for what, (count, capacity) in room.items():
        if count > capacity:
            raise CbamError(f"the template has room for {capacity} {what}; the installation has {count}")
