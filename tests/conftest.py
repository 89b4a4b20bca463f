"""Shared fixtures: one engine on a temporary Brightway data dir, and a writer for model files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from pcf.engine import Engine

# The test nodes, receivers and scripted servers all listen on 127.0.0.1: the suite allows loopback outbound
# requests explicitly (the default policy refuses them: webhooks/outbound.py, docs/security.md).
os.environ.setdefault("PCF_OUTBOUND_ALLOW", "loopback")

COMPANY = {"name": "Test Works Ltd", "ids": ["urn:pact:company:test-works"]}
PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine for the session: Brightway's project lives in a temporary data dir."""
    return Engine(data_dir=tmp_path_factory.mktemp("pcf-data"))


def product(flow: str, unit: str = "kilogram", mass: str = "1", **extra: Any) -> dict:
    return {"flow": flow, "name": flow.replace("_", " "), "ids": [f"urn:pact:product:{flow}"],
            "declared_unit": unit, "mass_per_declared_unit": mass, **extra}


def model_document(processes: list[dict], products: list[dict], **extra: Any) -> dict:
    return {"company": COMPANY, "reference_period": PERIOD, "geography": {"country": "CN"},
            "products": products, "processes": processes, **extra}


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[..., Path]:
    """Write a model document (dict) as YAML, or JSON when name ends in .json; returns its path."""

    def write(document: dict, name: str = "model.yaml") -> Path:
        path = tmp_path / name
        if name.endswith(".json"):
            path.write_text(json.dumps(document), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    return write
