"""Where the operator's inputs are in the communication template, found from its structure.

Rows are located by the template's own constant markers, not by coordinates fitted to one file: the
section numbers in column C, the item labels `(a)`..`(k)` and `i.`..`v.` in column D, the IDs `G1`, `P1`,
`PP1` of the lists in A_InstData, and the numbered table rows. Columns are the template's layout
(v2.x): e.g. D_Processes keeps amounts in L (imported) and M (exported). Import and export use the same
layout, so what one writes the other reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import CbamError
from .template_workbook import TemplateWorkbook


@dataclass(frozen=True)
class Block:
    """One production process (D_Processes) or purchased precursor (E_PurchPrec) block: marker -> row."""

    markers: dict[str, int]
    numbered: dict[str, dict[int, int]]  # marker -> {item number -> row} for the numbered rows after it
    items: dict[str, dict[str, int]]  # marker -> {'i.' -> row}


@dataclass
class Layout:
    goods_rows: list[int] = field(default_factory=list)  # A_InstData 4(a): G1..G10
    process_rows: list[int] = field(default_factory=list)  # A_InstData 4(b): P1..P10
    purchased_rows: list[int] = field(default_factory=list)  # A_InstData 5: PP1..PP20
    about_rows: dict[str, int] = field(default_factory=dict)  # A_InstData 2: 'i.' .. 'xiv.'
    period_row: int = 0
    stream_rows: list[int] = field(default_factory=list)  # B_EmInst (a)
    pfc_rows: list[int] = field(default_factory=list)  # B_EmInst (b)
    measured_rows: list[int] = field(default_factory=list)  # B_EmInst (c)
    indirect_row: int = 0  # C_Emissions&Energy 2(a) ii. (manual entries), column M
    balance_rows: dict[str, int] = field(default_factory=dict)  # C_Emissions&Energy 2(a) i., iii. and 2(b)
    processes: list[Block] = field(default_factory=list)
    purchased: list[Block] = field(default_factory=list)
    product_rows: list[int] = field(default_factory=list)  # Summary_Products


def _label(book: TemplateWorkbook, sheet: str, row: int, column: str) -> str:
    value = book.raw(sheet, row, column)
    return value.strip() if isinstance(value, str) and not value.startswith("=") else ""


def _int(book: TemplateWorkbook, sheet: str, row: int, column: str) -> int | None:
    value = book.raw(sheet, row, column)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _section_rows(book: TemplateWorkbook, sheet: str) -> dict[int, int]:
    """Section number (constant int in column C next to a label in D) -> its first row."""
    found: dict[int, int] = {}
    for row in book.rows(sheet):
        number = _int(book, sheet, row, "C")
        if number is not None and book.raw(sheet, row, "D") is not None and number not in found:
            found[number] = row
    return found


def _blocks(book: TemplateWorkbook, sheet: str, markers: tuple[str, ...], numbered: tuple[str, ...]) -> list[Block]:
    """Blocks start at each '(a)' in column D; the other markers follow in order within the block."""
    rows = book.rows(sheet)
    starts = [r for r in rows if _label(book, sheet, r, "D") == "(a)"]
    blocks = []
    for n, start in enumerate(starts, 1):
        end = starts[n] if n < len(starts) else max(rows) + 1
        found: dict[str, int] = {"(a)": start}
        numbered_rows: dict[str, dict[int, int]] = {}
        items: dict[str, dict[str, int]] = {}
        current = "(a)"
        for row in (r for r in rows if start < r < end):
            label = _label(book, sheet, row, "D")
            if label in markers and label not in found:
                found[label], current = row, label
                continue
            number = _int(book, sheet, row, "D")
            if number is not None and current in numbered:
                numbered_rows.setdefault(current, {})[number] = row
            elif re.fullmatch(r"[ivx]+\.", label):
                items.setdefault(current, {})[label] = row
        missing = [m for m in markers if m not in found]
        if missing:
            raise CbamError(f"{book.path}: {sheet}: block {n} (row {start}) lacks the item(s) {', '.join(missing)}; "
                            "is this the communication template v2.x?")
        blocks.append(Block(found, numbered_rows, items))
    return blocks


def locate(book: TemplateWorkbook) -> Layout:
    """Find every input area of the template in `book`."""
    layout = Layout()
    sheet = "A_InstData"
    sections = _section_rows(book, sheet)
    for row in book.rows(sheet):
        ident = _label(book, sheet, row, "D")
        if re.fullmatch(r"G\d+", ident):
            layout.goods_rows.append(row)
        elif re.fullmatch(r"P\d+", ident):
            layout.process_rows.append(row)
        elif re.fullmatch(r"PP\d+", ident):
            layout.purchased_rows.append(row)
    if 1 not in sections or 2 not in sections or not layout.process_rows:
        raise CbamError(f"{book.path}: A_InstData: sections 1 (reporting period), 2 (installation) or the "
                        "process list (P1..P10) not found; is this the communication template v2.x?")
    layout.period_row = sections[1]
    end = sections.get(3, sections[2] + 20)
    for row in book.rows(sheet):
        label = _label(book, sheet, row, "D")
        if sections[2] < row < end and re.fullmatch(r"[ivx]+\.", label):
            layout.about_rows.setdefault(label, row)

    sheet = "B_EmInst"
    part = ""
    for row in book.rows(sheet):
        label = _label(book, sheet, row, "C")
        if label in ("(a)", "(b)", "(c)"):
            part = label
        elif _int(book, sheet, row, "C") is not None and part:
            {"(a)": layout.stream_rows, "(b)": layout.pfc_rows, "(c)": layout.measured_rows}[part].append(row)

    sheet = "C_Emissions&Energy"
    sections = _section_rows(book, sheet)
    rows = [r for r in book.rows(sheet) if r > sections.get(2, 0)]
    markers = {label: r for r in reversed(rows) if (label := _label(book, sheet, r, "D")) in ("(a)", "(b)", "(c)")}
    if {"(a)", "(b)", "(c)"} <= markers.keys():
        items = {label: r for r in reversed(rows) if markers["(a)"] < r < markers["(b)"]
                 and (label := _label(book, sheet, r, "D")) in ("i.", "ii.", "iii.")}
        layout.indirect_row = items.get("ii.", 0)
        layout.balance_rows = {"from_sources": items.get("i.", 0), "results": items.get("iii.", 0),
                               # (b) by monitoring methodology: its one row of figures is the last before (c)
                               "by_method": max((r for r in rows if markers["(b)"] < r < markers["(c)"]), default=0)}
    if not layout.indirect_row or not all(layout.balance_rows.values()):
        raise CbamError(f"{book.path}: C_Emissions&Energy: the GHG balance (section 2 (a), (b)) was not found")

    layout.processes = _blocks(book, "D_Processes",
                               ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)", "(j)", "(k)"),
                               ("(a)", "(c)"))
    layout.purchased = _blocks(book, "E_PurchPrec", ("(a)", "(b)", "(c)", "(d)", "(e)"), ("(a)", "(b)"))

    sheet = "Summary_Products"
    layout.product_rows = [r for r in book.rows(sheet) if _int(book, sheet, r, "C") is not None
                           and r < min([x for x in book.rows(sheet) if _label(book, sheet, x, "A") == "ausblenden"
                                        and x > 10] or [10 ** 6])]
    return layout
