"""Declared cut-offs against PACT's limit: what may leave the toolkit as a PACT footprint.

A model declares what it knowingly leaves out (`exclusions:`, docs/model-format.md); the engine reports the sum as
`exemptedEmissionsPercent` with the reasons as `exemptedEmissionsDescription`. The PACT Methodology allows at most
5 % of the cradle-to-gate emissions to be excluded (stated with `exemptedEmissionsPercent` in the PACT Technical
Specifications v2.3, tests/fixtures/pact/v2/openapi-2.3.3.yaml; v3.0 dropped the schema's upper bound but keeps
the Methodology's exemption rules, x-methodology 3.3.1.2). Other outputs (JSON, report) show any declared share.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from lca_models.errors import ModelError
from lca_models.footprint import Footprint

PACT_EXEMPTION_LIMIT = Decimal(5)  # percent of the cradle-to-gate PCF


def check_pact_exemptions(footprints: Iterable[Footprint]) -> None:
    """ModelError naming the product when its declared cut-offs exceed what PACT allows."""
    for footprint in footprints:
        if footprint.exempted_emissions_percent > PACT_EXEMPTION_LIMIT:
            raise ModelError(
                f"{footprint.product_name_company}: the declared cut-offs add up to "
                f"{footprint.exempted_emissions_percent} % of the PCF; PACT allows at most {PACT_EXEMPTION_LIMIT} % "
                "(PACT Methodology exemption rules): refused for PACT output; model what was left out, or share "
                "the footprint as JSON or a report", "exclusions")
