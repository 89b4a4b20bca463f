"""What a supplier's PACT footprint says about the good it describes: its CN code(s) and country of production.

A purchased input that is itself a CBAM good is a precursor (IR 2025/2547 Annex III B); left unmarked it would count
as zero embedded emissions. A PACT footprint names its product's classification as URNs: PACT v3 `productClassifications`
(e.g. `urn:pact:productclassification:cn:72083900`, the form this toolkit writes), v2 `productIds`; some publishers
write the code with spaces or dots (`...:cn:7208 39 00`). Every string of `productClassifications`, `productIds` and
v2's `productCategoryCpc` is searched for a `cn:` code. The country is `pcf.geographyCountry`, or the country part of
`pcf.geographyCountrySubdivision` (ISO 3166-2, e.g. CN-HE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lca_models.strict_json import loads as strict_loads

_CN_URN = re.compile(r"(?:^|:)cn:(\d[\d .]{2,12}\d)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SupplierGood:
    """The CN codes (digits only) a footprint's product carries, and where it was produced ('' when not stated)."""

    cn_codes: tuple[str, ...]
    country: str


def supplier_good(path: Path) -> SupplierGood:
    """Read a supplier footprint file (one ProductFootprint, or `{"data": [...]}` with one); ValueError if unreadable."""
    try:
        document = strict_loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON, duplicate keys or NaN
        raise ValueError(f"cannot read the supplier footprint {path.name}: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("data"), list) and len(document["data"]) == 1:
        document = document["data"][0]
    if not isinstance(document, dict):
        raise ValueError(f"the supplier footprint {path.name} is not a PACT ProductFootprint")
    return footprint_good(document)


def footprint_good(footprint: dict[str, Any]) -> SupplierGood:
    """The CN codes and country of one ProductFootprint (v2 or v3) mapping."""
    texts: list[str] = []
    for key in ("productClassifications", "productIds"):
        values = footprint.get(key)
        if isinstance(values, list):
            texts += [v for v in values if isinstance(v, str)]
    if isinstance(footprint.get("productCategoryCpc"), str):
        texts.append(footprint["productCategoryCpc"])
    codes = []
    for text in texts:
        found = _CN_URN.search(text.strip())
        if found:
            codes.append(re.sub(r"[ .]", "", found.group(1)))
    pcf = footprint.get("pcf") if isinstance(footprint.get("pcf"), dict) else {}
    country = pcf.get("geographyCountry") or str(pcf.get("geographyCountrySubdivision") or "")[:2]
    return SupplierGood(tuple(dict.fromkeys(codes)), country if isinstance(country, str) else "")
