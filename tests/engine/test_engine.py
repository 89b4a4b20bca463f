"""The Brightway engine against answers computed by hand from the bundled data."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from lca_models.background import catalogue
from lca_models.errors import ModelError
from lca_models.gwp import elementary_flows
from lca_models.model_schema import load_model
from lca_models.units import convert
from tests.support.models import model_document, product

REL = 1e-6  # Brightway keeps matrix values in single precision (~7 significant digits)
# Cited values used by hand below (lca_models/data): MEE & NBS 2023 grid averages and the national factor without
# market-traded non-fossil power (the residual mix of every Chinese grid), kgCO2/kWh
CN_EAST, CN_NORTH, CN_RESIDUAL = Decimal("0.5500"), Decimal("0.6361"), Decimal("0.6096")
LOSS = Decimal("0.0454")  # CEC 2023 line loss, share of the electricity supplied


# generation upstream, kgCO2e per kWh generated: 0.17 x the grid factor, as electricity_upstream.csv rounds it
GENERATION_UPSTREAM = {CN_EAST: Decimal("0.09350"), CN_NORTH: Decimal("0.10814")}


def grid_upstream(factor: Decimal) -> Decimal:
    """Per kWh consumed: generation upstream and T&D losses at the grid factor, both over 1 - loss."""
    return (GENERATION_UPSTREAM[factor] + factor * LOSS) / (1 - LOSS)


NG_WTT = Decimal("0.03347") * 1000 / Decimal("3.6")  # DESNZ 2025 WTT- fuels natural gas, per kWh NCV -> per GJ


def dataset_co2e(dataset_id: str, gwp: str = "AR6") -> Decimal:
    """kgCO2e per unit of a bundled dataset, computed directly from its rows and the GWP table."""
    flows = elementary_flows()
    return sum(
        (amount * flows[flow].gwp[gwp] for flow, amount in catalogue()[dataset_id].exchanges if flows[flow].counts_in_pcf),
        Decimal(0),
    )


def per_kg(dataset_id: str) -> Decimal:
    """kgCO2e per kg of a bundled dataset given per kg, t or any other mass unit."""
    return dataset_co2e(dataset_id) / convert(Decimal(1), catalogue()[dataset_id].unit, "kg")


def close(actual: Decimal, expected: Decimal, rel: float = REL) -> bool:
    return abs(float(actual) - float(expected)) <= rel * abs(float(expected))


def single_process(**process_extra) -> dict:
    process = {"id": "press", "outputs": [{"flow": "widget", "amount": 1000, "unit": "kg"}], **process_extra}
    return model_document([process], [product("widget")])


def test_hand_computed_model_reproduced(engine, write_model):
    document = single_process(
        inputs=[{"dataset": "material:steel_bf_bof", "amount": 1.1, "unit": "t"}],
        electricity=[{"grid": "CN-EAST", "amount": 0.5, "unit": "MWh"}],
        fuels=[{"fuel": "natural_gas", "amount": 10, "unit": "GJ"}],
        emissions=[{"substance": "ch4_fossil", "amount": 2, "unit": "kg"},
                   {"substance": "n2o", "amount": 0.05, "unit": "kg"}],
        transport=[{"mode": "truck", "amount": 50, "unit": "t*km"}],
    )
    [footprint] = engine.compute(load_model(write_model(document)))
    expected_total = (
        Decimal(1100) * per_kg("material:steel_bf_bof")
        + Decimal(500) * (CN_RESIDUAL + grid_upstream(CN_EAST))  # market-based: no instrument, residual mix
        + Decimal(10) * (dataset_co2e("fuel:natural_gas") + NG_WTT)
        + Decimal(2) * Decimal("29.8") + Decimal("0.05") * Decimal(273)
        + Decimal(50) * dataset_co2e("transport:truck")
    ) / Decimal(1000)
    assert close(footprint.pcf_excluding_biogenic_uptake, expected_total)
    assert footprint.computed.by_gas["N2O"] >= Decimal("0.05") * 273 / 1000 * Decimal("0.999999")
    assert close(sum(footprint.computed.by_gas.values()), footprint.pcf_excluding_biogenic_uptake, 1e-5)
    contributions = sum(c.kgco2e for c in footprint.computed.contributions)
    assert close(contributions, footprint.pcf_excluding_biogenic_uptake, 1e-5)


def test_ar5_and_ar6_differ_by_the_methane_factor(engine, write_model):
    document = single_process(emissions=[{"substance": "ch4_fossil", "amount": 1000, "unit": "kg"}])
    model = load_model(write_model(document))
    [ar6] = engine.compute(model, "ar6")
    [ar5] = engine.compute(model, "ar5")
    assert close(ar6.pcf_excluding_biogenic_uptake, Decimal("29.8"))
    assert close(ar5.pcf_excluding_biogenic_uptake, Decimal("30"))
    assert ar5.ipcc_characterization_factors == ("AR5",)


@pytest.mark.parametrize(
    "method, extra_a, extra_b, share_a",
    [
        ("mass", {"mass_kg": 1}, {"mass_kg": 1}, Decimal(600) / Decimal(1000)),
        ("economic", {"price": 10}, {"price": "2.5"}, Decimal(6000) / Decimal(7000)),
        ("physical", {"physical": 2}, {"physical": 8}, Decimal(1200) / Decimal(4400)),
    ],
)
def test_allocation_partitions_burden_by_the_factors(engine, write_model, method, extra_a, extra_b, share_a):
    process = {
        "id": "splitter",
        "allocation": {"method": method},
        "outputs": [{"flow": "a", "amount": 600, "unit": "kg", **extra_a},
                    {"flow": "b", "amount": 400, "unit": "kg", **extra_b}],
        "emissions": [{"substance": "co2_fossil", "amount": 1000, "unit": "kg"}],
    }
    fa, fb = engine.compute(load_model(write_model(model_document([process], [product("a"), product("b")]))))
    assert close(fa.pcf_excluding_biogenic_uptake, Decimal(1000) * share_a / 600)
    assert close(fb.pcf_excluding_biogenic_uptake, Decimal(1000) * (1 - share_a) / 400)
    # allocation conserves the total: 600 kg of a plus 400 kg of b carry all 1000 kg CO2
    total = fa.pcf_excluding_biogenic_uptake * 600 + fb.pcf_excluding_biogenic_uptake * 400
    assert close(total, Decimal(1000))


def test_system_expansion_credits_the_displaced_dataset(engine, write_model):
    process = {
        "id": "chp",
        "allocation": {"method": "system_expansion"},
        "outputs": [{"flow": "steam", "amount": 100, "unit": "GJ"},
                    {"flow": "power", "amount": 10000, "unit": "kWh", "substitutes": {"dataset": "grid:CN-EAST"}}],
        "fuels": [{"fuel": "natural_gas", "amount": 150, "unit": "GJ"}],
    }
    document = model_document([process], [product("steam", unit="megajoule", mass="0")])
    [footprint] = engine.compute(load_model(write_model(document)))
    expected = (150 * (dataset_co2e("fuel:natural_gas") + NG_WTT) - 10000 * CN_EAST) / Decimal(100_000)
    assert close(footprint.pcf_excluding_biogenic_uptake, expected)


def test_recycling_loop_gives_the_matrix_inversion_answer(engine, write_model):
    # steel: 1 t needs 0.2 t scrap and emits 1000 kg CO2; rolling turns 1 t steel into 0.9 t coil and
    # 0.1 t scrap (mass allocation) and emits 100 kg CO2. By hand: s = 1000 + 0.2 (s + 100) -> s = 1275,
    # coil = scrap = s + 100 = 1375 kg per t. A tree walk cut at any depth gives less.
    processes = [
        {"id": "steelmaking", "outputs": [{"flow": "steel", "amount": 1, "unit": "t"}],
         "inputs": [{"flow": "scrap", "amount": 0.2, "unit": "t"}],
         "emissions": [{"substance": "co2_fossil", "amount": 1000, "unit": "kg"}]},
        {"id": "rolling", "allocation": {"method": "mass"},
         "outputs": [{"flow": "coil", "amount": 0.9, "unit": "t"}, {"flow": "scrap", "amount": 0.1, "unit": "t"}],
         "inputs": [{"flow": "steel", "amount": 1, "unit": "t"}],
         "emissions": [{"substance": "co2_fossil", "amount": 100, "unit": "kg"}]},
    ]
    [coil] = engine.compute(load_model(write_model(model_document(processes, [product("coil")]))))
    assert close(coil.pcf_excluding_biogenic_uptake, Decimal("1.375"))


def test_market_and_location_based_differ_by_certificates_times_grid_factor(engine, write_model):
    def compute(instruments):
        document = single_process(electricity=[{"grid": "CN-NORTH", "amount": 1000, "unit": "kWh", "instruments": instruments}])
        return engine.compute(load_model(write_model(document, f"m{len(instruments)}.yaml")))[0]

    with_certificates = compute([{"type": "green_certificate", "amount": 400, "unit": "kWh", "scheme": "GEC"}])
    grid_only = compute([])
    upstream = 1000 * grid_upstream(CN_NORTH) / 1000  # every kWh drawn from the grid, covered or not
    e = with_certificates.computed.electricity
    assert close(e.location_based_kgco2e, 1000 * CN_NORTH / 1000)
    assert close(e.market_based_kgco2e, 600 * CN_RESIDUAL / 1000)  # the residual mix on the 600 kWh not covered
    assert close(grid_only.computed.electricity.market_based_kgco2e, 1000 * CN_RESIDUAL / 1000)
    assert close(with_certificates.pcf_excluding_biogenic_uptake, 600 * CN_RESIDUAL / 1000 + upstream)
    assert close(e.pcf_location_based, 1000 * CN_NORTH / 1000 + upstream)


def test_onsite_pv_is_zero_in_both_methods(engine, write_model):
    document = single_process(electricity=[{"grid": "CN-NORTH", "amount": 1000, "unit": "kWh",
                                            "instruments": [{"type": "onsite_pv", "amount": 250, "unit": "kWh"}]}])
    [footprint] = engine.compute(load_model(write_model(document)))
    e = footprint.computed.electricity
    assert close(e.location_based_kgco2e, 750 * CN_NORTH / 1000)
    assert close(e.market_based_kgco2e, 750 * CN_RESIDUAL / 1000)  # PV is not from the grid in either method
    assert close(footprint.computed.by_stage["energy_upstream"], 750 * grid_upstream(CN_NORTH) / 1000)
    assert close(e.kwh, Decimal(1))


def _supplier_document(pcf: str, unit: str = "kilogram", amount: str = "1", pds: str = "40") -> dict:
    """A valid PACT v3 footprint from a supplier: `pcf` kgCO2e per `amount` `unit`."""
    return {
        "id": "0f6b7f1e-1111-4c44-9a2a-3c0a4a2b5e10", "specVersion": "3.0.3", "created": "2025-06-01T00:00:00Z",
        "status": "Active", "companyName": "Supplier", "companyIds": ["urn:pact:company:supplier"],
        "productDescription": "input", "productIds": ["urn:pact:product:input"], "productNameCompany": "input",
        "pcf": {"declaredUnitOfMeasurement": unit, "declaredUnitAmount": amount, "productMassPerDeclaredUnit": amount,
                "referencePeriodStart": "2024-01-01T00:00:00Z", "referencePeriodEnd": "2025-01-01T00:00:00Z",
                "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": pcf, "fossilGhgEmissions": pcf,
                "fossilCarbonContent": "0", "ipccCharacterizationFactors": ["AR6"],
                "crossSectoralStandards": ["ISO14067"], "exemptedEmissionsPercent": "0", "primaryDataShare": pds},
    }


@pytest.mark.parametrize("kg_per_piece", ["0.3", "0.6", "1.25"])
def test_supplier_footprint_inputs_scale_exactly(engine, write_model, tmp_path, kg_per_piece):
    (tmp_path / "steel.json").write_text(json.dumps(_supplier_document("2.5", amount="10")), encoding="utf-8")
    document = model_document(
        [{"id": "assembly", "outputs": [{"flow": "bracket", "amount": 1, "unit": "piece"}],
          "inputs": [{"supplier": "steel.json", "amount": kg_per_piece, "unit": "kg"}]}],
        [product("bracket", unit="piece", mass=kg_per_piece)],
    )
    [footprint] = engine.compute(load_model(write_model(document)))
    # 2.5 kgCO2e per declared unit of 10 kg -> 0.25 per kg
    assert close(footprint.pcf_excluding_biogenic_uptake, Decimal(kg_per_piece) * Decimal("0.25"))
    assert footprint.computed.provenance.upstream_footprint_ids == ("0f6b7f1e-1111-4c44-9a2a-3c0a4a2b5e10",)
    assert footprint.primary_data_share == Decimal(40)


def test_invalid_supplier_document_is_a_model_error_naming_the_file(engine, write_model, tmp_path):
    broken = _supplier_document("2.5")
    broken["pcf"]["fossilGhgEmissions"] = 2.5
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    document = model_document(
        [{"id": "p", "outputs": [{"flow": "x", "amount": 1, "unit": "kg"}],
          "inputs": [{"supplier": "broken.json", "amount": 2, "unit": "kg"}]}],
        [product("x")],
    )
    with pytest.raises(ModelError, match=r"broken.json.*/pcf/fossilGhgEmissions: must be a decimal"):
        engine.compute(load_model(write_model(document)))


def test_supplier_unit_mismatch_is_an_error(engine, write_model, tmp_path):
    (tmp_path / "power.json").write_text(json.dumps(_supplier_document("0.5", unit="kilowatt hour")), encoding="utf-8")
    document = model_document(
        [{"id": "p", "outputs": [{"flow": "x", "amount": 1, "unit": "kg"}],
          "inputs": [{"supplier": "power.json", "amount": 2, "unit": "kg"}]}],
        [product("x")],
    )
    with pytest.raises(ModelError, match="unit mismatch"):
        engine.compute(load_model(write_model(document)))


def test_offsets_are_disclosed_and_never_change_the_pcf(engine, write_model):
    base = single_process(emissions=[{"substance": "co2_fossil", "amount": 500, "unit": "kg"}])
    with_offsets = dict(base, offsets=[{"scheme": "CCER", "serial_range": "CCER-2025-000001-000400", "vintage": 2024,
                                        "tonnes": 400, "retired_on": "2025-12-20"}])
    [plain] = engine.compute(load_model(write_model(base, "plain.yaml")))
    [offset] = engine.compute(load_model(write_model(with_offsets, "offset.yaml")))
    assert offset.pcf_excluding_biogenic_uptake == plain.pcf_excluding_biogenic_uptake
    assert offset.pcf_including_biogenic_uptake == plain.pcf_including_biogenic_uptake
    assert [o.tonnes_co2e for o in offset.computed.offsets] == [Decimal(400)]


def test_packaging_is_flagged_and_reported(engine, write_model):
    document = single_process(inputs=[{"dataset": "packaging:corrugated_box", "amount": 20, "unit": "kg"},
                                      {"dataset": "material:steel_bf_bof", "amount": 1000, "unit": "kg"}])
    [footprint] = engine.compute(load_model(write_model(document)))
    assert footprint.packaging_emissions_included is True
    assert close(footprint.packaging_ghg_emissions, 20 * per_kg("packaging:corrugated_box") / 1000)


def test_biogenic_uptake_is_reported_apart(engine, write_model):
    document = single_process(emissions=[{"substance": "co2_fossil", "amount": 100, "unit": "kg"},
                                         {"substance": "co2_uptake", "amount": 300, "unit": "kg"},
                                         {"substance": "co2_biogenic", "amount": 50, "unit": "kg"}])
    [footprint] = engine.compute(load_model(write_model(document)))
    assert close(footprint.pcf_excluding_biogenic_uptake, Decimal("0.1"))
    assert close(footprint.biogenic_co2_uptake, Decimal("-0.3"))
    assert close(footprint.pcf_including_biogenic_uptake, Decimal("-0.2"))
    assert close(footprint.computed.biogenic_co2_emissions_kg, Decimal("0.05"))


def test_primary_share_and_dqr_are_weighted_by_contribution(engine, write_model):
    document = single_process(
        emissions=[{"substance": "co2_fossil", "amount": 300, "unit": "kg"}],  # primary, DQR 1
        inputs=[{"dataset": "material:steel_bf_bof", "amount": 1, "unit": "kg", "dqr":
                 {"technological": 3, "geographical": 5, "temporal": 2}}],
    )
    [footprint] = engine.compute(load_model(write_model(document)))
    steel = per_kg("material:steel_bf_bof")
    primary = Decimal(300) / (Decimal(300) + steel)
    assert close(footprint.primary_data_share, 100 * primary, 1e-3)
    assert close(footprint.dqi.geographical_dqr, primary * 1 + (1 - primary) * 5, 1e-3)


def test_cyclic_model_with_no_solution_is_an_error(engine, write_model):
    processes = [
        {"id": "a", "outputs": [{"flow": "x", "amount": 1, "unit": "kg"}], "inputs": [{"flow": "y", "amount": 1, "unit": "kg"}]},
        {"id": "b", "outputs": [{"flow": "y", "amount": 1, "unit": "kg"}], "inputs": [{"flow": "x", "amount": 1, "unit": "kg"}]},
    ]
    with pytest.raises(ModelError, match="no solution"):
        engine.compute(load_model(write_model(model_document(processes, [product("x")]))))


def test_loop_that_consumes_more_than_it_makes_is_an_error(engine, write_model):
    processes = [
        {"id": "a", "outputs": [{"flow": "x", "amount": 1, "unit": "kg"}], "inputs": [{"flow": "y", "amount": 2, "unit": "kg"}],
         "emissions": [{"substance": "co2_fossil", "amount": 1, "unit": "kg"}]},
        {"id": "b", "outputs": [{"flow": "y", "amount": 1, "unit": "kg"}], "inputs": [{"flow": "x", "amount": 1, "unit": "kg"}]},
    ]
    with pytest.raises(ModelError, match="no (physical )?solution"):
        engine.compute(load_model(write_model(model_document(processes, [product("x")]))))


def test_unchanged_model_reuses_databases_and_factorisation(engine, write_model):
    path = write_model(single_process(emissions=[{"substance": "sf6", "amount": 0.01, "unit": "kg"}]))
    [first] = engine.compute(load_model(path))
    bw, _ = engine._project()
    databases = set(bw.databases)
    cached = dict(engine._solved)
    [second] = engine.compute(load_model(path))
    assert set(bw.databases) == databases
    assert engine._solved == cached
    assert second.pcf_excluding_biogenic_uptake == first.pcf_excluding_biogenic_uptake
    assert close(first.computed.by_gas["SF6"], Decimal("0.01") * 25200 / 1000)
