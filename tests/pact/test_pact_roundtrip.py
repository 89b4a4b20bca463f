"""Round trips that must hold for every valid footprint, and the official schema accepts all we emit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from exchange.pact import from_v2, from_v3, to_v2, to_v3
from tests.support.pact import PACT_FIXTURES, assert_valid_against_openapi
from tests.support.strategies import footprints

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(footprints())
def test_footprint_to_v3_and_back_is_lossless(footprint):
    assert from_v3(to_v3(footprint)).footprint == footprint


@SETTINGS
@given(footprints())
def test_every_v3_document_we_emit_validates_against_the_official_schema(footprint):
    PACT_FIXTURES
    assert_valid_against_openapi(to_v3(footprint), "v3")


@SETTINGS
@given(footprints(v2_expressible=True))
def test_v2_to_v3_to_v2_returns_the_same_document(footprint):
    PACT_FIXTURES
    as_v2 = to_v2(footprint)
    assert_valid_against_openapi(as_v2, "v2")
    as_v3 = to_v3(from_v2(as_v2).footprint)
    assert_valid_against_openapi(as_v3, "v3")
    assert to_v2(from_v3(as_v3).footprint) == as_v2


@SETTINGS
@given(footprints(v2_expressible=True))
def test_v2_figures_survive_the_trip(footprint):
    back = from_v2(to_v2(footprint)).footprint
    assert back.pcf_excluding_biogenic_uptake == footprint.pcf_excluding_biogenic_uptake
    assert back.biogenic_co2_uptake == footprint.biogenic_co2_uptake
    assert back.reference_period_end == footprint.reference_period_end


@SETTINGS
@given(footprints(v2_expressible=True))
def test_fast_path_and_full_schema_load_agree(footprint):
    from exchange.pact.compiled import compile_schema
    from exchange.pact.schema_base import split_unknown
    from exchange.pact.v2_schema import ProductFootprintV2
    from exchange.pact.v3_schema import ProductFootprintV3

    for schema, document in ((ProductFootprintV3(), to_v3(footprint)), (ProductFootprintV2(), to_v2(footprint))):
        unknown: dict = {}
        assert compile_schema(schema)(document, (), unknown) == schema.load(split_unknown(document, schema)[0])
        assert unknown == {}
