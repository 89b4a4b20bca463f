"""Small inventories the tests write themselves, in EcoSpold2, SimaPro CSV and openLCA JSON-LD (olca-schema v2).

Nothing is downloaded: the files follow the minimal field sets bw2io 0.9.17 reads (EcoSpold2 v2 namespace,
SimaPro 9 CSV export, openLCA 2 JSON-LD zip). One system, three activities, in each format:

  A  electricity production   1 kWh   in: 0.1 kg steel (B)                  out: CO2 fossil 0.5, CH4 fossil 0.001
  B  steel production         1 kg    in: 2 kWh electricity (A) [loop A<->B], 0.2 kg diesel (C)
                                                                            out: CO2 fossil 1.5, N2O 0.0001
  C  refinery (multi-output)  1 kg diesel + 0.5 kg heavy fuel oil
                                      in: 0.3 kWh electricity (A)           out: CO2 fossil 0.2, CH4 fossil 0.002
     allocation factors: diesel 75 %, heavy fuel oil 25 %

Plus, in A, 0.003 kg "Sulfur dioxide" to air: a non-GHG elementary flow that our GHG biosphere cannot link
(shows up as unlinked until a strategy drops it).

Every writer takes the activities as an argument, so a test can break one thing (an input nobody makes, a
zero allocation share, a flow the mapping does not know) and see the import refuse it.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

NS = uuid.UUID("0b8e3f0e-6a3c-4c3e-9a57-2c3c1f0d9b11")


def uid(label: str) -> str:
    return str(uuid.uuid5(NS, label))


# ecoinvent 3.9 elementary-flow UUIDs (air/unspecified), from bw2io/data/lci/ecoinvent elementary flows 3.9.xml
EI_FLOWS = {
    "co2": ("349b29d1-3e58-4c66-98b9-9d1a076efd2e", "Carbon dioxide, fossil", "124-38-9"),
    "ch4": ("0795345f-c7ae-410c-ad25-1845784c75f5", "Methane, fossil", "74-82-8"),
    "n2o": ("20185046-64bb-4c09-a8e7-e8a9e144ca98", "Dinitrogen monoxide", "10024-97-2"),
    "so2": ("fd7aa71c-508c-480d-81a6-8052aad92646", "Sulfur dioxide", "7446-09-5"),
    # a GHG the mapping table has no flow for (gwp100.csv has no land-use CH4): an import must refuse it
    "ch4_luc": (str(uuid.uuid5(NS, "ch4 luc")), "Methane, from soil or biomass stock", "74-82-8"),
}

PRODUCTS = {  # key: (name, unit)
    "elec": ("electricity", "kWh"),
    "steel": ("steel", "kg"),
    "diesel": ("diesel", "kg"),
    "hfo": ("heavy fuel oil", "kg"),
    "stainless": ("stainless steel", "kg"),  # made by no activity: an input of it cannot be linked
}

ACTIVITIES = {
    "A": {
        "name": "electricity production",
        "outputs": [("elec", 1.0)],
        "inputs": [("steel", 0.1, "B")],
        "emissions": [("co2", 0.5), ("ch4", 0.001), ("so2", 0.003)],
    },
    "B": {
        "name": "steel production",
        "outputs": [("steel", 1.0)],
        "inputs": [("elec", 2.0, "A"), ("diesel", 0.2, "C")],
        "emissions": [("co2", 1.5), ("n2o", 0.0001)],
    },
    "C": {
        "name": "refinery operation",
        "outputs": [("diesel", 1.0), ("hfo", 0.5)],
        "allocation": {"diesel": 0.75, "hfo": 0.25},
        "inputs": [("elec", 0.3, "A")],
        "emissions": [("co2", 0.2), ("ch4", 0.002)],
    },
}


# ----------------------------------------------------------------------------------------------- EcoSpold2

SPOLD_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<ecoSpold xmlns="http://www.EcoInvent.org/EcoSpold02">
  <activityDataset>
    <activityDescription>
      <activity id="{act_id}" activityNameId="{name_id}" type="1" specialActivityType="0">
        <activityName xml:lang="en">{name}</activityName>
      </activity>
      <geography geographyId="{geo_id}">
        <shortname xml:lang="en">DE</shortname>
      </geography>
      <technology technologyLevel="3"/>
      <timePeriod startDate="2024-01-01" endDate="2024-12-31" isDataValidForEntirePeriod="true"/>
    </activityDescription>
    <flowData>
"""
SPOLD_TAIL = """    </flowData>
    <administrativeInformation>
      <dataEntryBy personId="{person}" personName="Fixture Writer" personEmail="fixtures@example.org"/>
      <dataGeneratorAndPublication personId="{person}" personName="Fixture Writer" personEmail="fixtures@example.org"/>
    </administrativeInformation>
  </activityDataset>
</ecoSpold>
"""


def _intermediate(product: str, amount: float, *, output_group: int | None = None, link: str | None = None) -> str:
    name, unit = PRODUCTS[product]
    link_attr = f' activityLinkId="{uid("act:" + link)}"' if link else ""
    group = f"<outputGroup>{output_group}</outputGroup>" if output_group is not None else "<inputGroup>5</inputGroup>"
    return (
        f'      <intermediateExchange id="{uid(f"exchange:{product}:{amount}:{output_group}:{link}")}" unitId="{uid("unit:" + unit)}" amount="{amount!r}" '
        f'intermediateExchangeId="{uid("product:" + product)}"{link_attr}>\n'
        f'        <name xml:lang="en">{escape(name)}</name>\n'
        f'        <unitName xml:lang="en">{unit}</unitName>\n'
        f"        {group}\n"
        f"      </intermediateExchange>\n"
    )


def _elementary(flow: str, amount: float) -> str:
    flow_id, name, _cas = EI_FLOWS[flow]
    return (
        f'      <elementaryExchange id="{uid(f"exchange:{flow}:{amount}")}" unitId="{uid("unit:kg")}" amount="{amount!r}" '
        f'elementaryExchangeId="{flow_id}">\n'
        f'        <name xml:lang="en">{escape(name)}</name>\n'
        f'        <unitName xml:lang="en">kg</unitName>\n'
        f'        <compartment subcompartmentId="7011f0aa-f5f9-4901-8c10-884ad8296812">\n'
        f'          <compartment xml:lang="en">air</compartment>\n'
        f'          <subcompartment xml:lang="en">unspecified</subcompartment>\n'
        f"        </compartment>\n"
        f"        <outputGroup>4</outputGroup>\n"
        f"      </elementaryExchange>\n"
    )


def write_ecospold2(datasets: Path, activities: dict = ACTIVITIES) -> Path:
    """One .spold per (activity, reference product), as ecoinvent's allocated system models ship them.

    The multi-output activity C becomes two allocated datasets sharing C's activity id, each with its own
    reference product (amount 1) and the other co-product listed at amount 0 (dropped by the importer).
    """
    datasets.mkdir(parents=True, exist_ok=True)
    for key, act in activities.items():
        products = act["outputs"]
        for ref, ref_amount in products:
            share = act.get("allocation", {}).get(ref, 1.0)
            scale = share / ref_amount  # inputs/emissions per 1 unit of the reference product
            body = _intermediate(ref, 1.0, output_group=0)
            body += "".join(_intermediate(other, 0.0, output_group=2) for other, _ in products if other != ref)
            body += "".join(_intermediate(p, a * scale, link=src) for p, a, src in act["inputs"])
            body += "".join(_elementary(f, a * scale) for f, a in act["emissions"])
            act_id = uid("act:" + key)
            text = SPOLD_HEAD.format(act_id=act_id, name_id=uid("name:" + key), name=escape(act["name"]),
                                     geo_id=uid("geo:DE")) + body + SPOLD_TAIL.format(person=uid("person"))
            (datasets / f"{act_id}_{uid('product:' + ref)}.spold").write_text(text, encoding="utf-8")
    return datasets


# ----------------------------------------------------------------------------------------------- SimaPro CSV

SP_HEADER = """{SimaPro 9.5.0.0}
{processes}
{Date: 2024-06-01}
{Time: 12:00:00}
{Project: pcf-fixture}
{CSV Format version: 9.0.0}
{CSV separator: Semicolon}
{Decimal separator: .}
{Date separator: -}
{Short date format: yyyy-MM-dd}
{Export platform IDs: No}
{Skip empty fields: No}
{Convert expressions to constants: No}
{Selection: Selection (3)}
{Related objects (system descriptions, substances, units, etc.): No}
{Include sub product stages and processes: No}
{Open project: 'pcf-fixture'}

"""

SP_META = [
    ("Category type", "material"), ("Process identifier", None), ("Type", "Unit process"),
    ("Process name", None), ("Status", ""), ("Time period", "Unspecified"), ("Geography", "Unspecified"),
    ("Technology", "Unspecified"), ("Representativeness", "Unspecified"),
    ("Multiple output allocation", "Unspecified"), ("Substitution allocation", "Unspecified"),
    ("Cut off rules", "Unspecified"), ("Capital goods", "Unspecified"), ("Boundary with nature", "Unspecified"),
    ("Infrastructure", "No"), ("Date", "2024-06-01"), ("Record", ""), ("Generator", ""),
    ("External documents", ""), ("Literature references", ""), ("Collection method", ""),
    ("Data treatment", ""), ("Verification", ""), ("Comment", ""), ("Allocation rules", ""),
    ("System description", ""),
]


def _sp_num(value: float, decimal: str) -> str:
    text = repr(float(value))
    return text.replace(".", ",") if decimal == "," else text


def simapro_text(activities: dict = ACTIVITIES, decimal: str = ".") -> str:
    lines = [SP_HEADER.replace("{Decimal separator: .}", "{Decimal separator: %s}" % decimal).rstrip("\n"), ""]
    for key, act in activities.items():
        lines += ["Process", ""]
        for field, value in SP_META:
            if field == "Process identifier":
                value = f"PCFFIX{key}000001"
            elif field == "Process name":
                value = act["name"]
            lines += [field, value, ""]
        lines.append("Products")
        allocation = act.get("allocation", {})
        for product, amount in act["outputs"]:
            name, unit = PRODUCTS[product]
            share = _sp_num(100 * allocation.get(product, 1.0), decimal)
            # name; unit; amount; allocation %; waste type; category; comment
            lines.append(f"{name};{unit};{_sp_num(amount, decimal)};{share};not defined;Fixtures\\{act['name']};")
        lines.append("")
        tech = {"Materials/fuels": [], "Electricity/heat": []}
        for product, amount, _src in act["inputs"]:
            name, unit = PRODUCTS[product]
            section = "Electricity/heat" if product == "elec" else "Materials/fuels"
            # name; unit; amount; distribution; SD2/95; min; max; comment
            tech[section].append(f"{name};{unit};{_sp_num(amount, decimal)};Undefined;0;0;0;")
        lines += ["Avoided products", "", "Resources", ""]
        for section in ("Materials/fuels", "Electricity/heat"):
            lines += [section, *tech[section], ""]
        lines.append("Emissions to air")
        for flow, amount in act["emissions"]:
            # name; sub-compartment; unit; amount; distribution; SD2/95; min; max; comment
            lines.append(f"{EI_FLOWS[flow][1]};;kg;{_sp_num(amount, decimal)};Undefined;0;0;0;")
        lines.append("")
        for section in ("Emissions to water", "Emissions to soil", "Final waste flows", "Non material emissions",
                        "Social issues", "Economic issues", "Waste to treatment"):
            lines += [section, ""]
        lines += ["End", ""]
    return "\n".join(lines) + "\n"


def write_simapro(path: Path, activities: dict = ACTIVITIES, decimal: str = ".", encoding: str = "cp1252") -> Path:
    path.write_text(simapro_text(activities, decimal), encoding=encoding)
    return path


# ----------------------------------------------------------------------------------------------- openLCA JSON-LD

UNIT_GROUPS = {  # unit group -> (flow property name, [(unit, factor, is_ref)])
    "mass": ("Mass", [("kg", 1.0, True), ("t", 1000.0, False)]),
    "energy": ("Energy", [("MJ", 1.0, True), ("kWh", 3.6, False)]),
}
UNIT_OF = {"kg": "mass", "kWh": "energy", "t": "mass", "MJ": "energy"}


def _ref(kind: str, ident: str, name: str, **extra) -> dict:
    return {"@type": kind, "@id": ident, "name": name, **extra}


def jsonld_documents(activities: dict = ACTIVITIES, *, v1_keys: bool = False) -> dict[str, dict]:
    """Path in the zip -> JSON document, in olca-schema v2 layout (openLCA 2.x export).

    `v1_keys` also writes the olca-schema v1 exchange keys (`input`, `avoidedProduct`, `quantitativeReference`)
    that bw2io's allocation strategy still reads.
    """
    docs: dict[str, dict] = {}
    unit_ids = {}
    for group, (prop, units) in UNIT_GROUPS.items():
        group_id, prop_id = uid("ug:" + group), uid("fp:" + group)
        docs[f"unit_groups/{group_id}.json"] = {
            "@type": "UnitGroup", "@id": group_id, "name": f"Units of {prop.lower()}", "version": "01.00.000",
            "defaultFlowProperty": _ref("FlowProperty", prop_id, prop),
            "units": [{"@type": "Unit", "@id": uid("unit:" + u), "name": u, "conversionFactor": f,
                       "isRefUnit": r} for u, f, r in units],
        }
        docs[f"flow_properties/{prop_id}.json"] = {
            "@type": "FlowProperty", "@id": prop_id, "name": prop, "version": "01.00.000",
            "flowPropertyType": "PHYSICAL_QUANTITY", "unitGroup": _ref("UnitGroup", group_id, f"Units of {prop.lower()}"),
        }
        for u, _f, _r in units:
            unit_ids[u] = uid("unit:" + u)
    loc_id = uid("loc:DE")
    docs[f"locations/{loc_id}.json"] = {"@type": "Location", "@id": loc_id, "name": "Germany", "code": "DE",
                                        "version": "01.00.000"}

    def flow_doc(ident, name, flow_type, unit, category, cas=None):
        group = UNIT_OF[unit]
        prop = UNIT_GROUPS[group][0]
        ref_unit = next(u for u, _f, r in UNIT_GROUPS[group][1] if r)
        doc = {"@type": "Flow", "@id": ident, "name": name, "flowType": flow_type, "category": category,
               "version": "01.00.000",
               "flowProperties": [{"@type": "FlowPropertyFactor", "isRefFlowProperty": True, "conversionFactor": 1.0,
                                   "flowProperty": _ref("FlowProperty", uid("fp:" + group), prop)}]}
        if cas:
            doc["cas"] = cas
        docs[f"flows/{ident}.json"] = doc
        return doc, ref_unit, prop, group

    flows = {}
    for key, (name, unit) in PRODUCTS.items():
        flows[key] = flow_doc(uid("product:" + key), name, "PRODUCT_FLOW", unit, "Technosphere flows/Fixtures")
    for key, (ident, name, cas) in EI_FLOWS.items():
        flows[key] = flow_doc(ident, name, "ELEMENTARY_FLOW", "kg", "Elementary flows/Emission to air/unspecified", cas)

    def exchange(internal_id, flow_key, amount, unit, *, is_input, qref=False, provider=None):
        doc, ref_unit, prop, group = flows[flow_key]
        exc = {"@type": "Exchange", "internalId": internal_id, "amount": amount, "isInput": is_input,
               "flow": {"@type": "Flow", "@id": doc["@id"], "name": doc["name"], "category": doc["category"],
                        "flowType": doc["flowType"], "refUnit": ref_unit},
               "unit": {"@type": "Unit", "@id": unit_ids[unit], "name": unit},
               "flowProperty": _ref("FlowProperty", uid("fp:" + group), prop)}
        if qref:
            exc["isQuantitativeReference"] = True
        if provider:
            exc["defaultProvider"] = _ref("Process", uid("act:" + provider), activities[provider]["name"],
                                          processType="UNIT_PROCESS", location="DE")
        if v1_keys:
            exc["input"] = is_input
            exc["avoidedProduct"] = False
            if qref:
                exc["quantitativeReference"] = True
        return exc

    for key, act in activities.items():
        excs, n = [], 0
        for i, (product, amount) in enumerate(act["outputs"]):
            n += 1
            excs.append(exchange(n, product, amount, PRODUCTS[product][1], is_input=False, qref=i == 0))
        for product, amount, src in act["inputs"]:
            n += 1
            excs.append(exchange(n, product, amount, PRODUCTS[product][1], is_input=True, provider=src))
        for flow, amount in act["emissions"]:
            n += 1
            excs.append(exchange(n, flow, amount, "kg", is_input=False))
        ident = uid("act:" + key)
        doc = {"@type": "Process", "@id": ident, "name": act["name"], "version": "01.00.000",
               "category": "Fixtures", "processType": "UNIT_PROCESS",
               "location": _ref("Location", loc_id, "Germany"),
               "defaultAllocationMethod": "PHYSICAL_ALLOCATION", "lastInternalId": n, "exchanges": excs}
        if "allocation" in act:
            doc["allocationFactors"] = [
                {"@type": "AllocationFactor", "allocationType": kind,
                 "product": _ref("Flow", flows[p][0]["@id"], flows[p][0]["name"]), "value": share}
                for kind in ("PHYSICAL_ALLOCATION", "ECONOMIC_ALLOCATION")
                for p, share in act["allocation"].items()
            ]
        docs[f"processes/{ident}.json"] = doc
    return docs


def write_jsonld(path: Path, activities: dict = ACTIVITIES, *, v1_keys: bool = False,
                 top_folder: str = "") -> Path:
    """An openLCA 2 JSON-LD zip (optionally with everything inside one top-level folder, as some exports are)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(top_folder + "olca-schema.json", json.dumps({"version": 2}))
        for name, document in sorted(jsonld_documents(activities, v1_keys=v1_keys).items()):
            archive.writestr(top_folder + name, json.dumps(document, indent=2))
    return path
