"""Bad PACT documents give a list of JSON Pointers and messages, never a traceback."""

from __future__ import annotations

import copy
import json
import os

import pytest
from click.testing import CliRunner

from exchange.pact import PactValidationError, from_v2, from_v3, parse_json
from pcf.cli import main
from tests.support.pact import PACT_FIXTURES, read_json


@pytest.fixture
def v3_document() -> dict:
    return read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")


def pointers_of(load, document, **kwargs) -> dict[str, str]:
    with pytest.raises(PactValidationError) as caught:
        load(document, **kwargs)
    return {issue.pointer: issue.message for issue in caught.value.issues}


@pytest.mark.parametrize(
    "path, value, pointer, fragment",
    [
        (("pcf", "fossilGhgEmissions"), 1.5, "/pcf/fossilGhgEmissions", "not a number"),
        (("pcf", "fossilGhgEmissions"), "-1", "/pcf/fossilGhgEmissions", "must be >= 0"),
        (("pcf", "fossilGhgEmissions"), "1e3", "/pcf/fossilGhgEmissions", "is not a decimal"),
        (("pcf", "dqi", "temporalDQR"), "5.5", "/pcf/dqi/temporalDQR", "between 1 and 5"),
        (("companyIds",), ["company-1"], "/companyIds/0", "is not a URN"),
        (("productIds",), [], "/productIds", "at least 1"),
        (("created",), "2025-01-01 10:00", "/created", "RFC 3339"),
        (("created",), "2025-01-01T10:00:00+02:00", "/created", "UTC"),
        (("id",), "not-a-uuid", "/id", "is not a UUID"),
        (("status",), "Live", "/status", "must be one of"),
        (("pcf", "biogenicCO2Uptake"), "0.5", "/pcf/biogenicCO2Uptake", "must be <= 0"),
        (("pcf", "packagingEmissionsIncluded"), "true", "/pcf/packagingEmissionsIncluded", "true or false"),
        (("pcf", "declaredUnitAmount"), "0", "/pcf/declaredUnitAmount", "must be > 0"),
    ],
)
def test_bad_value_is_reported_at_its_pointer(v3_document, path, value, pointer, fragment):
    target = v3_document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    issues = pointers_of(from_v3, v3_document)
    assert pointer in issues, issues
    assert fragment in issues[pointer]


def test_missing_mandatory_fields_are_each_reported(v3_document):
    del v3_document["pcf"]["fossilCarbonContent"]
    del v3_document["productNameCompany"]
    issues = pointers_of(from_v3, v3_document)
    assert issues == {"/pcf/fossilCarbonContent": "mandatory field is missing",
                      "/productNameCompany": "mandatory field is missing"}


def test_reference_period_must_end_after_it_starts(v3_document):
    v3_document["pcf"]["referencePeriodEnd"] = v3_document["pcf"]["referencePeriodStart"]
    assert "/pcf/referencePeriodEnd" in pointers_of(from_v3, v3_document)


def test_at_most_one_geography(v3_document):
    v3_document["pcf"]["geographyCountry"] = "US"
    issues = pointers_of(from_v3, v3_document)
    assert any("at most one geography" in message for message in issues.values())


def test_packaging_emissions_absent_when_not_included(v3_document):
    v3_document["pcf"]["packagingEmissionsIncluded"] = False
    v3_document["pcf"]["packagingGhgEmissions"] = "0.1"
    assert "/pcf/packagingGhgEmissions" in pointers_of(from_v3, v3_document)


def test_strict_mode_rejects_unknown_fields_lenient_keeps_them(v3_document):
    v3_document["pcf"]["colour"] = "green"
    assert pointers_of(from_v3, copy.deepcopy(v3_document), strict=True) == {"/pcf/colour": "unknown field (strict mode)"}
    footprint = from_v3(v3_document).footprint
    assert any(e.data.get("fields") == {"/pcf/colour": "green"} for e in footprint.extensions)


def test_null_is_treated_as_absent(v3_document):
    v3_document["comment"] = None
    v3_document["pcf"]["biogenicCarbonContent"] = None
    footprint = from_v3(v3_document).footprint
    assert footprint.comment is None and footprint.biogenic_carbon_content is None


def test_inconsistent_totals_warn_but_load(v3_document):
    v3_document["pcf"]["pcfIncludingBiogenicUptake"] = "999"
    loaded = from_v3(v3_document)
    assert any(w.pointer == "/pcf/pcfIncludingBiogenicUptake" for w in loaded.warnings)


def test_v2_dqr_out_of_its_1_to_3_range_is_refused():
    document = read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]
    document["pcf"]["dqi"]["technologicalDQR"] = 4
    assert "between 1 and 3" in pointers_of(from_v2, document)["/pcf/dqi/technologicalDQR"]


@pytest.mark.parametrize("junk", [b"\xff\xfe" + os.urandom(1000), b"{" * 100_000, b"[1, 2", b""])
def test_junk_is_a_pact_error_not_a_crash(junk):
    with pytest.raises(PactValidationError) as caught:
        parse_json(junk)
    assert caught.value.issues[0].pointer == ""


def test_validate_cli_exit_codes(tmp_path, v3_document):
    runner = CliRunner()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(v3_document))
    assert runner.invoke(main, ["validate", str(good)]).exit_code == 0
    v3_document["pcf"]["dqi"]["temporalDQR"] = "9"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [v3_document]}))
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "/data/0/pcf/dqi/temporalDQR: must be between 1 and 5" in result.output
    junk = tmp_path / "junk.json"
    junk.write_bytes(os.urandom(10 * 1024 * 1024))
    result = runner.invoke(main, ["validate", str(junk)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert runner.invoke(main, ["validate", str(tmp_path / "absent.json")]).exit_code == 2
