"""Write a Scope 3 result: an Excel workbook (lines, by supplier, by product, by category, problems) or a CSV.

Written to a temporary file beside the target and renamed into place, so a failure never leaves a half-written
file where the buyer's file was. Numbers go in as numbers (not text) so the buyer's own formulas work on them;
every estimated line says so in its `data` column (a supplier-declared one too), and every total separates primary
from estimated emissions, and within primary the supplier-declared (unsigned) part.
"""

from __future__ import annotations

import csv
import os
import uuid
from decimal import Decimal
from pathlib import Path

from exchange.spreadsheet_safe import append_safe_row, safe_row

from .scope3 import Line, Scope3Result, Total

LINE_HEADER = ("row", "supplier", "product_id", "category", "quantity", "unit", "spend", "currency", "spend_usd",
               "data", "kgCO2e", "flag", "footprint_id", "declared_units", "kgCO2e_per_declared_unit",
               "primary_data_share_percent", "dqr_technological", "dqr_geographical", "dqr_temporal",
               "signature", "estimate_source", "conversion", "unresolved")
TOTAL_HEADER = ("key", "kgCO2e", "primary_kgCO2e", "estimated_kgCO2e", "primary_share_percent",
                "primary_data_share_percent", "dqr", "unresolved_lines", "spend_usd", "supplier_declared_kgCO2e",
                "lines_without_estimate")


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def line_row(line: Line) -> list:
    """The line's cells: numbers as numbers; the writers make its text spreadsheet-safe (exchange/spreadsheet_safe)."""
    p = line.purchase
    dqr = line.dqr or (None, None, None)
    return [
        p.row, p.supplier, p.product_id, p.category, _number(p.quantity), p.unit, _number(p.spend), p.currency,
        _number(line.spend_usd), line.method, _number(line.kgco2e), line.flag, line.footprint_id,
        _number(line.declared_units), _number(line.pcf_per_declared_unit), _number(line.primary_data_share),
        *(_number(d) for d in dqr), line.signature, line.estimate_source, line.conversion,
        "yes" if line.unresolved else ""]


def total_row(total: Total) -> list:
    return [total.key, _number(total.kgco2e), _number(total.primary_kgco2e), _number(total.estimated_kgco2e),
            _number(total.primary_share_percent), _number(total.primary_data_share), _number(total.dqr),
            total.unresolved_lines, _number(total.spend_usd), _number(total.declared_kgco2e),
            total.lines_without_estimate]


def _replace(path: Path, write) -> None:
    """Call write(temp_path), then rename the temp file onto `path` (same directory, so the rename is atomic)."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # created by the writer, honouring the umask
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_xlsx(result: Scope3Result, path: Path) -> None:
    """The workbook: lines, by supplier, by product, by category (overall first in each), problems."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    lines = workbook.active
    lines.title = "lines"
    lines.append(LINE_HEADER)
    for line in result.lines:
        append_safe_row(lines, line_row(line))
    for title, totals in (("by supplier", result.by_supplier), ("by product", result.by_product),
                          ("by category", result.by_category)):
        sheet = workbook.create_sheet(title)
        sheet.append(TOTAL_HEADER)
        append_safe_row(sheet, total_row(result.overall))
        for total in totals:
            append_safe_row(sheet, total_row(total))
    problems = workbook.create_sheet("problems")
    problems.append(("where", "problem"))
    for problem in result.problems:
        append_safe_row(problems, (problem.where, problem.message))
    for sheet in workbook.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    _replace(path, lambda temp: workbook.save(temp))


def write_csv(result: Scope3Result, path: Path) -> None:
    """The lines table only (a CSV holds one table); totals and problems are printed by the command."""
    def write(temp: Path) -> None:
        with temp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(LINE_HEADER)
            writer.writerows(safe_row(line_row(line)) for line in result.lines)

    _replace(path, write)
