"""Default values where the operator has no actual data: purchased precursors without a communicated SEE.

A purchased precursor in the installation model may give `cn_code` and `country` instead of `see_direct`; its SEE
(direct and indirect) then comes from IR (EU) 2025/2621 Annex I (`defaults.default_value`, most specific CN prefix,
"Other countries" fallback) and it is flagged as a default value, so the SEE of every good made from it reports the
share of default values (the template's Summary_Products column M). The Annex I values are taken without the
declarant's yearly mark-up: the mark-up is applied when an importer declares goods, not inside an operator's SEE.
"""

from __future__ import annotations

from dataclasses import replace

from lca_models.cbam_installation import Installation

from .defaults import FIRST_YEAR, default_value
from .errors import CbamError


def with_default_values(installation: Installation) -> Installation:
    """The installation with every purchased precursor that lacks SEE (direct) given its Annex I default value."""
    precursors = []
    for precursor in installation.purchased_precursors:
        if precursor.see_direct is not None:
            precursors.append(precursor)
            continue
        try:
            value = default_value(precursor.country, precursor.cn_code, FIRST_YEAR,
                                  variant=precursor.default_variant or None)
        except CbamError as exc:
            raise CbamError(f"purchased precursor {precursor.name!r}: {exc}") from None
        precursors.append(replace(
            precursor, see_direct=float(value.direct), see_indirect_given=float(value.indirect or 0),
            see_direct_source="Default", specific_electricity_source="Default",
            electricity_ef_source=f"default value, {value.source}"))
    return replace(installation, purchased_precursors=tuple(precursors))
