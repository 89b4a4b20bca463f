"""Monte Carlo through bw2calc: reproducible with a seed, the interval around the deterministic result, the
distributions of the model and the pedigree GSD checked by hand."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner

from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.engine.uncertainty import monte_carlo
from tests.support.models import model_document, product

# ecoinvent v2 pedigree factors (Frischknecht et al. 2007, ecoinvent report No. 1) and the basic uncertainty of CO2,
# combined as sigma = sqrt(sum ln(U)^2) / 2
BASIC_CO2 = 1.05


def widget(emission: dict) -> dict:
    return model_document([{"id": "press", "outputs": [{"flow": "widget", "amount": 1000, "unit": "kg"}],
                            "emissions": [{"substance": "co2_fossil", "amount": 100, "unit": "kg", **emission}]}],
                          [product("widget")])


def draws(engine, write_model, emission: dict, iterations: int = 2000, seed: int = 11) -> np.ndarray:
    """The PCF draws of one CO2 emission of 100 kg per 1000 kg of widget (nothing else in the model varies)."""
    model = load_model(write_model(widget(emission), f"m{abs(hash(json.dumps(emission, sort_keys=True)))}.yaml"))
    engine.compute(model)
    bw, shared = engine._project()
    from pcf.engine.foreground import database_name
    from pcf.engine.suppliers import SupplierLoader

    node = bw.get_node(database=database_name(model, SupplierLoader(), shared, "AR6"), code="press::widget")
    _, data_objs, _ = bw.prepare_lca_inputs(demand={node: 1.0}, method=shared.pcf_method("AR6"), remapping=False)
    return monte_carlo({"widget": {node.id: 1.0}}, data_objs, iterations, seed).scores["widget"]


def test_a_seed_reproduces_the_run_and_the_interval_holds_the_deterministic_result(engine):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        model = load_model(path)
    [first] = engine.compute(model, iterations=300, seed=42)
    [again] = engine.compute(model, iterations=300, seed=42)
    [other] = engine.compute(model, iterations=300, seed=43)
    u = first.computed.uncertainty
    assert u == again.computed.uncertainty and (u.iterations, u.seed) == (300, 42)
    assert other.computed.uncertainty.mean != u.mean
    assert u.low < first.pcf_excluding_biogenic_uptake < u.high
    assert u.low < u.median < u.high and sum(n for _, _, n in u.histogram) == 300
    assert first.pcf_excluding_biogenic_uptake == again.pcf_excluding_biogenic_uptake  # the deterministic result stays


def test_normal_and_uniform_distributions_of_the_model_are_sampled(engine, write_model):
    normal = draws(engine, write_model, {"uncertainty": {"distribution": "normal", "sd": 10}})
    # 100 +- 10 kg CO2 per 1000 kg: N(0.1, 0.01) kgCO2e per kg
    assert abs(normal.mean() - 0.1) < 4 * 0.01 / math.sqrt(len(normal))
    assert abs(normal.std(ddof=1) - 0.01) < 0.1 * 0.01
    uniform = draws(engine, write_model, {"uncertainty": {"distribution": "uniform", "min": 80, "max": 120}})
    assert 0.08 - 1e-9 <= uniform.min() and uniform.max() <= 0.12 + 1e-9
    assert abs(uniform.std(ddof=1) - 0.04 / math.sqrt(12)) < 0.1 * 0.04 / math.sqrt(12)  # (max - min) / sqrt(12)


@pytest.mark.parametrize("quality, factors", [
    ({}, (BASIC_CO2, 1.05, 1.02)),  # primary data, DQR 1: reliability 2 (1.05) and completeness 2 (1.02) only
    ({"source": "secondary", "dqr": {"technological": 3, "geographical": 4, "temporal": 5}},
     (BASIC_CO2, 1.10, 1.05, 1.20, 1.06, 1.50)),  # reliability 3, completeness 3, tech 3, geo 4 (interpolated), time 5
    ({"uncertainty": {"distribution": "lognormal", "gsd": 1.3}}, None),  # given: the model's GSD
])
def test_the_lognormal_comes_from_the_pedigree_unless_the_model_gives_one(engine, write_model, quality, factors):
    sigma = math.sqrt(sum(math.log(f) ** 2 for f in factors)) / 2 if factors else math.log(1.3)
    logs = np.log(draws(engine, write_model, quality))
    assert abs(np.median(logs) - math.log(0.1)) < 4 * sigma / math.sqrt(len(logs)) + 1e-6  # median = the amount
    assert abs(logs.std(ddof=1) - sigma) < 0.1 * sigma


@pytest.mark.parametrize("uncertainty, fragment", [
    ({"distribution": "lognormal"}, "uncertainty.gsd: a lognormal distribution needs gsd"),
    ({"distribution": "lognormal", "gsd": "0.9"}, "uncertainty.gsd: a geometric standard deviation is > 1"),
    ({"distribution": "normal", "sd": 3, "gsd": 2}, "uncertainty.gsd: not a parameter of a normal distribution"),
    ({"distribution": "uniform", "min": 120, "max": 150}, "uncertainty: uniform: min (120) <= amount (100) <= max"),
    ({"distribution": "gamma", "shape": 2}, "uncertainty.distribution: Must be one of"),
])
def test_bad_distributions_are_model_errors(write_model, uncertainty, fragment):
    with pytest.raises(ModelError) as error:
        load_model(write_model(widget({"uncertainty": uncertainty})))
    assert f"processes[0].emissions[0].{fragment}" in str(error.value)


def test_pcf_compute_uncertainty_in_the_terminal_json_and_report(tmp_path):
    runner = CliRunner()
    with resources.as_file(resources.files("lca_models").joinpath("examples", "aluminium_profiles.yaml")) as model:
        result = runner.invoke(main, ["compute", str(model), "--uncertainty", "60", "--seed", "5", "--json",
                                      str(tmp_path / "f.json"), "--report", str(tmp_path / "r.html"),
                                      "--data-dir", str(tmp_path / "bw")])
        assert result.exit_code == 0, result.output
        assert "Monte Carlo (60 draws, seed 5): mean" in result.output and "95 % interval" in result.output
        [footprint] = json.loads((tmp_path / "f.json").read_text())
        u = footprint["computed"]["uncertainty"]
        assert (u["iterations"], u["seed"]) == (60, 5)
        assert Decimal(u["low"]) < Decimal(footprint["pcf_excluding_biogenic_uptake"]) < Decimal(u["high"])
        html = (tmp_path / "r.html").read_text()
        assert "<h3>Uncertainty</h3>" in html and 'aria-label="Monte Carlo distribution"' in html
        result = runner.invoke(main, ["compute", str(model), "--seed", "5", "--data-dir", str(tmp_path / "bw")])
        assert result.exit_code == 1 and "--seed needs --uncertainty N" in result.output
