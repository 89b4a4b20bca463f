"""Many footprints at once: every demand's GWP100 by gas from one factorisation of the technosphere.

This is the adjoint formulation of bw2calc's `FastScoresOnlyMultiLCA(direction="adjoint")`: solve
`A^T Y = (C_g B)^T` once per gas, then the by-gas footprint of any demand `f` is `f^T Y`, and row `p` of
`Y` is the per-unit footprint of product `p`: all products at once. The cost scales with the number of
gases (about fifteen), not with the number of products. bw2calc builds every matrix (`MultiLCA` with one
GWP method per gas, `load`); the transposed system is solved here (`AdjointSolver`).

The solver is SuperLU (scipy) on `A^T` permuted into block triangular form: the strongly connected
components of the supply graph (the loops) become diagonal blocks, ordered so that suppliers come after
their consumers, and the columns keep that natural order. Supply chains are mostly acyclic, so their part
factorises without fill-in; only the loops fill. SuperLU's default COLAMD ordering cannot see that
structure and fills in 10-20 times more on LCI-shaped matrices (docs/decisions.md, measured by
`benchmarks/bench_engine.py`). UMFPACK and PARDISO, which bw2calc would use, do not install from wheels
here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components, maximum_bipartite_matching
from scipy.sparse.linalg import splu


@dataclass(frozen=True)
class BatchScores:
    """kgCO2e by gas for each demand: `values[gas_index, demand_index]`."""

    gases: tuple[str, ...]
    demand_keys: tuple[str, ...]
    values: np.ndarray

    def by_gas(self, key: str) -> dict[str, float]:
        """One demand's footprint by gas."""
        column = self.demand_keys.index(key)
        return {gas: float(self.values[row, column]) for row, gas in enumerate(self.gases)}

    def totals(self) -> np.ndarray:
        return self.values.sum(axis=0)


@dataclass(frozen=True)
class PerUnitScores:
    """kgCO2e by gas per unit of every product of the system: `values[product_row, gas_index]`."""

    gases: tuple[str, ...]
    rows: Mapping[int, int]  # Brightway node id of a product -> its row
    values: np.ndarray

    def by_gas(self, product_id: int) -> dict[str, float]:
        """One product's per-unit footprint by gas."""
        row = self.rows[product_id]
        return {gas: float(self.values[row, index]) for index, gas in enumerate(self.gases)}


class AdjointSolver:
    """SuperLU factorisation of `A^T` in block triangular form; `solve` answers `A^T y = g` for many `g`.

    The permutation is Dulmage-Mendelsohn's: a perfect matching puts a non-zero on every diagonal
    position (the production exchanges, where the matrix has them there), then the strongly connected
    components of the matched matrix are ordered so every entry below the diagonal lies inside a block.
    scipy numbers strong components in reverse topological order (Pearce's algorithm); that order is
    checked here, and a matrix that does not satisfy it falls back to SuperLU's own COLAMD ordering.
    """

    def __init__(self, technosphere: sparse.spmatrix) -> None:
        transposed = sparse.csr_matrix(technosphere).T.tocsr()  # rows: activities, columns: products
        size = transposed.shape[0]
        if transposed.shape != (size, size):
            raise ValueError(f"the technosphere matrix is not square: {technosphere.shape}")
        self.rows, self.columns, self.largest_block = self._block_triangular(transposed)
        permuted = transposed[self.rows][:, self.columns].tocsc()
        self._lu = splu(permuted, permc_spec="NATURAL" if self.largest_block is not None else "COLAMD")
        self.fill = int(self._lu.L.nnz + self._lu.U.nnz)

    @staticmethod
    def _block_triangular(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, int | None]:
        size = matrix.shape[0]
        identity = np.arange(size)
        matched = maximum_bipartite_matching(matrix, perm_type="column")  # row i <-> column matched[i]
        if (matched < 0).any():
            return identity, identity, None  # structurally singular: let SuperLU report it
        square = matrix[:, matched]
        count, labels = connected_components(square, directed=True, connection="strong")
        coo = square.tocoo()
        across = labels[coo.row] != labels[coo.col]
        if not (labels[coo.row][across] > labels[coo.col][across]).all():
            return identity, identity, None
        order = np.argsort(-labels, kind="stable")  # consumers before their suppliers
        return order, matched[order], int(np.bincount(labels, minlength=count).max())

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """`y` with `A^T y = rhs`; `rhs` is activities x k, `y` is products x k (index order of the matrix)."""
        solution = np.empty_like(rhs, dtype=float)
        solution[self.columns] = self._lu.solve(np.ascontiguousarray(rhs[self.rows], dtype=float))
        return solution


class BatchSystem:
    """The matrices Brightway builds for a set of databases and gas methods, factorised once when first needed."""

    def __init__(self, mlca, gases: tuple[str, ...], methods: list[tuple[str, ...]]) -> None:
        self.mlca = mlca
        self.gases = gases
        self.characterised = np.vstack([
            np.asarray((mlca.characterization_matrices[method] @ mlca.biosphere_matrix).sum(axis=0)).ravel()
            for method in methods
        ])  # gases x activities
        self.technosphere = mlca.technosphere_matrix
        self.biosphere = mlca.biosphere_matrix
        self.product_row = mlca.dicts.product  # node id -> row of the technosphere matrix
        self.biosphere_row = mlca.dicts.biosphere  # elementary flow node id -> row of the biosphere matrix
        self._solver: AdjointSolver | None = None
        self._per_unit: np.ndarray | None = None

    @property
    def solver(self) -> AdjointSolver:
        if self._solver is None:
            self._solver = AdjointSolver(self.technosphere)
        return self._solver

    def per_unit_matrix(self) -> np.ndarray:
        """products x gases: kgCO2e of each gas per unit of each product (the adjoint solution itself)."""
        if self._per_unit is None:
            self._per_unit = self.solver.solve(self.characterised.T)
        return self._per_unit

    def per_unit_inventory(self) -> np.ndarray:
        """products x elementary flows: kg of each flow per unit of each product, cradle to gate (`B A^-1`)."""
        return self.solver.solve(np.asarray(self.biosphere.T.todense()))

    def per_unit(self) -> PerUnitScores:
        """Every product's per-unit footprint by gas."""
        return PerUnitScores(self.gases, dict(self.product_row), self.per_unit_matrix())

    def scores(self, demands: Mapping[str, Mapping[int, float]]) -> BatchScores:
        """Footprints by gas of many demands (product ids -> amounts)."""
        per_product = self.per_unit_matrix()
        keys = tuple(demands)
        columns, product_rows, amounts = [], [], []
        for column, key in enumerate(keys):
            for product_id, amount in demands[key].items():
                columns.append(column)
                product_rows.append(self.product_row[product_id])
                amounts.append(amount)
        demand_matrix = sparse.csr_matrix((amounts, (columns, product_rows)), shape=(len(keys), per_product.shape[0]))
        return BatchScores(self.gases, keys, np.asarray(demand_matrix @ per_product).T)


def load(gas_methods: Mapping[str, tuple[str, ...]], data_objs: Iterable,
         demands: Mapping[str, Mapping[int, float]] | None = None) -> BatchSystem:
    """Brightway builds the technosphere, biosphere and one characterisation matrix per gas (`MultiLCA`).

    `demands` only tells `MultiLCA` what the calculation is for; every product of the databases is in the
    matrices whatever it is.
    """
    import bw2calc

    data_objs = list(data_objs)
    methods = list(gas_methods.values())
    if not demands:
        demands = {"any": {_first_product(data_objs): 1.0}}
    mlca = bw2calc.MultiLCA(
        demands={key: dict(value) for key, value in demands.items()},
        method_config={"impact_categories": methods},
        data_objs=data_objs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gases absent from these databases give empty factor matrices
        mlca.load_lci_data()
        mlca.load_lcia_data()
    return BatchSystem(mlca, tuple(gas_methods), methods)


def _first_product(data_objs: list) -> int:
    """Any product id of the technosphere (MultiLCA refuses to build matrices without a demand)."""
    for package in data_objs:
        for resource in package.resources:
            if resource.get("matrix") == "technosphere_matrix" and resource["name"].endswith("indices"):
                indices = package.get_resource(resource["name"])[0]
                if len(indices):
                    return int(indices["row"][0])
    raise ValueError("no technosphere in these data packages")


def score_by_gas(
    demands: Mapping[str, Mapping[int, float]],
    gas_methods: Mapping[str, tuple[str, ...]],
    data_objs: Iterable,
) -> BatchScores:
    """Footprints by gas of many demands (product ids -> amounts) over the same databases."""
    return load(gas_methods, data_objs, demands).scores(demands)
