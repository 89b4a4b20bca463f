"""Extract the CBAM default values (Implementing Regulation (EU) 2025/2621, Annex I) into a bundled CSV.

    python scripts/extract_cbam_defaults.py [XLSX] [OUT_CSV]

Defaults: ../shared/cbam/default_values_IR2025-2621.xlsx -> exchange/cbam/data/default_values.csv.

Layout of the Commission's workbook: sheets "Overview" and "Version History", then one sheet per country (its full
name in A1; the sheet name may be truncated), the last one "Other Countries and Territories". Row 2 is the header
(A CN code, B description, C direct, D indirect, E total, F/G/H the value including the 2026/2027/2028+ mark-up,
I the production route for the CBAM benchmark); a sector row ("Cement", "10% mark-up", "20% mark-up", "30% mark-up")
opens each sector. Columns after I are ignored (one sheet has a scratch table there).

Every country x CN-code row is written, also rows without a value ("–", "see below"): per Annex I a listed
country whose field shows "–" or no value takes the "Other countries and territories" value, and keeping those rows
lets the lookup tell "no value for this code" from "code not listed". Direct/indirect/total are kept as printed;
"N/A" indirect (goods whose indirect emissions are not counted) is left empty. The mark-up columns hold the
mark-up *percentage* of the sector row: the regulation applies it to the total default value
(total x (1 + p/100), e.g. Annex I "7616 99 90 ... 1,600 ... 1,760 1,920 2,080"). The sheet's own
"including mark-up" values are checked against that and deviations are reported (some sheets compound the mark-up
year on year: Angola and Argentina cement rows, 2027/2028; the OJ text prints the same compounded values there,
so those few cells are a known conflict between the printed value and the stated mark-up); they are not used.
"""

from __future__ import annotations

import csv
import re
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
XLSX = ROOT.parent / "shared" / "cbam" / "default_values_IR2025-2621.xlsx"
OUT = ROOT / "exchange" / "cbam" / "data" / "default_values.csv"
REGULATION = "IR (EU) 2025/2621 Annex I"
OTHER = "OTHER"  # the "Other Countries and Territories" table
COLUMNS = ["country", "cn_code", "description", "direct", "indirect", "total", "markup_2026", "markup_2027",
           "markup_2028", "source"]

# Sheet title (cell A1) -> ISO 3166-1 alpha-2.
ISO = {
    "Albania": "AL", "Algeria": "DZ", "Angola": "AO", "Argentina": "AR", "Armenia": "AM", "Australia": "AU",
    "Azerbaijan": "AZ", "Bangladesh": "BD", "Bahrain": "BH", "Belarus": "BY", "Benin": "BJ", "Bolivia": "BO",
    "Bosnia and Herzegovina": "BA", "Brazil": "BR", "Brunei": "BN", "Cambodia": "KH", "Cameroon": "CM",
    "Canada": "CA", "Chile": "CL", "China": "CN", "Colombia": "CO", "Congo": "CG", "Costa Rica": "CR",
    "Côte d'Ivoire": "CI", "Cuba": "CU", "Curaçao": "CW", "Democratic Republic of the Congo": "CD",
    "Dominican Republic": "DO", "Ecuador": "EC", "Egypt": "EG", "El Salvador": "SV", "Equatorial Guinea": "GQ",
    "Eritrea": "ER", "Eswatini": "SZ", "Ethiopia": "ET", "Gabon": "GA", "Georgia": "GE", "Ghana": "GH",
    "Guatemala": "GT", "Haiti": "HT", "Honduras": "HN", "Hong Kong": "HK", "India": "IN", "Indonesia": "ID",
    "Iran": "IR", "Iraq": "IQ", "Israel": "IL", "Jamaica": "JM", "Japan": "JP", "Jordan": "JO", "Kazakhstan": "KZ",
    "Kenya": "KE", "Kuwait": "KW", "Kyrgyzstan": "KG", "Laos": "LA", "Lebanon": "LB", "Libya": "LY",
    "Madagascar": "MG", "Malaysia": "MY", "Mali": "ML", "Mauritius": "MU", "Mauritania": "MR", "Mexico": "MX",
    "Moldova": "MD", "Mongolia": "MN", "Montenegro": "ME", "Morocco": "MA", "Mozambique": "MZ",
    "Myanmar/Burma": "MM", "Namibia": "NA", "Nepal": "NP", "New Zealand": "NZ", "Nicaragua": "NI", "Niger": "NE",
    "Nigeria": "NG", "North Korea": "KP", "North Macedonia": "MK", "Oman": "OM", "Pakistan": "PK",
    "Papua New Guinea": "PG", "Panama": "PA", "Paraguay": "PY", "Peru": "PE", "Philippines": "PH", "Qatar": "QA",
    "Russia": "RU", "Rwanda": "RW", "Saudi Arabia": "SA", "Senegal": "SN", "Serbia": "RS", "Sierra Leone": "SL",
    "Singapore": "SG", "South Africa": "ZA", "South Korea": "KR", "Sri Lanka": "LK", "Sudan": "SD",
    "Suriname": "SR", "Syria": "SY", "Taiwan": "TW", "Tajikistan": "TJ", "Tanzania": "TZ", "Thailand": "TH",
    "Togo": "TG", "Trinidad and Tobago": "TT", "Tunisia": "TN", "Türkiye": "TR", "Turkmenistan": "TM",
    "Uganda": "UG", "Ukraine": "UA", "United Arab Emirates": "AE", "United Kingdom": "GB", "United States": "US",
    "Uruguay": "UY", "Uzbekistan": "UZ", "Venezuela": "VE", "Vietnam": "VN", "Yemen": "YE", "Zambia": "ZM",
    "Zimbabwe": "ZW", "Other Countries and Territories": OTHER,
}
# Mark-ups per sector (Annex I sector rows); used where a sheet's sector row leaves a year blank.
SECTOR_MARKUPS = {
    "Cement": ("10", "20", "30"), "Fertilisers": ("1", "1", "1"), "Hydrogen": ("10", "20", "30"),
    "Iron and steel": ("10", "20", "30"), "Aluminium": ("10", "20", "30"),
}
TOLERANCE = Decimal("0.0015")


def number(cell: object) -> Decimal | None:
    """The cell's value as a Decimal (floats via their shortest repr), None for '–', 'N/A', '#VALUE!' and the like."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        return Decimal(repr(cell))
    return None


def fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def extract(xlsx: Path) -> tuple[list[dict[str, str]], list[str]]:
    workbook = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
    rows: list[dict[str, str]] = []
    notes: list[str] = []
    for sheet in workbook.worksheets:
        if sheet.title in ("Overview", "Version History"):
            continue
        cells = list(sheet.iter_rows(values_only=True))
        title = str(cells[0][0]).strip()
        if title not in ISO:
            raise SystemExit(f"sheet {sheet.title!r}: unknown country {title!r}; add it to ISO")
        country = ISO[title]
        header = str(cells[1][0] or "")
        if not header.startswith("Product CN Code"):
            raise SystemExit(f"sheet {sheet.title!r}: row 2 is not the header ({header!r})")
        markups: tuple[str, str, str] | None = None
        for number_row, row in enumerate(cells[2:], start=3):
            row = tuple(row) + (None,) * (9 - len(row))
            first = row[0]
            if first is None:
                continue
            text = re.sub(r"\s", "", str(first))
            if not text.isdigit():  # a sector row
                sector = str(first).strip()
                if sector not in SECTOR_MARKUPS:
                    raise SystemExit(f"sheet {sheet.title!r} row {number_row}: unknown sector {sector!r}")
                given = [re.match(r"\s*(\d+(?:\.\d+)?)\s*%", str(v or "")) for v in row[5:8]]
                markups = tuple(m.group(1) if m else fallback
                                for m, fallback in zip(given, SECTOR_MARKUPS[sector]))  # type: ignore[assignment]
                if not all(given):
                    notes.append(f"{sheet.title} row {number_row}: sector row {sector!r} without every mark-up; "
                                 f"used {'/'.join(markups)} %")
                continue
            if len(text) not in (4, 6, 8):
                raise SystemExit(f"sheet {sheet.title!r} row {number_row}: CN code {first!r} is not 4/6/8 digits")
            if markups is None:
                raise SystemExit(f"sheet {sheet.title!r} row {number_row}: CN code before any sector row")
            direct, indirect, total = number(row[2]), number(row[3]), number(row[4])
            if direct is None or total is None:
                direct = indirect = total = None  # '–', 'see below', ...: no value for this country
            else:
                for year, percent, printed in zip((2026, 2027, 2028), markups, row[5:8]):
                    expected = total * (1 + Decimal(percent) / 100)
                    got = number(printed)
                    if got is None or abs(got - expected) > TOLERANCE:
                        notes.append(f"{sheet.title} row {number_row} ({text}): {year} value incl. mark-up in the "
                                     f"sheet is {printed!r}, total x (1 + {percent} %) = {fmt(expected)}")
            rows.append({
                "country": country, "cn_code": text, "description": str(row[1] or "").strip(),
                "direct": fmt(direct), "indirect": fmt(indirect), "total": fmt(total),
                "markup_2026": markups[0], "markup_2027": markups[1], "markup_2028": markups[2],
                "source": f"{REGULATION}; sheet '{sheet.title}' row {number_row}",
            })
    return rows, notes


def main(argv: list[str]) -> int:
    xlsx = Path(argv[1]) if len(argv) > 1 else XLSX
    out = Path(argv[2]) if len(argv) > 2 else OUT
    rows, notes = extract(xlsx)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    valued = sum(1 for r in rows if r["total"])
    countries = len({r["country"] for r in rows})
    print(f"{out}: {len(rows)} rows ({valued} with values) for {countries} tables")
    print(f"{len(notes)} notes (sheet values incl. mark-up that differ from total x (1 + mark-up), sector rows):")
    for note in notes:
        print("  " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
