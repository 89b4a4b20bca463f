"""Uncertainty: the distribution of every amount and factor, and Monte Carlo through bw2calc.

Every exchange the engine writes to Brightway carries a `stats_arrays` distribution (the ids Brightway samples):
the one the model gives a line (lognormal, normal, uniform, triangular), or else a lognormal whose geometric
standard deviation comes from the line's data quality through the pedigree matrix. Monte Carlo is bw2calc's own:
an `LCA` with `use_distributions=True` and `seed_override`, each `next(lca)` drawing new technosphere and
biosphere matrices; each draw is solved once (the adjoint `A^T y = (C B)^T 1`, as `batch.py` does) and gives every
product's PCF excluding biogenic uptake at once.

Pedigree (docs/methodology.md): the factors of ecoinvent v2 (Frischknecht et al. 2007, ecoinvent report No. 1,
chapter on uncertainty, after Weidema & Wesnaes 1996; the version-1 table of Brightway's `pedigree_matrix`
package), each a contribution to the square of the geometric standard deviation, combined as
sigma = sqrt(sum(ln(U_i)^2)) / 2 with the basic uncertainty of the kind of exchange (same report). The PACT DQR (v3, 1 best to 5 worst) maps score for score onto the technological, geographical and
temporal rows; reliability and completeness follow the data source. Cells the ecoinvent table leaves empty
(geographical 4, technological 2) take the mean of their neighbours; non-integer DQRs (a supplier's weighted
average) are rounded up, the worse score.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

import numpy as np
from scipy.sparse.linalg import splu

from lca_models.model import DISTRIBUTIONS, Dqr, Quality

# ecoinvent v2 pedigree factors, scores 1..5 (report No. 1); its empty cells filled as the docstring says
PEDIGREE = {
    "reliability": (1.00, 1.05, 1.10, 1.20, 1.50),
    "completeness": (1.00, 1.02, 1.05, 1.10, 1.20),
    "temporal": (1.00, 1.03, 1.10, 1.20, 1.50),
    "geographical": (1.00, 1.01, 1.02, 1.06, 1.10),
    "technological": (1.00, 1.10, 1.20, 1.50, 2.00),
}
# reliability and completeness scores by data source (our mapping, docs/methodology.md)
SOURCE_SCORES = {"primary": (2, 2), "supplier": (2, 2), "secondary": (3, 3)}
# basic uncertainty (ecoinvent report No. 1): demand of energy and goods, transport, CO2, other gases
BASIC_DEMAND = 1.05
BASIC_TRANSPORT = 2.0
BASIC_CO2 = 1.05
BASIC_OTHER_GAS = 1.5
CO2_FLOWS = ("co2_fossil", "co2_biogenic", "co2_uptake", "co2_luc", "co2e_fossil", "co2e_luc", "co2e_biogenic_non_co2")
LOGNORMAL = DISTRIBUTIONS["lognormal"]
INTERVAL = (2.5, 97.5)  # percentiles reported


def basic_for_flow(flow: str) -> float:
    """Basic uncertainty of an emission: CO2 (and CO2e already aggregated) 1.05, CH4, N2O and the rest 1.5."""
    return BASIC_CO2 if flow in CO2_FLOWS else BASIC_OTHER_GAS


def _score(value: Decimal) -> int:
    return min(5, max(1, math.ceil(value)))


def pedigree_sigma(dqr: Dqr, source: str, basic: float) -> float:
    """Standard deviation of the underlying normal (ln) of a lognormal, from the pedigree scores."""
    reliability, completeness = SOURCE_SCORES[source]
    factors = [basic, PEDIGREE["reliability"][reliability - 1], PEDIGREE["completeness"][completeness - 1],
               PEDIGREE["technological"][_score(dqr.technological) - 1],
               PEDIGREE["geographical"][_score(dqr.geographical) - 1], PEDIGREE["temporal"][_score(dqr.temporal) - 1]]
    return math.sqrt(sum(math.log(f) ** 2 for f in factors)) / 2


def exchange_uncertainty(amount: float, quality: Quality, basic: float) -> dict:
    """The `stats_arrays` fields of an exchange of `amount`: the model's distribution, else the pedigree lognormal."""
    if amount == 0:
        return {}
    given = quality.uncertainty
    if given is None or given.distribution == "lognormal":
        sigma = math.log(float(given.gsd)) if given else pedigree_sigma(quality.dqr, quality.source, basic)
        return {"uncertainty type": LOGNORMAL, "loc": math.log(abs(amount)), "scale": sigma, "negative": amount < 0}
    if given.distribution == "normal":
        return {"uncertainty type": DISTRIBUTIONS["normal"], "loc": amount, "scale": abs(amount * float(given.relative_sd))}
    low, high = sorted((amount * float(given.relative_min), amount * float(given.relative_max)))
    fields = {"uncertainty type": DISTRIBUTIONS[given.distribution], "minimum": low, "maximum": high}
    return fields | ({"loc": amount} if given.distribution == "triangular" else {})


@dataclass(frozen=True)
class Draws:
    """Monte Carlo results: PCF excluding biogenic uptake per declared unit, one row of draws per product."""

    seed: int
    scores: dict[str, np.ndarray]


def new_seed() -> int:
    """A seed for a run the user gave none: reported, so the run can be repeated."""
    return secrets.randbelow(2**31 - 1) + 1


def monte_carlo(demands: Mapping[str, Mapping[int, float]], data_objs: list, iterations: int, seed: int) -> Draws:
    """`iterations` draws of every product's score (`demands`: product key -> {node id: amount}), reproducible by seed.

    `data_objs` are the datapackages of the databases and of the one impact method to score with.
    """
    import bw2calc

    first = next(iter(demands.values()))
    lca = bw2calc.LCA(demand=dict(first), data_objs=data_objs, use_distributions=True, seed_override=seed)
    lca.load_lci_data()
    lca.load_lcia_data()
    keys = list(demands)
    demand = np.zeros((len(keys), len(lca.dicts.product)))
    for row, key in enumerate(keys):
        for node, amount in demands[key].items():
            demand[row, lca.dicts.product[node]] = amount
    scores = np.empty((len(keys), iterations))
    for i in range(iterations):
        if i:
            next(lca)  # bw2calc draws new matrices from every exchange's distribution
        characterised = np.asarray((lca.characterization_matrix @ lca.biosphere_matrix).sum(axis=0)).ravel()
        adjoint = splu(lca.technosphere_matrix.tocsc().T.tocsc()).solve(characterised)
        scores[:, i] = demand @ adjoint
    return Draws(seed, {key: scores[row] for row, key in enumerate(keys)})
