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

    name = {"v3": "v3/openapi-3.0.3.yaml", "v2": "v2/openapi-2.3.3.yaml"}[version]
    openapi = yaml.safe_load((PACT_FIXTURES / name).read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/ProductFootprint", "components": openapi["components"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid_against_openapi(document: dict, version: str) -> None:
    errors = sorted(product_footprint_validator(version).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])


@cache
def _openapi(version: str) -> dict:
    name = {"v3": "v3/openapi-3.0.3.yaml", "v2": "v2/openapi-2.3.3.yaml"}[version]
    return yaml.safe_load((PACT_FIXTURES / name).read_text(encoding="utf-8"))


def assert_response_valid(body, version: str, path: str, method: str = "get", status: int = 200) -> None:
    """Validate a response body against the official OpenAPI: the operation's 200 schema, or `Error`."""
    from jsonschema import Draft202012Validator, FormatChecker

    openapi = _openapi(version)
    if status == 200:
        schema = openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    else:
        schema = {"$ref": "#/components/schemas/Error"}
    validator = Draft202012Validator({**schema, "components": openapi["components"]}, format_checker=FormatChecker())
    errors = list(validator.iter_errors(body))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])
