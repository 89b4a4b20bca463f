"""Import an operator's filled communication template into the toolkit's installation model.

`import_template(path)` reads only what the operator entered (sheets A_InstData, B_EmInst,
C_Emissions&Energy, D_Processes, E_PurchPrec and the product rows of Summary_Products), never the cached
results of the template's formulas; see `template_workbook` for how input formulas are evaluated and
`template_layout` for how the cells are found. Every problem is reported as `file: sheet!cell: reason`,
all of them at once; nothing is half-imported.

How the template's amounts map onto the model:
- D_Processes (a): production per route -> `production` (the activity level AL is their sum);
- D_Processes (c) of process A, "consumed in process B", and E_PurchPrec (b), "consumed in process B",
  become process B's `precursors` (its M_i): the model records inputs where they are consumed;
- D_Processes (g)-(k): DirEm*, heat, waste gas and electricity, as entered;
- Summary_Products: the product rows (process, CN code, product name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lca_models.cbam_installation import (
    ADDRESS_ITEMS,
    EF_UNITS,
    GOODS_CATEGORIES,
    MEASURED_GASES,
    METHODS,
    PFC_METHODS,
    PRODUCT_PARAMETERS,
    PRODUCTION_ROUTES,
    Installation,
    parse_installation,
)
from lca_models.errors import ModelError

from .codes import UNLOCODE, cn_code_problem, template_cn_codes, template_country
from .errors import CbamError
from .template_layout import Layout, locate
from ..xlsx_limits import XlsxLimitError, open_bounded_workbook
from .template_workbook import TemplateWorkbook, blank_template

_ONLY_DIRECT = "Only direct production"


def import_template(path: str | Path) -> Installation:
    """The installation described by a filled communication template; CbamError listing every problem."""
    book = TemplateWorkbook.open(path, code_lists=False)  # CN codes and countries: the bundled template's lists
    layout = locate(book)
    document = _Reader(book, layout).document()
    book.raise_errors()
    try:
        return parse_installation(document, file=str(book.path))
    except ModelError as exc:
        raise CbamError(str(exc)) from None


@dataclass(frozen=True)
class StatedSee:
    """What a filled template itself states for a product in Summary_Products (columns I-K, tCO2e/t): the
    workbook's own formula results, None where the workbook was saved without evaluated formulas."""

    process: str
    cn_code: str
    direct: float | None
    indirect: float | None
    total: float | None


def stated_see(path: str | Path) -> list[StatedSee]:
    """The template's own SEE per product row, to compare with the toolkit's. Only for that comparison: the import
    never reads these cached results. Rows are found as the importer finds them (same layout, same order)."""
    book = TemplateWorkbook.open(path, code_lists=False)
    rows = locate(book).product_rows
    try:
        cached = open_bounded_workbook(path, data_only=True)
    except XlsxLimitError as exc:
        raise CbamError(str(exc)) from None
    try:
        by_row: dict[int, tuple] = {}
        if rows:  # one pass over columns I-K of the product rows (a read-only sheet re-reads for every cell())
            first = min(rows)
            found = cached["Summary_Products"].iter_rows(min_row=first, max_row=max(rows), min_col=9, max_col=11,
                                                         values_only=True)
            by_row = {first + offset: values for offset, values in enumerate(found)}
        stated = []
        for row in rows:
            process = book.text("Summary_Products", row, "D")
            if not process:
                continue
            cn = book.text("Summary_Products", row, "F").replace(" ", "")
            stated.append(StatedSee(process, cn, *(float(v) if isinstance(v, (int, float)) else None
                                                    for v in by_row.get(row, (None, None, None)))))
        return stated
    finally:
        cached.close()


class _Reader:
    def __init__(self, book: TemplateWorkbook, layout: Layout) -> None:
        self.book = book
        self.layout = layout

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        doc.update(self._installation())
        doc["goods_categories"] = self._goods()
        doc["source_streams"] = self._streams()
        doc["pfc_sources"] = self._pfc()
        doc["measured_sources"] = self._measured()
        indirect = self.book.number("C_Emissions&Energy", self.layout.indirect_row, "M")
        if indirect is not None:
            doc["indirect_emissions"] = indirect
        processes = self._processes()
        purchased = self._purchased(processes)
        doc["processes"] = [p for p in processes if p]
        doc["purchased_precursors"] = purchased
        doc["products"] = self._products(doc["processes"])
        return doc

    # --- A_InstData

    def _installation(self) -> dict[str, Any]:
        book, sheet, rows = self.book, "A_InstData", self.layout.about_rows

        def about(item: str) -> str:
            return book.text(sheet, rows[item], "I") if item in rows else ""

        name = about("ii.") or about("i.")
        if not name:
            book.fail(sheet, rows.get("ii.", 0), "I", "missing the name of the installation")
        country_name = about("viii.")
        country = template_country(country_name) if country_name else None
        if not country:
            book.fail(sheet, rows.get("viii.", 0), "I", f"unknown country {country_name!r} (not an ISO 3166-1 "
                      "country of the template's list)" if country_name else "missing the country of the installation")
        unlocode = about("ix.")
        found = UNLOCODE.fullmatch(unlocode) if unlocode else None
        if unlocode and (not found or (country and found.group(1) != country)):
            book.fail(sheet, rows["ix."], "I", f"UN/LOCODE {unlocode!r}: " + (
                f"in {found.group(1)}, the installation in {country}" if found
                else "two letters of the country and three letters or digits 2-9 (e.g. 'CN SHA')"))
        address = {key: about(item) for key, item in ADDRESS_ITEMS.items()}
        return {
            "name": name, "country": country,
            "period_start": _iso(book.date(sheet, self.layout.period_row, "I")),
            "period_end": _iso(book.date(sheet, self.layout.period_row, "L")),
            "address": {k: v for k, v in address.items() if v},
        }

    def _goods(self) -> dict[str, list[str]]:
        book, sheet = self.book, "A_InstData"
        goods: dict[str, list[str]] = {}
        for row in self.layout.goods_rows:
            category = book.text(sheet, row, "E")
            if not category:
                continue
            if category not in GOODS_CATEGORIES:
                book.fail(sheet, row, "E", f"unknown aggregated goods category {category!r}")
                continue
            goods[category] = [r for c in "IJKLMN" if (r := book.text(sheet, row, c))]
        return goods

    def _process_list(self) -> list[tuple[str, str, list[str], int]]:
        """(name, category, included goods, row) per P-row, '' for empty rows (block n is the n-th P-row)."""
        book, sheet, out = self.book, "A_InstData", []
        for row in self.layout.process_rows:
            name, category = book.text(sheet, row, "L"), book.text(sheet, row, "E")
            if category and category not in GOODS_CATEGORIES:
                book.fail(sheet, row, "E", f"unknown aggregated goods category {category!r}")
            if category and not name:
                book.fail(sheet, row, "L", "missing the name of the production process")
            if name and not category:
                book.fail(sheet, row, "E", f"missing the aggregated goods category of process {name!r}")
            included = [g for c in "FGHIJK" if (g := book.text(sheet, row, c)) and g != _ONLY_DIRECT]
            out.append((name if category else "", category, included, row))
        return out

    # --- B_EmInst and C_Emissions&Energy

    def _streams(self) -> list[dict[str, Any]]:
        book, sheet, out = self.book, "B_EmInst", []
        for row in self.layout.stream_rows:
            method = book.text(sheet, row, "D").lower()
            if not method:
                continue
            if method not in METHODS:
                book.fail(sheet, row, "D", f"unknown monitoring method {method!r} (one of {', '.join(METHODS)})")
                continue
            stream = {"name": book.text(sheet, row, "E") or f"source stream {row}", "method": method,
                      "activity_data": book.number(sheet, row, "F", required="activity data")}
            unit = book.text(sheet, row, "G")
            if unit and unit not in ("t", "1000Nm3"):
                book.fail(sheet, row, "G", f"unknown activity-data unit {unit!r} (t or 1000Nm3)")
            elif unit:
                stream["ad_unit"] = unit
            values = {"ncv": "H", "carbon_content": "L", "oxidation_factor": "N", "conversion_factor": "P",
                      "biomass_content": "R"}
            if method == "mass balance":
                stream["carbon_content"] = book.number(sheet, row, "L", required="carbon content")
                values.pop("carbon_content")
            else:
                stream["emission_factor"] = book.number(sheet, row, "J", required="emission factor")
                stream["ef_unit"] = book.text(sheet, row, "K") or "tCO2/t"
                if stream["ef_unit"] not in EF_UNITS:
                    book.fail(sheet, row, "K", f"unknown emission-factor unit {stream['ef_unit']!r} "
                                               f"(one of {', '.join(EF_UNITS)})")
                if stream["ef_unit"] == "tCO2/TJ":
                    stream["ncv"] = book.number(sheet, row, "H", required="net calorific value (EF is per TJ)")
                    values.pop("ncv")
            out.append(stream | book.numbers(sheet, row, values))
        return out

    def _pfc(self) -> list[dict[str, Any]]:
        book, sheet, out = self.book, "B_EmInst", []
        columns = {"frequency": "AG", "duration": "AH", "sef_cf4": "AI", "aeo": "AJ", "ce": "AK", "ovc": "AL",
                   "f_c2f6": "AM", "collection_efficiency": "AT"}
        for row in self.layout.pfc_rows:
            method = book.text(sheet, row, "D").lower()
            if not method:
                continue
            if method not in PFC_METHODS:
                book.fail(sheet, row, "D", f"unknown PFC method {method!r} (one of {', '.join(PFC_METHODS)})")
                continue
            source = {"technology": book.text(sheet, row, "E"), "method": method,
                      "activity_data": book.number(sheet, row, "F", required="activity data (t aluminium)")}
            out.append(source | book.numbers(sheet, row, columns))
        return out

    def _measured(self) -> list[dict[str, Any]]:
        book, sheet, out = self.book, "B_EmInst", []
        for row in self.layout.measured_rows:
            gas = book.text(sheet, row, "E")
            if not gas:
                continue
            if gas not in MEASURED_GASES:
                book.fail(sheet, row, "E", f"unknown greenhouse gas {gas!r} (one of {', '.join(MEASURED_GASES)})")
                continue
            source = {"name": book.text(sheet, row, "D") or f"emission source {row}", "gas": gas,
                      "concentration": book.number(sheet, row, "V", required="hourly GHG concentration"),
                      "hours": book.number(sheet, row, "X", required="operating hours"),
                      "flue_gas_flow": book.number(sheet, row, "Z", required="flue gas flow")}
            biomass = book.number(sheet, row, "R")
            if biomass is not None:
                source["biomass_fraction"] = biomass
            out.append(source)
        return out

    # --- D_Processes

    def _processes(self) -> list[dict[str, Any] | None]:
        book, sheet = self.book, "D_Processes"
        listed = self._process_list()
        names = [name for name, *_ in listed]
        processes: list[dict[str, Any] | None] = []
        for (name, category, included, _), block in zip(listed, self.layout.processes):
            if not name:
                processes.append(None)
                continue
            routes = PRODUCTION_ROUTES.get(category, ())
            production: dict[str, float] = {}
            for number, row in sorted(block.numbered.get("(a)", {}).items()):
                amount = book.number(sheet, row, "L")
                if amount is None:
                    continue
                if number > len(routes):
                    book.fail(sheet, row, "L", f"{category} has only {len(routes)} production route(s)")
                    continue
                production[routes[number - 1]] = amount
            if sum(production.values()) <= 0:
                first = min(block.numbered.get("(a)", {1: block.markers["(a)"]}).values())
                book.fail(sheet, first, "L", f"missing activity level (total production) of process {name!r}")
            items = block.items
            process: dict[str, Any] = {
                "name": name, "goods_category": category, "production": production,
                "direct_emissions": book.number(sheet, block.markers["(g)"], "L",
                                                required=f"directly attributable emissions (DirEm*) of {name!r}"),
                "precursors": {},
            }
            if included:
                process["included_goods"] = included
            optional = {
                "produced_for_market": (items.get("(b)", {}).get("i."), "L"),
                "consumed_for_non_cbam": (block.markers["(d)"], "L"),
                "heat_imported": (items.get("(h)", {}).get("i."), "L"),
                "heat_exported": (items.get("(h)", {}).get("i."), "M"),
                "heat_imported_ef": (items.get("(h)", {}).get("ii."), "L"),
                "heat_exported_ef": (items.get("(h)", {}).get("ii."), "M"),
                "waste_gas_imported": (items.get("(i)", {}).get("i."), "L"),
                "waste_gas_exported": (items.get("(i)", {}).get("i."), "M"),
                "electricity_consumed": (items.get("(j)", {}).get("i."), "L"),
                "electricity_ef": (items.get("(j)", {}).get("ii."), "L"),
                "electricity_exported": (items.get("(k)", {}).get("i."), "L"),
                "electricity_exported_ef": (items.get("(k)", {}).get("ii."), "L"),
            }
            for key, (row, column) in optional.items():
                value = book.number(sheet, row, column) if row else None
                if value is not None:
                    process[key] = value
            source_row = items.get("(j)", {}).get("iii.")
            if source_row and book.text(sheet, source_row, "L"):
                process["electricity_ef_source"] = book.text(sheet, source_row, "L")
            processes.append(process)
        self._own_precursors(processes, names)
        return processes

    def _own_precursors(self, processes: list[dict[str, Any] | None], names: list[str]) -> None:
        """D_Processes (c): row k of process n is consumer k (k < n) or k+1 (the list skips n itself)."""
        book, sheet = self.book, "D_Processes"
        for index, (process, block) in enumerate(zip(processes, self.layout.processes), 1):
            if process is None:
                continue
            for k, row in block.numbered.get("(c)", {}).items():
                amount = book.number(sheet, row, "L")
                if not amount:
                    continue
                consumer = k if k < index else k + 1
                target = processes[consumer - 1] if consumer <= len(processes) else None
                if target is None:
                    book.fail(sheet, row, "L", f"{amount} t of {process['name']!r} consumed in production process "
                                               f"{consumer}, which is not defined in A_InstData")
                    continue
                target["precursors"][process["name"]] = target["precursors"].get(process["name"], 0.0) + amount

    # --- E_PurchPrec

    def _purchased(self, processes: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        book, sheet, out = self.book, "E_PurchPrec", []
        for row_a, block in zip(self.layout.purchased_rows, self.layout.purchased):
            name, category = book.text("A_InstData", row_a, "L"), book.text("A_InstData", row_a, "E")
            if not name and not category:
                continue
            if not name or category not in GOODS_CATEGORIES:
                book.fail("A_InstData", row_a, "L" if not name else "E",
                          "missing the name of the purchased precursor" if not name
                          else f"unknown aggregated goods category {category!r}")
                continue
            routes = PRODUCTION_ROUTES[category]
            purchased = {routes[n - 1]: v for n, row in sorted(block.numbered.get("(a)", {}).items())
                         if n <= len(routes) and (v := book.number(sheet, row, "L")) is not None}
            items = block.items.get("(e)", {})
            see_row = items.get("i.", block.markers["(e)"])
            origin = book.text("A_InstData", row_a, "F")
            precursor: dict[str, Any] = {
                "name": name, "goods_category": category, "purchased": purchased,
                "see_direct": book.number(sheet, see_row, "L", required=f"SEE (direct) of purchased {name!r}"),
                "country": (template_country(origin) or "") if origin else "",
            }
            if origin and not precursor["country"]:
                book.fail("A_InstData", row_a, "F", f"unknown country {origin!r} of purchased precursor {name!r} "
                                                    "(not an ISO 3166-1 country of the template's list)")
            for key, item, column in (("specific_electricity", "ii.", "L"), ("electricity_ef", "iii.", "L")):
                value = book.number(sheet, items[item], column) if item in items else None
                if value is not None:
                    precursor[key] = value
            # (e) iv. is the template's electricity x EF, unless the operator typed over it: what the cell shows
            # counts; it is kept as given where it differs from ii. x iii. (the template's own formula, as in the
            # blank, needs no evaluation)
            row_iv = items.get("iv.")
            given = None
            if row_iv and book.raw(sheet, row_iv, "L") != blank_template().raw(sheet, row_iv, "L"):
                given = book.number(sheet, row_iv, "L")
            product = precursor.get("specific_electricity", 0.0) * precursor.get("electricity_ef", 0.0)
            if given is not None and abs(given - product) > 1e-12 * max(1.0, abs(product)):
                precursor["see_indirect_given"] = given
            for key, item in (("see_direct_source", "i."), ("specific_electricity_source", "ii."),
                              ("electricity_ef_source", "iii.")):
                text = book.text(sheet, items[item], "M") if item in items else ""
                if text:
                    precursor[key] = text
            other = book.number(sheet, block.markers["(c)"], "L")
            if other:
                precursor["consumed_other"] = other
            for k, row in block.numbered.get("(b)", {}).items():
                amount = book.number(sheet, row, "L")
                if not amount:
                    continue
                target = processes[k - 1] if k <= len(processes) else None
                if target is None:
                    book.fail(sheet, row, "L", f"{amount} t of {name!r} consumed in production process {k}, "
                                               "which is not defined in A_InstData")
                    continue
                target["precursors"][name] = target["precursors"].get(name, 0.0) + amount
            out.append(precursor)
        return out

    # --- Summary_Products

    def _products(self, processes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        book, sheet, out = self.book, "Summary_Products", []
        by_name = {p["name"]: p for p in processes}
        cn_codes = template_cn_codes()
        for row in self.layout.product_rows:
            process = book.text(sheet, row, "D")
            if not process:
                continue
            if process not in by_name:
                book.fail(sheet, row, "D", f"unknown production process {process!r} "
                                           f"(defined: {', '.join(by_name) or 'none'})")
                continue
            cn = book.text(sheet, row, "F").replace(" ", "")
            if not cn:
                book.fail(sheet, row, "F", f"missing the CN code of a product of {process!r}")
                continue
            problem = cn_code_problem(cn, template_only=True)
            if problem:
                book.fail(sheet, row, "F", problem)
                continue
            allowed = {by_name[process]["goods_category"], *by_name[process].get("included_goods", [])}
            category = cn_codes.get(cn, "")
            if category and category not in allowed:
                book.fail(sheet, row, "F", f"CN code {cn} is {category!r}, but process {process!r} makes "
                                           f"{', '.join(sorted(allowed))}")
                continue
            out.append({"process": process, "cn_code": cn, "name": book.text(sheet, row, "H"),
                        "parameters": self._parameters(row)})
        return out

    def _parameters(self, row: int) -> dict[str, str | float]:
        """The product's qualitative parameters (Summary_Products P-AK), those the operator filled in."""
        book, sheet, found = self.book, "Summary_Products", {}
        for key, (column, kind) in PRODUCT_PARAMETERS.items():
            raw = book.raw(sheet, row, column)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            if kind == "number":
                value = book.number(sheet, row, column)
            elif isinstance(raw, (int, float)) and not isinstance(raw, bool):  # an identification number typed as one
                value = str(int(raw)) if float(raw).is_integer() else str(raw)
            else:
                value = book.text(sheet, row, column)
            if value is not None and value != "":
                found[key] = value
        return found


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None
