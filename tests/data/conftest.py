"""Imports go into the session engine's data dir, so a model computed by that engine can name them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcf.data.imports import import_database


@pytest.fixture
def data_dir(engine) -> Path:
    return engine.data_dir


@pytest.fixture
def run_import(data_dir):
    """import_database into the session's data dir; returns (registry entry, report)."""

    def run(fmt: str, source: Path, name: str, **options):
        return import_database(fmt, source, name, data_dir, **options)

    return run
