"""PACT v2.3 `$filter` (spec 8.6.1 and 8.6.3): the allowed subset evaluated exactly, the rest refused as the spec says."""

from __future__ import annotations

import pytest

from exchange.node.v2_filter import FilterError, index_criteria, parse_filter

STEEL = {"created": "2025-04-30T00:00:00+00:00", "productIds": ["urn:gtin:4712345060507"],
         "companyIds": ["urn:company:example:company2"], "productCategoryCpc": "3342",
         "pcf": {"geographyCountry": "DE", "referencePeriodStart": "2023-01-01T00:00:00Z",
                 "referencePeriodEnd": "2024-01-01T00:00:00Z"}}
PAINT = {"created": "2025-03-01T09:32:20Z", "updated": "2025-06-01T00:00:00Z", "productIds": ["urn:gtin:5695872369587"],
         "companyIds": ["urn:epc:id:sgln:562958.00000.4"], "productCategoryCpc": "1234",
         "pcf": {"geographyRegionOrSubregion": "Western Europe", "referencePeriodStart": "2024-01-01T00:00:00Z",
                 "referencePeriodEnd": "2025-01-01T00:00:00Z"}}


def matches(text: str) -> set[str]:
    predicate = parse_filter(text)
    return {name for name, footprint in (("steel", STEEL), ("paint", PAINT)) if predicate(footprint)}


@pytest.mark.parametrize("text, expected", [
    ("created ge '2025-04-30T00:00:00+00:00'", {"steel"}),  # WBCSD v2 conformance case 20
    ("created ge '2025-04-30T00:00:00Z'", {"steel"}),  # the same instant written differently
    ("created lt '2025-04-30T00:00:00.000Z'", {"paint"}),
    ("created le '2025-03-01T09:32:20Z'", {"paint"}),
    ("created gt '2025-03-01T09:32:20Z'", {"steel"}),
    ("created eq '2025-03-01T10:32:20+01:00'", {"paint"}),
    ("updated ge '2025-01-01T00:00:00Z'", {"paint"}),  # a footprint without `updated` does not match
    ("(created ge '2025-04-01')", {"steel"}),  # a date is its midnight UTC
    ("productCategoryCpc eq '3342'", {"steel"}),  # spec example
    ("pcf/geographyCountry eq 'DE'", {"steel"}),  # spec example
    ("geographyCountry eq 'DE'", {"steel"}),
    ("(pcf/referencePeriodStart ge '2023-01-01T00:00:00.000Z') and (pcf/referencePeriodEnd lt '2024-01-01T00:00:01.000Z')",
     {"steel"}),  # spec example (2023 reference period)
    ("productIds/any(productId:(productId eq 'urn:gtin:5695872369587'))", {"paint"}),  # spec example
    ("productIds/any(p: p eq 'URN:GTIN:5695872369587')", {"paint"}),  # ids compare case-insensitively
    ("companyIds/any(c:c eq 'urn:company:example:company2') and created ge '2020-01-01T00:00:00Z'", {"steel"}),
    ("productCategoryCpc eq 'it''s'", set()),  # '' escapes a quote
    ("created ge '2020-01-01T00:00:00Z' and productCategoryCpc eq '1234' and pcf/geographyCountry eq 'DE'", set()),
])
def test_the_spec_subset(text, expected):
    assert matches(text) == expected


@pytest.mark.parametrize("text", [
    "created ge '2020-01-01T00:00:00Z' or productCategoryCpc eq '1234'",
    "not (productCategoryCpc eq '1234')",
    "contains(productCategoryCpc, '12')",
    "productNameCompany eq 'Paint'",
    "productCategoryCpc ne '1234'",
    "productIds/any(p: p ne 'x')",
    "productIds/any(p: q eq 'x')",
])
def test_statements_beyond_the_subset_are_not_implemented(text):
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    assert raised.value.code == "NotImplemented"


@pytest.mark.parametrize("text", ["", "   ", "created ge", "created ge 2025", "created ge 'yesterday'",
                                  "created ge '2025-01-01T00:00:00Z')", "productIds/any(p p eq 'x')", "'x' eq created",
                                  "created ge '2025-01-01T00:00:00Z' and"])
def test_text_that_is_no_filter_is_a_bad_request(text):
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    assert raised.value.code == "BadRequest"


def test_index_criteria_are_the_key_values_every_match_must_have():
    """What the node looks up in its key index before the predicate decides: only required `eq` clauses on keys."""
    text = ("(pcf/geographyCountry eq 'DE') and productIds/any(p:(p eq 'URN:GTIN:4712345060507')) "
            "and companyIds/any(c:c eq 'urn:company:example:company2') and productIds/any(p:p eq 'urn:other')")
    assert index_criteria(text) == {"geography": "DE", "product": "urn:gtin:4712345060507",
                                    "company": "urn:company:example:company2"}
    assert matches(text) == set()  # the second productIds clause is still required by the predicate
    assert index_criteria("created ge '2025-01-01T00:00:00Z' and geographyCountry lt 'E'") == {}
