"""Model documents for tests: a product and a whole model in the shape `docs/model-format.md` describes."""

from __future__ import annotations

from typing import Any

COMPANY = {"name": "Test Works Ltd", "ids": ["urn:pact:company:test-works"]}
PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}


def product(flow: str, unit: str = "kilogram", mass: str = "1", **extra: Any) -> dict:
    return {"flow": flow, "name": flow.replace("_", " "), "ids": [f"urn:pact:product:{flow}"],
            "declared_unit": unit, "mass_per_declared_unit": mass, **extra}


def model_document(processes: list[dict], products: list[dict], **extra: Any) -> dict:
    return {"company": COMPANY, "reference_period": PERIOD, "geography": {"country": "CN"},
            "products": products, "processes": processes, **extra}
