"""The batch path (adjoint, one solve per gas) agrees with the bundled data and with the engine."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from scipy import sparse

from lca_models.background import catalogue
from lca_models.gwp import elementary_flows
from lca_models.model_schema import load_model
from pcf.engine.batch import AdjointSolver, load, score_by_gas
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


def _looped_matrix(size: int, seed: int):
    """I - T with supply chains, a looped core and by-product loops, columns shuffled away from the diagonal."""
    rng = np.random.default_rng(seed)
    dense = np.eye(size)
    for column in range(size):
        for row in rng.integers(0, size, size=4):
            if row != column:
                dense[row, column] -= rng.uniform(0.01, 0.2)
    return dense


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adjoint_solver_matches_a_dense_solve_on_looped_matrices(seed):
    dense = _looped_matrix(60, seed)
    permutation = np.random.default_rng(seed).permutation(60)  # products and activities in different orders
    technosphere = sparse.csc_matrix(dense[:, permutation])
    rhs = np.random.default_rng(seed + 10).uniform(0, 1, size=(60, 3))
    solver = AdjointSolver(technosphere)
    assert solver.largest_block is not None  # the block triangular path, not the fallback
    expected = np.linalg.solve(dense[:, permutation].T, rhs)
    assert np.allclose(solver.solve(rhs), expected, rtol=1e-12, atol=1e-14)


def test_block_triangular_order_leaves_acyclic_chains_without_fill():
    # a chain a0 <- a1 <- ... (each consumes the previous) has no loop: L + U hold exactly the matrix's entries
    size = 200
    dense = np.eye(size)
    for column in range(1, size):
        dense[column - 1, column] = -0.5
    solver = AdjointSolver(sparse.csc_matrix(dense))
    assert solver.largest_block == 1
    assert solver.fill == sparse.csc_matrix(dense).nnz + size  # SuperLU stores the unit diagonal of L too


def test_batch_per_unit_agrees_with_bw2calc_lca_on_every_product(engine):
    """The solver is an explicit choice: on the bundled background every product's per-unit footprint by gas
    equals bw2calc's own LCA (its default solver) on the same demand."""
    import bw2calc

    bw, shared = engine._project()
    methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    data_objs = [bw.Database(shared.background).datapackage()] + [bw.Method(m).datapackage() for m in methods.values()]
    per_unit = load(methods, data_objs).per_unit()
    nodes = list(bw.Database(shared.background))
    lca = bw2calc.LCA({nodes[0].id: 1.0}, data_objs=data_objs + [bw.Method(shared.total_method("AR6")).datapackage()])
    lca.lci(factorize=True)
    lca.lcia()
    for node in nodes:
        lca.lci(demand={node.id: 1.0})
        lca.lcia_calculation()
        total = sum(per_unit.by_gas(node.id).values())
        assert abs(total - lca.score) <= 1e-9 * max(abs(lca.score), 1e-12), node["code"]
