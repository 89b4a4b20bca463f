"""The batch path (adjoint, one solve per gas) agrees with the bundled data and with the engine."""

from __future__ import annotations

from decimal import Decimal

from lca_models.background import catalogue
from lca_models.gwp import elementary_flows
from lca_models.model_schema import load_model
from pcf.engine.batch import score_by_gas
from pcf.engine.foreground import database_name
from pcf.engine.project import gases
from pcf.engine.suppliers import SupplierLoader
from tests.support.models import model_document, product


def test_batch_by_gas_matches_the_bundled_factors(engine):
    bw, shared = engine._project()
    ids = {d: bw.get_node(database=shared.background, code=d).id
           for d in ("fuel:natural_gas", "grid:CN-EAST", "material:aluminium_primary_cn", "fuel:wood")}
    methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    data_objs = [bw.Database(shared.background).datapackage()] + [bw.Method(m).datapackage() for m in methods.values()]
    scores = score_by_gas({d: {i: 2.0} for d, i in ids.items()}, methods, data_objs)
    flows = elementary_flows()
    for dataset_id in ids:
        expected: dict[str, Decimal] = {}
        for flow, amount in catalogue()[dataset_id].exchanges:
            if flows[flow].counts_in_pcf:
                expected[flows[flow].gas] = expected.get(flows[flow].gas, Decimal(0)) + 2 * amount * flows[flow].gwp["AR6"]
        got = scores.by_gas(dataset_id)
        for gas in gases():
            assert abs(got[gas] - float(expected.get(gas, 0))) <= 1e-6 * max(abs(float(expected.get(gas, 0))), 1e-9)


def test_batch_and_engine_agree_on_a_model_product(engine, write_model):
    document = model_document(
        [{"id": "press", "outputs": [{"flow": "widget", "amount": 50, "unit": "kg"}],
          "inputs": [{"dataset": "material:steel_eaf", "amount": 55, "unit": "kg"}],
          "electricity": [{"grid": "CN-SOUTH", "amount": 40, "unit": "kWh"}],
          "emissions": [{"substance": "hfc_134a", "amount": 0.01, "unit": "kg"}]}],
        [product("widget")],
    )
    model = load_model(write_model(document))
    [footprint] = engine.compute(model)
    bw, shared = engine._project()
    node = bw.get_node(database=database_name(model, SupplierLoader(), shared, "AR6"), code="press::widget")
    methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    data_objs = [bw.Database(name).datapackage() for name in (node["database"], shared.background)]
    data_objs += [bw.Method(m).datapackage() for m in methods.values()]
    scores = score_by_gas({"widget": {node.id: 1.0}}, methods, data_objs)  # 1 kg of widget
    assert abs(sum(scores.by_gas("widget").values()) - float(footprint.pcf_excluding_biogenic_uptake)) <= 1e-6 * float(
        footprint.pcf_excluding_biogenic_uptake)
    assert abs(scores.by_gas("widget")["HFC-134a"] - float(footprint.computed.by_gas["HFC-134a"])) <= 1e-6
