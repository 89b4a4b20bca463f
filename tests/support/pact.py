"""Test support for PACT: the official files (tests/fixtures/pact) and a JSON Schema validator built from them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml

PACT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pact"


def example_files(version: str) -> list[Path]:
    folder = PACT_FIXTURES / version / "examples"
    return sorted(p for p in folder.glob("*.json") if "error-response" not in p.name)


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def product_footprint_validator(version: str):
    """jsonschema validator for components.schemas.ProductFootprint of the official OpenAPI, formats checked."""
    from jsonschema import Draft202012Validator, FormatChecker

    schema = {"$ref": "#/components/schemas/ProductFootprint", "components": openapi(version)["components"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid_against_openapi(document: dict, version: str) -> None:
    errors = sorted(product_footprint_validator(version).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])


@cache
def openapi(version: str) -> dict:
    """The official OpenAPI document of PACT "v3" (3.0.3) or "v2" (2.3.3), from tests/fixtures."""
    name = {"v3": "v3/openapi-3.0.3.yaml", "v2": "v2/openapi-2.3.3.yaml"}[version]
    return yaml.safe_load((PACT_FIXTURES / name).read_text(encoding="utf-8"))


EVENT_SCHEMAS = ("PublishedEvent", "RequestCreatedEvent", "RequestFulfilledEvent", "RequestRejectedEvent")


@cache
def _event_validators(version: str) -> dict:
    """type const -> jsonschema validator of that official event schema (formats checked).

    The v3.0.3 event schemas write `properties: {$ref: '#/components/schemas/BaseEvent/properties', ...}` beside a
    top-level `$ref: BaseEvent`; that inner `$ref` is a property *named* "$ref" to JSON Schema, not a reference, and
    its value is no schema, so it is dropped here. The top-level `$ref` already applies BaseEvent (its required
    members and property types), which is what the line means."""
    from jsonschema import Draft202012Validator, FormatChecker

    components = openapi(version)["components"]
    validators = {}
    for name in EVENT_SCHEMAS:
        schema = dict(components["schemas"][name])
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k != "$ref"}
        validators[schema["properties"]["type"]["const"]] = Draft202012Validator(
            {**schema, "components": components}, format_checker=FormatChecker())
    return validators


def event_errors(body, version: str) -> list[str]:
    """What is wrong with an event body by the official OpenAPI of `version` (its type picks the schema)."""
    validators = _event_validators(version)
    if not isinstance(body, dict) or body.get("type") not in validators:
        return [f"/type: {body.get('type') if isinstance(body, dict) else body!r} is none of PACT {version}'s event "
                f"types ({', '.join(validators)})"]
    errors = sorted(validators[body["type"]].iter_errors(body), key=lambda e: list(e.path))
    return [f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def assert_response_valid(body, version: str, path: str, method: str = "get", status: int = 200) -> None:
    """Validate a response body against the official OpenAPI: the operation's 200 schema, or `Error`."""
    from jsonschema import Draft202012Validator, FormatChecker

    document = openapi(version)
    if status == 200:
        schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    else:
        schema = {"$ref": "#/components/schemas/Error"}
    validator = Draft202012Validator({**schema, "components": document["components"]}, format_checker=FormatChecker())
    errors = list(validator.iter_errors(body))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])
