"""What the v2 and v3 schemas share: null-as-absent, unknown-field handling, JSON Pointer errors.

The OpenAPI sets no `additionalProperties: false`, so a misplaced field passes a plain schema check
(`../shared/pact/README.md`). Here a pre-pass finds every key the schema does not define: strict mode
reports each as an error at its pointer; lenient mode (the default when receiving) sets them aside, by
pointer, so the caller can keep them in an extension and write them back where they were.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

from .compiled import Fallback, compile_schema
from .errors import PactIssue, PactValidationError, pointer


class PactSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


def _nested_schema(field: fields.Field) -> Schema | None:
    if isinstance(field, fields.Nested):
        return field.schema
    return None


def split_unknown(document: Any, schema: Schema, path: tuple = ()) -> tuple[Any, dict[str, Any]]:
    """(document without nulls and unknown keys, {pointer: value} of the unknown keys)."""
    if not isinstance(document, dict):
        return document, {}
    known = schema.fields
    clean: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in document.items():
        if value is None:
            continue  # PACT v3: a null property is treated as absent
        field = known.get(key)
        if field is None:
            unknown[pointer(*path, key)] = value
            continue
        inner_schema = _nested_schema(field)
        if inner_schema is not None and isinstance(value, dict):
            value, found = split_unknown(value, inner_schema, path + (key,))
            unknown.update(found)
        elif isinstance(field, fields.List) and isinstance(value, list) and _nested_schema(field.inner) is not None:
            items = []
            for index, item in enumerate(value):
                item, found = split_unknown(item, _nested_schema(field.inner), path + (key, index))
                unknown.update(found)
                items.append(item)
            value = items
        clean[key] = value
    return clean, unknown


_MESSAGES = {"Missing data for required field.": "mandatory field is missing",
             "Not a valid mapping type.": "must be a JSON object",
             "Invalid input type.": "must be a JSON object"}


def issues_from_messages(messages: Any, path: tuple = ()) -> list[PactIssue]:
    """marshmallow's nested error messages -> one PactIssue per message, at its JSON Pointer."""
    if isinstance(messages, (list, tuple)):
        found = []
        for message in messages:
            if isinstance(message, (dict, list)):
                found.extend(issues_from_messages(message, path))
            else:
                found.append(PactIssue(pointer(*path), _MESSAGES.get(str(message), str(message))))
        return found
    if isinstance(messages, dict):
        found = []
        for key, value in messages.items():
            child = path if key == "_schema" else path + (key,)
            found.extend(issues_from_messages(value, child))
        return found
    return [PactIssue(pointer(*path), str(messages))]


_COMPILED: dict[int, Any] = {}


def validate(schema: Schema, rules, document: Any, strict: bool) -> tuple[dict, dict[str, Any], list[PactIssue]]:
    """(loaded data, unknown fields by pointer, warnings) of `document`; PactValidationError listing every error.

    Valid documents take the compiled fast path (`compiled.py`); anything it refuses goes through the full
    marshmallow load, which names every problem at its pointer. `rules(data)` then gives the cross-field
    (errors, warnings) the spec text states.
    """
    if not isinstance(document, dict):
        raise PactValidationError([PactIssue("", f"must be a JSON object, not {type(document).__name__}")])
    fast = _COMPILED.get(id(schema))
    if fast is None:
        fast = _COMPILED[id(schema)] = compile_schema(schema)
    unknown: dict[str, Any] = {}
    try:
        data = fast(document, (), unknown)
    except Fallback:
        data = None
    if data is None or (strict and unknown):
        clean, unknown = split_unknown(document, schema)
        issues = [PactIssue(p, "unknown field (strict mode)") for p in unknown] if strict else []
        try:
            data = schema.load(clean)
        except ValidationError as exc:
            issues.extend(issues_from_messages(exc.messages))
        if issues:
            raise PactValidationError(issues)
    errors, warnings = rules(data)
    if errors:
        raise PactValidationError(errors)
    return data, unknown, warnings
