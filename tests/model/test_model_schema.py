"""The product model file: every class of bad input gives an error naming file, path and reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lca_models.errors import ModelError, ModelErrors
from lca_models.model_schema import load_model
from tests.support.models import model_document, product


def press(**extra) -> dict:
    return {"id": "press", "outputs": [{"flow": "widget", "amount": 1000, "unit": "kg"}], **extra}


def errors_of(write_model, document) -> list[ModelError]:
    with pytest.raises(ModelErrors) as caught:
        load_model(write_model(document))
    return caught.value.errors


def test_valid_model_loads_with_converted_units(write_model):
    document = model_document(
        [press(electricity=[{"grid": "CN-EAST", "amount": 2, "unit": "MWh"}],
               fuels=[{"fuel": "natural_gas", "amount": 1000, "unit": "Nm3"}],
               emissions=[{"substance": "ch4_fossil", "amount": 0.5, "unit": "t"}])],
        [product("widget")],
    )
    model = load_model(write_model(document))
    process = model.processes[0]
    assert process.electricity[0].amount_kwh == Decimal(2000)
    assert process.emissions[0].amount_kg == Decimal(500)
    assert process.fuels[0].amount_gj > 0
    assert model.products[0].product_ids == ("urn:pact:product:widget",)
    assert len(model.digest) == 64


def test_json_models_load_like_yaml(write_model):
    document = model_document([press()], [product("widget")])
    assert load_model(write_model(document, "m.json")).digest == load_model(write_model(document, "m.yaml")).digest


def test_missing_field_names_its_path(write_model):
    document = model_document([press()], [product("widget")])
    del document["products"][0]["ids"]
    [error] = errors_of(write_model, document)
    assert error.path == "products[0].ids"
    assert "required" in error.reason.lower()
    assert error.file.endswith("model.yaml")


def test_negative_amount_names_its_path(write_model):
    document = model_document([press(inputs=[{"dataset": "material:steel_bf_bof", "amount": -5, "unit": "kg"}])],
                              [product("widget")])
    [error] = errors_of(write_model, document)
    assert str(error).endswith("processes[0].inputs[0].amount: must be > 0")


def test_unknown_dataset_suggests_the_close_one(write_model):
    document = model_document([press(inputs=[{"dataset": "material:steel_bf_bfo", "amount": 5, "unit": "kg"}])],
                              [product("widget")])
    [error] = errors_of(write_model, document)
    assert error.path == "processes[0].inputs[0].dataset"
    assert "did you mean 'material:steel_bf_bof'" in error.reason


def test_unknown_grid_region_suggests_the_close_one(write_model):
    document = model_document([press(electricity=[{"grid": "CN-EASTT", "amount": 5, "unit": "kWh"}])],
                              [product("widget")])
    [error] = errors_of(write_model, document)
    assert "did you mean 'grid:CN-EAST'" in error.reason


@pytest.mark.parametrize(
    "process_extra, fragment",
    [
        ({"electricity": [{"grid": "CN-EAST", "amount": 5, "unit": "kg"}]}, "unit mismatch"),
        ({"emissions": [{"substance": "co2_fossil", "amount": 5, "unit": "kWh"}]}, "unit mismatch"),
        ({"inputs": [{"dataset": "material:steel_bf_bof", "amount": 5, "unit": "kWh"}]}, "unit mismatch"),
        ({"inputs": [{"dataset": "material:steel_bf_bof", "amount": 5, "unit": "kgs"}]}, "unknown unit"),
    ],
)
def test_unit_mismatch_is_an_error_not_a_factor(write_model, process_extra, fragment):
    errors = errors_of(write_model, model_document([press(**process_extra)], [product("widget")]))
    assert any(fragment in e.reason for e in errors)


def test_flow_input_in_the_wrong_dimension_is_refused(write_model):
    processes = [press(inputs=[{"flow": "steam", "amount": 5, "unit": "kg"}]),
                 {"id": "boiler", "outputs": [{"flow": "steam", "amount": 100, "unit": "GJ"}]}]
    [error] = errors_of(write_model, model_document(processes, [product("widget")]))
    assert error.path == "processes[0].inputs[0].unit"
    assert "unit mismatch" in error.reason


def test_several_outputs_need_an_allocation_method(write_model):
    process = {"id": "split", "outputs": [{"flow": "a", "amount": 1, "unit": "kg"}, {"flow": "b", "amount": 1, "unit": "kg"}]}
    [error] = errors_of(write_model, model_document([process], [product("a")]))
    assert error.path == "processes[0].allocation"


def test_unknown_field_is_refused(write_model):
    document = model_document([press(colour="blue")], [product("widget")])
    [error] = errors_of(write_model, document)
    assert error.path == "processes[0].colour"


def test_unknown_substance_suggests_the_close_one(write_model):
    document = model_document([press(emissions=[{"substance": "ch4_fosil", "amount": 1, "unit": "kg"}])], [product("widget")])
    [error] = errors_of(write_model, document)
    assert "did you mean 'ch4_fossil'" in error.reason


def test_product_of_nobody_is_an_error(write_model):
    [error] = errors_of(write_model, model_document([press()], [product("gadget")]))
    assert error.path == "products[0].flow"


def test_all_problems_are_reported_at_once(write_model):
    document = model_document([press(inputs=[{"dataset": "nope", "amount": 1, "unit": "kg"}],
                                     electricity=[{"grid": "XX", "amount": 1, "unit": "kWh"}])], [product("widget")])
    assert len(errors_of(write_model, document)) == 2


def test_instruments_cannot_cover_more_than_consumed(write_model):
    document = model_document([press(electricity=[{"grid": "CN-EAST", "amount": 100, "unit": "kWh",
                                                   "instruments": [{"type": "ppa", "amount": 0.2, "unit": "MWh"}]}])],
                              [product("widget")])
    [error] = errors_of(write_model, document)
    assert error.path == "processes[0].electricity[0].instruments"


def test_double_use_of_an_offset_serial_range_is_refused(write_model):
    lot = {"scheme": "CCER", "serial_range": "A-1-100", "vintage": 2024, "tonnes": 1, "retired_on": "2025-01-10"}
    document = model_document([press()], [product("widget")], offsets=[lot, dict(lot)])
    [error] = errors_of(write_model, document)
    assert error.path == "offsets[1].serial_range"


def test_unreadable_and_malformed_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="cannot read file"):
        load_model(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("company: [unclosed", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid YAML"):
        load_model(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ModelError, match="must be a mapping"):
        load_model(listing)
