"""Every official PACT example loads, and dumps back as the same JSON data; v2 survives a trip through v3."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.pact import footprints_in, from_v2, from_v3, load_footprint, to_v2, to_v3
from tests.support.pact import PACT_FIXTURES, assert_valid_against_openapi, example_files, read_json


def _footprints(version: str):
    found = []
    for path in example_files(version):
        for prefix, document in footprints_in(read_json(path)):
            found.append(pytest.param(document, id=f"{path.stem}{prefix}"))
    assert found, f"no {version} examples found"
    return found


@pytest.mark.parametrize("document", _footprints("v3"))
def test_v3_example_loads_and_dumps_back_equal(document):
    loaded = from_v3(document)
    assert loaded.version == "v3"
    assert to_v3(loaded.footprint) == document


@pytest.mark.parametrize("document", _footprints("v2"))
def test_v2_example_loads_and_dumps_back_equal(document):
    loaded = from_v2(document)
    assert to_v2(loaded.footprint) == document


@pytest.mark.parametrize("document", _footprints("v2"))
def test_v2_example_survives_migration_to_v3_and_back(document):
    as_v3 = to_v3(from_v2(document).footprint)
    assert_valid_against_openapi(as_v3, "v3")
    assert to_v2(from_v3(as_v3).footprint) == document


@pytest.mark.parametrize("document", _footprints("v2"))
def test_v2_example_migrates_its_figures(document):
    footprint = from_v2(document).footprint
    pcf = document["pcf"]
    assert str(footprint.pcf_excluding_biogenic_uptake) == pcf["pCfExcludingBiogenic"]
    assert str(footprint.land_use_change_ghg_emissions) == pcf["dLucGhgEmissions"]
    assert str(footprint.biogenic_co2_uptake) == pcf["biogenicCarbonWithdrawal"]
    # DQR 1..3 in v2 onto 1..5 in v3: 1 -> 1, 2 -> 3, 3 -> 5
    assert footprint.dqi.temporal_dqr == Decimal(str(pcf["dqi"]["temporalDQR"])) * 2 - 1


def test_unknown_fields_are_kept_in_an_extension_in_lenient_mode():
    document = read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json")
    footprint = from_v3(document).footprint
    [extension] = [e for e in footprint.extensions if "unknown-fields" in e.data_schema]
    assert extension.data["fields"] == {"/pcf/otherOperatorName": "TfS"}


def test_auto_detection_picks_the_version():
    assert load_footprint(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).version == "v3"
    v2 = read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]
    assert load_footprint(v2).version == "v2"
