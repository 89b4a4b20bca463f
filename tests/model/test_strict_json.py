"""Strict JSON (lca_models/strict_json.py): duplicate keys and NaN/Infinity refused, each with its JSON Pointer."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lca_models.strict_json import StrictJsonError, loads


@pytest.mark.parametrize("text, pointer, message", [
    ('{"a": 1, "a": 2}', "/a", "duplicate key 'a'"),
    ('{"pcf": {"x": 1, "y": {"k": 1, "k": 1}}}', "/pcf/y/k", "duplicate key 'k'"),
    ('{"x": [1, {"b/c~": NaN}]}', "/x/1/b~1c~0", "NaN is not a JSON number"),
    ('[1, -Infinity]', "/1", "-Infinity is not a JSON number"),
    ('{"big": 1e999}', "/big", "1e999 is not a JSON number"),
    ('Infinity', "", "Infinity is not a JSON number"),
])
def test_refused_with_the_pointer(text, pointer, message):
    with pytest.raises(StrictJsonError) as caught:
        loads(text)
    assert caught.value.pointer == pointer and message in caught.value.message


def test_the_first_problem_in_document_order_is_reported():
    with pytest.raises(StrictJsonError) as caught:
        loads('{"a": {"z": 1, "z": 2}, "b": NaN}')
    assert caught.value.pointer == "/a/z"


def test_ordinary_json_parses_as_the_standard_library_does():
    text = '{"a": [1, 2.5, -0.0, 1e300, "é", null, true], "b": {"c": {}}, "": 0}'
    assert loads(text) == json.loads(text) and loads(text.encode("utf-8")) == json.loads(text)


def test_syntax_errors_stay_value_errors_with_line_and_column():
    with pytest.raises(json.JSONDecodeError):
        loads('{"a": }')
    with pytest.raises(ValueError):
        loads(b"\xff")


def test_pcf_validate_refuses_a_duplicated_field_with_its_pointer(tmp_path):
    from pcf.cli import main

    path = tmp_path / "footprint.json"
    path.write_text('{"id": "x", "pcf": {}, "pcf": {}}', encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code != 0 and "/pcf: duplicate key 'pcf'" in result.output
