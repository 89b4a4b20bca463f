"""Many footprints at once: every demand's GWP100 by gas from one factorisation of the background.

This is the adjoint formulation of bw2calc's `FastScoresOnlyMultiLCA(direction="adjoint")`: solve
`A^T Y = (C_g B)^T` once per gas, then the by-gas footprint of any demand `f` is `f^T Y`. The cost
scales with the number of gases (about ten), not with the number of products. bw2calc builds every
matrix (`MultiLCA` with one GWP method per gas); the transposed system is solved with SuperLU,
factorising `A^T` as `bw2calc.utils.lu_solver` does, because `FastScoresOnlyMultiLCA` itself
requires UMFPACK or PARDISO, which do not install from wheels here (docs/decisions.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
from scipy import sparse
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


def score_by_gas(
    demands: Mapping[str, Mapping[int, float]],
    gas_methods: Mapping[str, tuple[str, ...]],
    data_objs: Iterable,
) -> BatchScores:
    """Footprints by gas of many demands (product ids -> amounts) over the same databases."""
    import bw2calc

    methods = list(gas_methods.values())
    mlca = bw2calc.MultiLCA(
        demands={key: dict(value) for key, value in demands.items()},
        method_config={"impact_categories": methods},
        data_objs=list(data_objs),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gases absent from these databases give empty factor matrices
        mlca.load_lci_data()
        mlca.load_lcia_data()
    characterised = np.vstack([
        np.asarray((mlca.characterization_matrices[method] @ mlca.biosphere_matrix).sum(axis=0)).ravel()
        for method in methods
    ])  # gases x activities
    transposed = mlca.technosphere_matrix.tocsr().T.tocsc()  # factorise A^T: far less fill-in
    per_product = splu(transposed).solve(np.ascontiguousarray(characterised.T))  # products x gases
    keys = tuple(demands)
    columns, product_rows, amounts = [], [], []
    for column, key in enumerate(keys):
        for product_id, amount in demands[key].items():
            columns.append(column)
            product_rows.append(mlca.dicts.product[product_id])
            amounts.append(amount)
    demand_matrix = sparse.csr_matrix((amounts, (columns, product_rows)), shape=(len(keys), per_product.shape[0]))
    return BatchScores(tuple(gas_methods), keys, np.asarray(demand_matrix @ per_product).T)
