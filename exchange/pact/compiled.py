"""A fast path through the marshmallow schemas for documents that are valid.

marshmallow's per-field machinery (getters, error stores, missing checks) costs more than the checks
themselves. `compile_schema` walks a schema once and returns a function that runs the very same field
objects' conversions and validators directly, finds unknown keys on the way, and gives up at the first
problem (`Fallback`). The caller then runs the full marshmallow load, which reports every problem with
its pointer. The schemas stay the one source of truth; tests check both paths agree.
"""

from __future__ import annotations

from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields

from .errors import pointer
from .fields import UniqueList

Converter = Callable[[Any, tuple, dict], Any]


class Fallback(Exception):
    """The fast path met something it does not accept: use the full schema load for the messages."""


def _field_converter(field: fields.Field) -> Converter:
    if isinstance(field, fields.Nested):
        inner = compile_schema(field.schema)
        return inner
    if isinstance(field, fields.List):
        convert_item = _field_converter(field.inner)
        min_items = getattr(field, "min_items", 0)
        unique = isinstance(field, UniqueList) and field.unique

        def convert_list(value: Any, path: tuple, unknown: dict) -> list:
            if not isinstance(value, list) or len(value) < min_items:
                raise Fallback
            if unique and len({repr(item) for item in value}) != len(value):
                raise Fallback
            return [convert_item(item, path + (index,), unknown) for index, item in enumerate(value)]

        return convert_list
    if isinstance(field, fields.Dict):
        def convert_dict(value: Any, path: tuple, unknown: dict) -> dict:
            if not isinstance(value, dict):
                raise Fallback
            return value

        return convert_dict
    deserialize = field._deserialize
    validators = tuple(field.validators)

    def convert(value: Any, path: tuple, unknown: dict) -> Any:
        try:
            result = deserialize(value, None, None)
            for validator in validators:
                if validator(result) is False:
                    raise Fallback
        except ValidationError:
            raise Fallback from None
        return result

    return convert


def compile_schema(schema: Schema) -> Converter:
    """A converter for `schema`: (document, path, unknown) -> loaded dict; unknown keys go into `unknown`."""
    plan: dict[str, Converter] = {}
    required = tuple(name for name, field in schema.fields.items() if field.required)
    ready = False

    def build() -> None:  # lazily, so that nested schemas referring to each other compile once
        nonlocal ready
        for name, field in schema.fields.items():
            plan[name] = _field_converter(field)
        ready = True

    def convert(document: Any, path: tuple, unknown: dict) -> dict:
        if not ready:
            build()
        if not isinstance(document, dict):
            raise Fallback
        loaded = {}
        for key, value in document.items():
            if value is None:
                continue  # PACT v3: null is absent
            converter = plan.get(key)
            if converter is None:
                unknown[pointer(*path, key)] = value
                continue
            loaded[key] = converter(value, path + (key,), unknown)
        for name in required:
            if name not in loaded:
                raise Fallback
        return loaded

    return convert
