"""Specific embedded emissions (SEE) of a CBAM installation, computed on Brightway.

Reg (EU) 2023/956 Annex IV and IR (EU) 2025/2547 Annex III A.3 and B (Equations 55-60): for each process
    SEE = (AttrEm + EE_InpMat) / AL,   EE_InpMat = sum_i M_i x SEE_i,
separately for direct and indirect emissions. This is a technosphere problem, and Brightway solves it:
- one activity per production process, producing AL t of its aggregated good, with technosphere inputs
  M_i of each precursor it consumes (own precursors link to the process that makes them, purchased ones
  to an activity per purchased precursor), and two biosphere exchanges: the attributed direct
  emissions (DirEm* + heat + waste gases - exported electricity, `ProductionProcess`) and the indirect
  emissions (electricity x EF);
- one activity per purchased precursor, producing 1 t, emitting its SEE (direct, indirect); a precursor
  whose SEE (direct) is a default value emits on a separate "default value" flow;
- methods "direct" (both direct flows), "indirect", and "direct, default values" characterise them with 1.
Solving a demand of 1 t of a process gives its SEE: the Leontief inverse that the template's hidden
InputOutput sheet builds by hand. The share of default values is the template's (Summary_Products M):
the part of SEE (direct) that comes from default values.

The databases live in the toolkit's Brightway project under names of their own (`cbam-see-...`), so they do
not touch the PCF engine's databases; one foreground per installation digest, written once.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from exchange.cbam.template_defaults import with_default_values
from lca_models.cbam_installation import Installation, Product, installation_document
from lca_models.errors import ModelError

from ..engine.project import open_project

BIOSPHERE = "cbam-see-biosphere"
METHOD_ROOT = "carbon-exchange CBAM SEE"
DIRECT, DIRECT_DEFAULT, INDIRECT = "attributed-direct", "attributed-direct-default-value", "attributed-indirect"
METHODS = {
    "direct": ((BIOSPHERE, DIRECT), (BIOSPHERE, DIRECT_DEFAULT)),
    "indirect": ((BIOSPHERE, INDIRECT),),
    "direct_default": ((BIOSPHERE, DIRECT_DEFAULT),),
}


@dataclass(frozen=True)
class ProcessSee:
    """SEE of the good of one production process, tCO2e per tonne."""

    process: str
    goods_category: str
    routes: tuple[str, ...]
    activity_level: float
    see_direct: float
    see_indirect: float
    default_share: float  # share of SEE (direct) from default values, 0..1

    @property
    def see_total(self) -> float:
        return self.see_direct + self.see_indirect


@dataclass(frozen=True)
class ProductSee:
    """A product (CN code) with the SEE of the process it arises from."""

    product: Product
    see: ProcessSee


@dataclass(frozen=True)
class SeeResult:
    processes: tuple[ProcessSee, ...]
    products: tuple[ProductSee, ...]

    def process(self, name: str) -> ProcessSee:
        return next(p for p in self.processes if p.process == name)


def compute_see(installation: Installation, data_dir: Path | None = None) -> SeeResult:
    """SEE per production process and per product; ModelError when the precursor network has no solution.

    Purchased precursors without a communicated SEE take their default value first (CbamError when there is none).
    """
    installation = with_default_values(installation)
    bw = open_project(data_dir)
    _ensure_methods(bw)
    name = _write_foreground(bw, installation)
    scores = _solve(bw, name, installation)
    processes = tuple(
        ProcessSee(
            process=p.name, goods_category=p.goods_category,
            routes=tuple(route for route, amount in p.production.items() if amount > 0),
            activity_level=p.activity_level,
            see_direct=scores[p.name]["direct"], see_indirect=scores[p.name]["indirect"],
            default_share=(scores[p.name]["direct_default"] / scores[p.name]["direct"]
                           if scores[p.name]["direct"] else 0.0),
        )
        for p in installation.processes
    )
    by_name = {p.process: p for p in processes}
    products = tuple(ProductSee(product, by_name[product.process]) for product in installation.products)
    return SeeResult(processes, products)


def _method(kind: str) -> tuple[str, str]:
    return (METHOD_ROOT, kind)


def _ensure_methods(bw: ModuleType) -> None:
    if BIOSPHERE not in bw.databases:
        labels = {DIRECT: "CBAM attributed direct emissions", DIRECT_DEFAULT: "CBAM direct emissions, default value",
                  INDIRECT: "CBAM indirect emissions"}
        bw.Database(BIOSPHERE).write({
            (BIOSPHERE, code): {"name": label, "unit": "tonne CO2-Eq", "type": "emission", "categories": ("air",),
                                "exchanges": []}
            for code, label in labels.items()
        }, process=True)
    for kind, flows in METHODS.items():
        if _method(kind) not in bw.methods:
            method = bw.Method(_method(kind))
            method.register(unit="tCO2e", description=f"CBAM SEE, {kind.replace('_', ' ')} (Reg 2023/956 Annex IV)")
            method.write([(flow, 1.0) for flow in flows])


def _digest(installation: Installation) -> str:
    document = installation_document(installation)
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_foreground(bw: ModuleType, installation: Installation) -> str:
    name = f"cbam-see-{_digest(installation)}"
    if name in bw.databases:
        return name
    data = {}
    for process in installation.processes:
        key = (name, f"process:{process.name}")
        exchanges = [{"input": key, "amount": process.activity_level, "type": "production"},
                     {"input": (BIOSPHERE, DIRECT), "amount": process.attributed_direct_emissions,
                      "type": "biosphere"},
                     {"input": (BIOSPHERE, INDIRECT), "amount": process.attributed_indirect_emissions,
                      "type": "biosphere"}]
        for precursor, amount in process.precursors.items():
            if amount:
                exchanges.append({"input": (name, _code(installation, precursor)), "amount": amount,
                                  "type": "technosphere"})
        data[key] = {"name": process.name, "unit": "tonne", "type": "process", "exchanges": exchanges,
                     "goods_category": process.goods_category}
    for precursor in installation.purchased_precursors:
        key = (name, f"purchased:{precursor.name}")
        direct_flow = DIRECT_DEFAULT if precursor.default_value else DIRECT
        data[key] = {"name": precursor.name, "unit": "tonne", "type": "process", "location": precursor.country or "GLO",
                     "exchanges": [{"input": key, "amount": 1.0, "type": "production"},
                                   {"input": (BIOSPHERE, direct_flow), "amount": precursor.see_direct,
                                    "type": "biosphere"},
                                   {"input": (BIOSPHERE, INDIRECT), "amount": precursor.see_indirect,
                                    "type": "biosphere"}]}
    bw.Database(name).write(data, process=True)
    return name


def _code(installation: Installation, precursor: str) -> str:
    own = any(p.name == precursor for p in installation.processes)
    return f"process:{precursor}" if own else f"purchased:{precursor}"


def _solve(bw: ModuleType, name: str, installation: Installation) -> dict[str, dict[str, float]]:
    import bw2calc

    ids = {p.name: bw.get_node(database=name, code=f"process:{p.name}").id for p in installation.processes}
    first_key = (name, f"process:{installation.processes[0].name}")
    demand, data_objs, _ = bw.prepare_lca_inputs(demand={first_key: 1.0}, method=_method("direct"))
    lca = bw2calc.LCA(demand=demand, data_objs=data_objs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=Warning)  # a singular matrix only warns in scipy
        try:
            lca.lci(factorize=True)
        except Exception as exc:  # noqa: BLE001 - any solver failure means the precursor network has no solution
            raise ModelError("the processes' precursor network has no solution (a loop in which processes consume "
                             f"at least as much of a good as they make): {exc}") from None
    scores: dict[str, dict[str, float]] = {p: {} for p in ids}
    for kind in METHODS:
        with warnings.catch_warnings():  # no default values -> an all-zero characterisation matrix, which is fine
            warnings.filterwarnings("ignore", message="All values in characterization matrix are zero")
            lca.switch_method(_method(kind))
        for process, node_id in ids.items():
            lca.lci(demand={node_id: 1.0})
            lca.lcia_calculation()
            scores[process][kind] = float(lca.score)
    return scores
