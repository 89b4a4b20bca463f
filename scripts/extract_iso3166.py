"""Write the ISO 3166-1 alpha-2 country codes the CBAM code checks accept into a bundled CSV.

    python scripts/extract_iso3166.py [ISO_3166-1_JSON] [OUT_CSV]

Defaults: /usr/share/iso-codes/json/iso_3166-1.json (Debian package `iso-codes`, the Debian iso-codes project's
copy of the ISO 3166 Maintenance Agency's list, https://salsa.debian.org/iso-codes-team/iso-codes, LGPL-2.1+)
-> exchange/cbam/data/iso3166_alpha2.csv (code, name, source).

Only officially assigned codes are in that list: user-assigned codes such as `XX` or `ZZ` are not country codes and
are refused. One user-assigned code is added on purpose: `XK` (Kosovo), which the Commission's communication
template lists among its countries (sheet c_CodeLists) and which EU customs use, so an installation in Kosovo can be
described; its row cites the template.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_JSON = Path("/usr/share/iso-codes/json/iso_3166-1.json")
OUT = ROOT / "exchange" / "cbam" / "data" / "iso3166_alpha2.csv"
EXTRA = [("XK", "Kosovo", "user-assigned code listed by the CBAM communication template v2.1.1 (sheet c_CodeLists)")]


def _version() -> str:
    try:
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "iso-codes"], capture_output=True, text=True,
                               check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown version"
    return found.stdout.strip()


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE_JSON
    out = Path(argv[2]) if len(argv) > 2 else OUT
    entries = json.loads(source.read_text(encoding="utf-8"))["3166-1"]
    cite = f"ISO 3166-1 via Debian iso-codes {_version()} ({source.name})"
    rows = sorted((e["alpha_2"], e.get("common_name") or e["name"], cite) for e in entries)
    known = {code for code, _, _ in rows}
    rows += [row for row in EXTRA if row[0] not in known]
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "source"])
        writer.writerows(rows)
    print(f"wrote {out}: {len(rows)} codes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
