"""Shared fixtures: one engine on a temporary Brightway data dir, and a writer for model files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest
import yaml

from pcf.engine import Engine

# The test nodes, receivers and scripted servers all listen on 127.0.0.1: the suite allows loopback outbound
# requests explicitly (the default policy refuses them: webhooks/outbound.py, docs/security.md).
os.environ.setdefault("PCF_OUTBOUND_ALLOW", "loopback")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine for the session: Brightway's project lives in a temporary data dir."""
    return Engine(data_dir=tmp_path_factory.mktemp("pcf-data"))


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
