"""hypothesis fuzzing of the loaders that read what users and other companies send: the product model
(YAML/JSON), PACT documents, the CBAM goods list (CSV) and the CBAM communication template (.xlsx).
Each may refuse its input only with its documented error type, never crash with anything else."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.cbam.errors import CbamError
from exchange.cbam.qreport import read_goods
from exchange.cbam.template_import import import_template
from exchange.cbam.template_workbook import BLANK_TEMPLATE
from exchange.pact import PactMappingError, PactValidationError, load_footprint, parse_json
from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from tests.support.pact import PACT_FIXTURES, read_json

EXAMPLES = Path(__file__).resolve().parents[2] / "lca_models" / "examples"
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def _paths(document, prefix=()):
    """Every (path) to a value in a JSON-like document."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, prefix + (index,))


@st.composite
def mutated(draw, document):
    """`document` with 1-3 values replaced by arbitrary JSON, or a key deleted."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(result) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = result
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return result


# --- the product model

MODEL = yaml.safe_load((EXAMPLES / "steel_mill.yaml").read_text(encoding="utf-8"))


@FUZZ
@given(document=mutated(MODEL), as_json=st.booleans())
def test_model_loader_refuses_mutated_models_only_with_model_errors(tmp_path, document, as_json):
    path = tmp_path / ("model.json" if as_json else "model.yaml")
    path.write_text(json.dumps(document, default=str) if as_json else yaml.safe_dump(document), encoding="utf-8")
    try:
        load_model(path)
    except ModelError as error:
        assert str(error)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), suffix=st.sampled_from([".yaml", ".json"]))
def test_model_loader_refuses_arbitrary_bytes_only_with_model_errors(tmp_path, raw, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(raw)
    with pytest.raises(ModelError):
        load_model(path)


# --- PACT documents

@pytest.fixture(scope="module")
def pact_examples():
    return [read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"),
            read_json(PACT_FIXTURES / "v2" / "examples" / "get-footprint-response.json")["data"]]


@FUZZ
@given(data=st.data())
def test_pact_loader_refuses_mutated_footprints_only_with_pact_errors(pact_examples, data):
    document = data.draw(mutated(data.draw(st.sampled_from(pact_examples))))
    strict = data.draw(st.booleans())
    try:
        load_footprint(document, strict=strict)
    except (PactValidationError, PactMappingError) as error:
        assert str(error)


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_pact_parse_then_load_of_arbitrary_input(raw):
    try:
        load_footprint(parse_json(raw))
    except (PactValidationError, PactMappingError) as error:
        assert str(error)


# --- the CBAM goods list (CSV)

GOODS_HEADER = "cn_code,origin_country,net_mass_t,see_direct,see_indirect,value_type"
cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15)


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=8), max_size=4), header=st.booleans())
def test_goods_csv_reader_refuses_bad_rows_only_with_cbam_errors(tmp_path, rows, header):
    import csv

    buffer = io.StringIO()
    if header:
        buffer.write(GOODS_HEADER + "\n")
    csv.writer(buffer).writerows(rows)
    path = tmp_path / "goods.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        read_goods(path)
    except CbamError as error:
        assert str(error)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_goods_reader_refuses_arbitrary_bytes_only_with_cbam_errors(tmp_path, raw):
    for name in ("goods.csv", "goods.xlsx"):
        path = tmp_path / name
        path.write_bytes(raw)
        try:
            read_goods(path)
        except CbamError as error:
            assert str(error)


# --- the CBAM communication template (.xlsx): the blank official template bundled with the package, damaged


@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_template_importer_refuses_damaged_workbooks_only_with_cbam_errors(tmp_path, data):
    original = BLANK_TEMPLATE.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "drop-part", "garbage"]))
    if how == "truncate":
        damaged = original[:data.draw(st.integers(0, len(original) - 1))]
    elif how == "flip":
        offset = data.draw(st.integers(0, len(original) - 1))
        damaged = original[:offset] + bytes([original[offset] ^ 0xFF]) + original[offset + 1:]
    elif how == "drop-part":
        with zipfile.ZipFile(io.BytesIO(original)) as source:
            names = source.namelist()
            dropped = data.draw(st.sampled_from(names))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
                for name in names:
                    if name != dropped:
                        target.writestr(name, source.read(name))
        damaged = buffer.getvalue()
    else:
        damaged = data.draw(st.binary(max_size=500))
    path = tmp_path / "template.xlsx"
    path.write_bytes(damaged)
    try:
        import_template(path)
    except CbamError as error:
        assert str(error)
