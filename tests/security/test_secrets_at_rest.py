"""Secrets at rest: the node database and its TLS key are created 0600 in a 0700 data directory, whatever the
umask lets through, and `pcf serve` refuses to start on a database or key that other users can read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange.node.storage import NodeStore
from exchange.node.tls import self_signed_certificate
from pcf.cli import main


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    """The usual 022: files would come out 0644 and directories 0755 unless created with a mode."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_node_init_creates_a_private_data_dir_and_database(tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    result = CliRunner().invoke(main, ["node", "init", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    database = data_dir / "node.sqlite"
    assert mode(data_dir) == 0o700 and mode(database) == 0o600
    store = NodeStore(f"sqlite:///{database}")
    with store.engine.connect() as connection:  # WAL files appear once the database is in use: same mode
        connection.exec_driver_sql("SELECT 1")
        for sidecar in (database.with_name("node.sqlite-wal"), database.with_name("node.sqlite-shm")):
            assert not sidecar.exists() or mode(sidecar) == 0o600, sidecar
    store.dispose()


def test_a_store_on_a_new_sqlite_file_creates_it_private(tmp_path):
    NodeStore(f"sqlite:///{tmp_path / 'other.sqlite'}").init_schema()
    assert mode(tmp_path / "other.sqlite") == 0o600


def test_the_self_signed_key_is_private(tmp_path):
    cert, key = self_signed_certificate(tmp_path / "tls")
    assert mode(tmp_path / "tls") == 0o700 and mode(key) == 0o600
    assert mode(cert) == 0o644  # the certificate is public: clients take it as their CA bundle


def _initialised(data_dir: Path) -> Path:
    assert CliRunner().invoke(main, ["node", "init", "--data-dir", str(data_dir)]).exit_code == 0
    return data_dir / "node.sqlite"


def test_serve_refuses_a_database_others_can_read(tmp_path):
    database = _initialised(tmp_path / "data")
    database.chmod(0o644)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"), "--self-signed"])
    assert result.exit_code == 1
    assert f"{database} is open to other users (mode 0644)" in result.output
    assert f"run: chmod 600 {database}" in result.output


def test_serve_refuses_a_tls_key_others_can_read(tmp_path):
    _initialised(tmp_path / "data")
    cert, key = self_signed_certificate(tmp_path / "elsewhere")
    key.chmod(0o640)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"), "--cert", str(cert),
                                       "--key", str(key)])
    assert result.exit_code == 1
    assert f"{key} is open to other users (mode 0640)" in result.output and f"chmod 600 {key}" in result.output
