"""Scope 3 with suppliers who answer through the buyer's supplier portal: their declared footprints are used, flagged
supplier-declared and unsigned on every line, and totalled apart. Figures worked out by hand in the comments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from connectors.scope3_inputs import Scope3InputError, read_suppliers
from exchange.node.invites import create_invite, record_submission
from exchange.node.portal_form import read_form
from exchange.node.storage import NodeStore
from pcf.cli import main

BOLT = "urn:pact:product:boltco:m8x40"
NUT = "urn:pact:product:boltco:m8-nut"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
# what BoltCo typed: 95.5 kgCO2e per 1,000 bolts weighing 28 kg, DQR 2/2/1, primary data share 60 %
FORM = {"name-0": "Hex bolt M8x40", "unit-0": "piece", "amount-0": "1000", "mass-0": "28", "pcf-0": "95.5",
        "start-0": "2025-01-01", "end-0": "2025-12-31", "standard-0": "ISO14067", "gwp-0": "AR6",
        "dqr-technological-0": "2", "dqr-geographical-0": "2", "dqr-temporal-0": "1", "share-0": "60"}


def _sheet(path, name: str) -> list[dict]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = list(workbook[name].iter_rows(values_only=True))
    workbook.close()
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_portal_declared_footprints_are_used_flagged_and_totalled_apart(tmp_path):
    store = NodeStore(f"sqlite:///{tmp_path / 'buyer.sqlite'}")
    store.init_schema()
    invite, _ = create_invite(store, "BoltCo", [BOLT], timedelta(days=14), NOW)
    submission = read_form(FORM, invite, NOW)
    record_submission(store, invite, submission.documents, "form", NOW)
    (tmp_path / "suppliers.yaml").write_text(yaml.safe_dump({"suppliers": [{"name": "Bolt Co Ltd", "org": "BoltCo",
                                                                              "portal": True}]}))
    (tmp_path / "purchases.csv").write_text(
        "supplier,product_id,quantity,unit,spend,currency,naics,category\n"
        f"Bolt Co Ltd,{BOLT},5000,piece,1200,USD,332722,fasteners\n"  # 5,000 bolts = 5 declared units
        f"Bolt Co Ltd,{BOLT},140,kg,800,USD,332722,fasteners\n"  # 140 kg / 28 kg = 5 declared units
        f"Bolt Co Ltd,{NUT},2000,piece,300,USD,332722,fasteners\n", encoding="utf-8")  # nothing declared
    out = tmp_path / "scope3.xlsx"
    result = CliRunner().invoke(main, ["scope3", str(tmp_path / "purchases.csv"), "--suppliers",
                                       str(tmp_path / "suppliers.yaml"), "--db", store.url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = {line["row"]: line for line in _sheet(out, "lines")}
    for row in (2, 3):
        assert lines[row]["data"] == "supplier-declared (portal)" and lines[row]["flag"] == "supplier-declared, unsigned"
        assert lines[row]["declared_units"] == pytest.approx(5) and lines[row]["kgCO2e"] == pytest.approx(477.5)
        assert lines[row]["signature"] == f"unsigned: supplier-declared through the portal (invitation {invite.id})"
        assert lines[row]["dqr_technological"] == 2 and lines[row]["primary_data_share_percent"] == 60
    assert lines[3]["conversion"] == "kg -> kg, productMassPerDeclaredUnit 28 kg per 1000 piece"
    # the nut: no declared footprint -> spend-based, US EPA v1.3.0 NAICS 332722 0.248 kg CO2e/USD x 300 USD = 74.4
    assert lines[4]["data"] == "estimate: spend-based" and lines[4]["kgCO2e"] == pytest.approx(74.4)
    assert lines[4]["flag"] == "no footprint declared for this product through the portal"
    [overall] = [t for t in _sheet(out, "by supplier") if t["key"] == "all purchases"]
    assert overall["kgCO2e"] == pytest.approx(477.5 * 2 + 74.4)
    assert overall["primary_kgCO2e"] == pytest.approx(955) and overall["supplier_declared_kgCO2e"] == pytest.approx(955)
    assert "(of which supplier-declared, unsigned 955.0 kgCO2e)" in result.output


def test_a_portal_supplier_has_no_node_keys_and_needs_a_name(tmp_path):
    path = tmp_path / "suppliers.yaml"
    path.write_text(yaml.safe_dump({"suppliers": [
        {"name": "A", "portal": True, "url": "https://a.example", "client_id_env": "X"},
        {"portal": True}, {"name": "C", "portal": "yes"}]}))
    with pytest.raises(Scope3InputError) as refused:
        read_suppliers(path)
    assert refused.value.problems == [
        "suppliers[0]: url, client_id_env: a supplier answering through the portal has no node (drop these keys, or "
        "drop `portal: true` to pull from its node)",
        "suppliers[1]: missing name", "suppliers[2]: portal: 'yes' is not true or false"]
    path.write_text(yaml.safe_dump({"suppliers": [{"name": "Bolt Co Ltd", "portal": True}]}))
    assert read_suppliers(path).portal["Bolt Co Ltd"].org == "Bolt Co Ltd"
