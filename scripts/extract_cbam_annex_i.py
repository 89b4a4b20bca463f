"""Extract the list of CBAM goods (Annex I of Regulation (EU) 2023/956, as amended) into a bundled CSV.

    python scripts/extract_cbam_annex_i.py [REG_2023_956_TXT] [REG_2025_2083_TXT] [OUT_CSV]

Defaults: ../shared/cbam/legal/Reg__EU__2023_956_base_CBAM_regulation.txt and
../shared/cbam/legal/Reg__EU__2025_2083_omnibus__50_t_de_minimis_.txt -> exchange/cbam/data/annex_i_cn_codes.csv.

Annex I, point 1: "this Regulation shall apply to goods falling under the Combined Nomenclature ('CN') codes set
out in the following table". The table is printed per goods category (Cement, Electricity, Fertilisers, Iron and
steel, Aluminium, Chemicals); each entry is a CN code (2, 4, 6 or 8 digits: a chapter, a heading or a subheading
covering every code below it), a description and the greenhouse gases. Two entries carry exceptions ("72 - Iron
and steel, Except: 7202 2 ... 7204"; "3105 ... Except: 3105 60 00"): those rows are written with status
`excepted` and the entry they are cut from. Reg (EU) 2025/2083 Art. 1(28) replaces "2507 00 80 - Other kaolinic
clays" by "ex 2507 00 80 - Other kaolinic clays except non-calcined kaolinic clays": that row is rewritten from the
amending text and cites it. Every row cites its source. The parser refuses text it does not understand rather than
guess (an unexpected line is an error).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the project's reference set sits beside the checkout (../shared), or beside the worktrees' folder
LEGAL = next((base / "shared" / "cbam" / "legal" for base in ROOT.parents if (base / "shared" / "cbam").is_dir()),
             ROOT.parent / "shared" / "cbam" / "legal")
BASE = LEGAL / "Reg__EU__2023_956_base_CBAM_regulation.txt"
AMENDMENT = LEGAL / "Reg__EU__2025_2083_omnibus__50_t_de_minimis_.txt"
OUT = ROOT / "exchange" / "cbam" / "data" / "annex_i_cn_codes.csv"
COLUMNS = ["category", "cn_code", "cn_code_printed", "description", "greenhouse_gases", "status", "excepted_from",
           "source"]
CATEGORIES = ("Cement", "Electricity", "Fertilisers", "Iron and steel", "Aluminium", "Chemicals")
SOURCE = "Reg (EU) 2023/956 Annex I (OJ L 130, 16.5.2023, p. 89-93)"
AMENDED = "Reg (EU) 2023/956 Annex I as amended by Reg (EU) 2025/2083 Art. 1(28) (OJ L, 17.10.2025)"

_ENTRY = re.compile(r"^(?P<except>Except: )?(?P<code>\d{2}(?:\d{2})?(?: \d{1,2}){0,2}) – (?P<text>.*)$")
_GAS = re.compile(r"\s*(?P<gas>Carbon dioxide(?: and(?: (?:nitrous oxide|perfluorocarbons))?)?)\s*$")
_GAS_TAIL = ("nitrous oxide", "perfluorocarbons")
_NOISE = re.compile(r"Official Journal of the European Union|^CN code Greenhouse gas$")


def annex_i_lines(text: str) -> list[str]:
    """The lines of Annex I's table: from the heading 'ANNEX I' to 'ANNEX II', page furniture removed."""
    lines = [line.strip().replace("\f", "") for line in text.splitlines()]
    start = lines.index("ANNEX I")
    end = lines.index("ANNEX II", start)
    body = lines[start + 1:end]
    first = body.index(CATEGORIES[0])  # the introductory points 1 and 2 come before the first category
    return [line for line in body[first:] if line and not _NOISE.search(line)]


def parse(lines: list[str]) -> list[dict[str, str]]:
    """Rows of the table, in print order; ValueError on a line that fits no pattern."""
    rows: list[dict[str, str]] = []
    category = ""
    current: dict[str, str] | None = None  # the entry whose description is being read
    parent: dict[str, str] | None = None   # the included entry the following exceptions cut from
    excepting = False
    for line in lines:
        if line in CATEGORIES:
            category, current, parent, excepting = line, None, None, False
            continue
        if line == "Except:":
            excepting, current = True, None
            continue
        if line in _GAS_TAIL:  # "Carbon dioxide and" / "perfluorocarbons" split over two lines
            if parent is None or not parent["greenhouse_gases"].endswith(" and"):
                raise ValueError(f"unexpected line {line!r}")
            parent["greenhouse_gases"] += f" {line}"
            continue
        entry = _ENTRY.match(line)
        if entry:
            text, gas = _split_gas(entry.group("text"))
            code = entry.group("code")
            excepted = excepting or bool(entry.group("except"))
            if excepted and parent is None:
                raise ValueError(f"an exception without the entry it cuts from: {line!r}")
            current = {"category": category, "cn_code": code.replace(" ", ""), "cn_code_printed": code,
                       "description": text, "greenhouse_gases": "" if excepted else gas,
                       "status": "excepted" if excepted else "included",
                       "excepted_from": parent["cn_code"] if excepted and parent else "", "source": SOURCE}
            if excepted and gas:
                parent["greenhouse_gases"] = gas
            if not excepted:
                parent = current
            rows.append(current)
            continue
        text, gas = _split_gas(line)
        if gas and not text:  # the gas column of an entry (and of its exceptions), on a line of its own
            if parent is None:
                raise ValueError(f"a greenhouse gas without an entry: {line!r}")
            parent["greenhouse_gases"], current, excepting = gas, None, False
            continue
        if current is None:
            raise ValueError(f"unexpected line {line!r}")
        current["description"] = f"{current['description']} {text}".strip()
        if gas:
            parent["greenhouse_gases"] = gas
    missing = [r["cn_code_printed"] for r in rows if r["status"] == "included" and not r["greenhouse_gases"]]
    if missing:
        raise ValueError(f"entries without greenhouse gases: {', '.join(missing)}")
    return rows


def _split_gas(text: str) -> tuple[str, str]:
    found = _GAS.search(text)
    if not found:
        return text.strip(), ""
    return text[:found.start()].strip(), found.group("gas")


def amend(rows: list[dict[str, str]], amendment: str) -> None:
    """Reg 2025/2083 Art. 1(28): the kaolinic-clay entry becomes an 'ex' entry (calcined clays only)."""
    flat = " ".join(amendment.split())
    found = re.search(r"\(28\) in Annex I, the CN code ‘(?P<old>[^’]+)’ is replaced by ‘(?P<new>[^’]+)’", flat)
    if not found:
        raise ValueError("Reg 2025/2083: point (28) amending Annex I not found")
    old = re.match(r"(\d{4} \d{2} \d{2}) – (.*)", found.group("old"))
    new = re.match(r"ex (\d{4} \d{2} \d{2}) – (.*)", found.group("new"))
    if not old or not new or old.group(1) != new.group(1):
        raise ValueError(f"Reg 2025/2083 point (28): unexpected wording {found.group(0)!r}")
    row = next(r for r in rows if r["cn_code_printed"] == old.group(1))
    if row["description"] != old.group(2):
        raise ValueError(f"Reg 2025/2083 point (28) amends {old.group(0)!r}, Annex I reads {row['description']!r}")
    row.update(cn_code_printed=f"ex {new.group(1)}", description=new.group(2), source=AMENDED)


def main(argv: list[str]) -> int:
    base = Path(argv[1]) if len(argv) > 1 else BASE
    amendment = Path(argv[2]) if len(argv) > 2 else AMENDMENT
    out = Path(argv[3]) if len(argv) > 3 else OUT
    rows = parse(annex_i_lines(base.read_text(encoding="utf-8")))
    amend(rows, amendment.read_text(encoding="utf-8"))
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    included = sum(r["status"] == "included" for r in rows)
    print(f"wrote {out}: {included} entries, {len(rows) - included} exceptions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
