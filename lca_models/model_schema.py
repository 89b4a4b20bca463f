"""Load and validate a product model file (YAML or JSON) into `lca_models.model.ProductModel`.

Two kinds of check, reported together: marshmallow checks each field (types, ranges, enumerations, units; an
unknown field with the closest known names) and reports every problem with its path
(`processes[2].inputs[0].amount: must be > 0`); then the whole-model checks (references resolve, one producer per
flow, units of linked flows agree, instruments do not exceed consumption) run on every part that did parse, the
items with a schema problem left out. `ModelErrors` lists all problems of both kinds at once, never a traceback,
so a user fixes a model in one round. The format is documented in docs/model-format.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from . import background, units
from .cbam_installation import GOODS_CATEGORIES, PRODUCT_PARAMETERS, PRODUCTION_ROUTES, parameter_problems
from .errors import ModelError, ModelErrors, UnitError, did_you_mean, validation_errors
from .factor_library import UserFactor, load_library
from .gwp import GWP_SETS, elementary_flows
from .i18n import N_
from .i18n import gettext as _
from .model import (
    ALLOCATION_METHODS,
    ActivityRef,
    DATA_SOURCES,
    DEFAULT_DQR,
    DISTRIBUTIONS,
    EMISSION_CATEGORIES,
    FUEL_CATEGORIES,
    INSTRUMENT_TYPES,
    Boundary,
    CbamMarker,
    CbamPrecursor,
    Dqr,
    Electricity,
    Emission,
    Exclusion,
    Fuel,
    Input,
    Instrument,
    Offset,
    Output,
    Process,
    Product,
    ProductModel,
    Quality,
    Uncertainty,
)
from .strict_json import loads as strict_loads

_POSITIVE = validate.Range(min=0, min_inclusive=False, error=N_("must be > 0"))
_NON_NEGATIVE = validate.Range(min=0, error=N_("must be >= 0"))
_DQR = validate.Range(min=1, max=5, error=N_("must be between 1 and 5"))
_ID = validate.Regexp(r"^[A-Za-z0-9_.\-]+$", error=N_("use letters, digits, '_', '-' or '.' only"))
_URN = validate.Regexp(r"^[uU][rR][nN]:[^\s]+$", error=N_("must be a URN (urn:...)"))  # PACT v3 `Urn`
ORIGINS = ("flow", "dataset", "supplier", "activity", "factor")  # where an input comes from: exactly one


def _known_unit(value: str) -> None:
    try:
        units.unit(value)
    except UnitError as exc:
        raise ValidationError(str(exc)) from None


def _unit_of(dimension: str):
    def check(value: str) -> None:
        _known_unit(value)
        if units.dimension(value) != dimension:
            raise ValidationError(_("unit mismatch: {unit} is not a unit of {dimension}").format(unit=value, dimension=dimension))

    return check


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DqrSchema(_Strict):
    technological = fields.Decimal(required=True, validate=_DQR)
    geographical = fields.Decimal(required=True, validate=_DQR)
    temporal = fields.Decimal(required=True, validate=_DQR)


class UncertaintySchema(_Strict):
    """A distribution of the line's amount: lognormal (gsd), normal (sd), uniform or triangular (min, max; mode = amount).

    sd, min and max are in the line's own unit; the resolver checks them against the amount.
    """

    distribution = fields.String(required=True, validate=validate.OneOf(list(DISTRIBUTIONS)))
    gsd = fields.Decimal(validate=validate.Range(min=1, min_inclusive=False, error=N_("a geometric standard deviation is > 1")))
    sd = fields.Decimal(validate=_POSITIVE)
    min = fields.Decimal(validate=_NON_NEGATIVE)
    max = fields.Decimal(validate=_POSITIVE)

    @validates_schema
    def _parameters(self, data: dict, **kwargs: Any) -> None:
        needs = {"lognormal": ("gsd",), "normal": ("sd",), "uniform": ("min", "max"), "triangular": ("min", "max")}
        wanted = needs[data["distribution"]]
        for name in wanted:
            if name not in data:
                raise ValidationError(_("a {distribution} distribution needs {parameters}").format(
                    distribution=data["distribution"], parameters=" and ".join(wanted)), name)
        for name in ("gsd", "sd", "min", "max"):
            if name in data and name not in wanted:
                raise ValidationError(_("not a parameter of a {distribution} distribution (give {parameters})").format(
                    distribution=data["distribution"], parameters=" and ".join(wanted)), name)


class _Quantity(_Strict):
    amount = fields.Decimal(required=True, validate=_POSITIVE)
    unit = fields.String(required=True, validate=_known_unit)
    source = fields.String(validate=validate.OneOf(DATA_SOURCES))
    dqr = fields.Nested(DqrSchema)
    meter = fields.String(validate=_ID)  # the meter whose readings give this amount (pcf factory meters)
    uncertainty = fields.Nested(UncertaintySchema)


class CbamPrecursorSchema(_Strict):
    """A purchased CBAM good: its default value is looked up by CN code and country, unless its SEE is given."""

    cn_code = fields.String(required=True, validate=validate.Regexp(r"^\d{8}$", error=N_("a CN code has 8 digits")))
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error=N_("ISO 3166-1 alpha-2, e.g. CN")))
    see_direct = fields.Decimal(validate=_NON_NEGATIVE)  # tCO2e/t, as the producer communicated it
    see_indirect = fields.Decimal(validate=_NON_NEGATIVE)

    @validates_schema
    def _direct_with_indirect(self, data: dict, **kwargs: Any) -> None:
        if "see_indirect" in data and "see_direct" not in data:
            raise ValidationError(_("see_indirect needs see_direct (without both, the default value is used)"),
                                  "see_indirect")


class ActivitySchema(_Strict):
    """An activity of a database imported with `pcf data import`: resolved (with did-you-mean) by the engine."""

    database = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1))
    reference_product = fields.String()
    location = fields.String()
    unit = fields.String()


class InputSchema(_Quantity):
    flow = fields.String()
    dataset = fields.String()
    supplier = fields.String()
    activity = fields.Nested(ActivitySchema)  # an imported database's activity
    factor = fields.String()  # a factor id of one of the model's factor_libraries
    packaging = fields.Boolean(load_default=False)
    label = fields.String()
    cbam_precursor = fields.Nested(CbamPrecursorSchema)
    # a purchased input that is a CBAM good but no precursor of the installation's goods: the reason, in words
    cbam_out_of_scope = fields.String(validate=validate.Length(min=1, error="give the reason"))

    @validates_schema
    def _one_origin(self, data: dict, **kwargs: Any) -> None:
        given = [k for k in ORIGINS if k in data]
        if len(given) != 1:
            raise ValidationError(_("give exactly one of {origins} or {last}").format(
                origins=", ".join(ORIGINS[:-1]), last=ORIGINS[-1]), "_schema")

    @validates_schema
    def _precursor_or_out_of_scope(self, data: dict, **kwargs: Any) -> None:
        if "cbam_precursor" in data and "cbam_out_of_scope" in data:
            raise ValidationError("an input is either a CBAM precursor or out of scope, not both", "cbam_out_of_scope")


class TransportSchema(_Quantity):
    mode = fields.String(required=True)
    label = fields.String()
    unit = fields.String(required=True, validate=_unit_of("transport"))


class WasteSchema(_Quantity):
    dataset = fields.String(required=True)
    label = fields.String()


class InstrumentSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(INSTRUMENT_TYPES))
    amount = fields.Decimal(required=True, validate=_POSITIVE)
    unit = fields.String(required=True, validate=_unit_of("energy"))
    scheme = fields.String()


class ElectricitySchema(_Quantity):
    grid = fields.String(required=True)
    unit = fields.String(required=True, validate=_unit_of("energy"))
    instruments = fields.List(fields.Nested(InstrumentSchema), load_default=list)


class FuelPropertiesSchema(_Strict):
    """Measured properties of the fuel burnt, overriding the IPCC defaults (CO2 = amount x NCV x C x oxidation x 44/12)."""

    ncv_gj_per_t = fields.Decimal(validate=_POSITIVE)  # net calorific value, GJ per tonne
    carbon_kg_per_gj = fields.Decimal(validate=validate.Range(
        min=1, max=100, error=N_("carbon content is kg C per GJ NCV, between 1 and 100 (IPCC 2006 Vol. 2 Table 1.3: ~15 for natural "
                 "gas, ~26 for coal, ~71 for blast furnace gas); t C/TJ is the same number")))
    oxidation = fields.Decimal(validate=validate.Range(min=0, max=1, min_inclusive=False,
                                                       error=N_("the oxidation factor is a fraction: > 0 and <= 1")))


class FuelSchema(_Quantity):
    fuel = fields.String(required=True)
    category = fields.String(load_default="stationary", validate=validate.OneOf(FUEL_CATEGORIES))
    properties = fields.Nested(FuelPropertiesSchema)


class EmissionSchema(_Quantity):
    substance = fields.String(required=True)
    unit = fields.String(required=True, validate=_unit_of("mass"))
    category = fields.String(load_default="process", validate=validate.OneOf(EMISSION_CATEGORIES))


class SubstitutionSchema(_Strict):
    dataset = fields.String(required=True)
    ratio = fields.Decimal(load_default=Decimal(1), validate=_POSITIVE)


class OutputSchema(_Strict):
    flow = fields.String(required=True, validate=_ID)
    amount = fields.Decimal(required=True, validate=_POSITIVE)
    unit = fields.String(required=True, validate=_known_unit)
    mass_kg = fields.Decimal(validate=_POSITIVE)
    price = fields.Decimal(validate=_NON_NEGATIVE)
    physical = fields.Decimal(validate=_NON_NEGATIVE)
    substitutes = fields.Nested(SubstitutionSchema)


class CbamSchema(_Strict):
    """Marks a CBAM production process; goods category and route are checked with did-you-mean by the resolver."""

    goods_category = fields.String(required=True)
    route = fields.String()  # required when the category has several routes
    output = fields.String()  # the good; default the process's first output


class AllocationSchema(_Strict):
    method = fields.String(required=True, validate=validate.OneOf(ALLOCATION_METHODS))
    property = fields.String()  # name of the physical property, for documentation


class ProcessSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    name = fields.String()
    outputs = fields.List(fields.Nested(OutputSchema), required=True, validate=validate.Length(min=1))
    allocation = fields.Nested(AllocationSchema)
    inputs = fields.List(fields.Nested(InputSchema), load_default=list)
    transport = fields.List(fields.Nested(TransportSchema), load_default=list)
    waste = fields.List(fields.Nested(WasteSchema), load_default=list)
    electricity = fields.List(fields.Nested(ElectricitySchema), load_default=list)
    fuels = fields.List(fields.Nested(FuelSchema), load_default=list)
    emissions = fields.List(fields.Nested(EmissionSchema), load_default=list)
    cbam = fields.Nested(CbamSchema)


class ProductSchema(_Strict):
    flow = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1))
    description = fields.String(load_default="")
    ids = fields.List(fields.String(validate=_URN), required=True, validate=validate.Length(min=1))
    declared_unit = fields.String(required=True, validate=validate.OneOf(list(units.PACT_DECLARED_UNITS)))
    declared_unit_amount = fields.Decimal(load_default=Decimal(1), validate=_POSITIVE)
    mass_per_declared_unit = fields.Decimal(required=True, validate=_NON_NEGATIVE)  # kg, PACT v3
    cn_code = fields.String(validate=validate.Regexp(r"^\d{8}$", error=N_("CN code must be 8 digits")))
    classifications = fields.List(fields.String(validate=_URN), load_default=list)
    fossil_carbon_content = fields.Decimal(load_default=Decimal(0), validate=_NON_NEGATIVE)  # kg C / declared unit
    biogenic_carbon_content = fields.Decimal(validate=_NON_NEGATIVE)  # kg C / declared unit
    # CBAM qualitative parameters of the good (the template's Summary_Products P-AK), e.g. {carbon_share: 0.0035}
    cbam_parameters = fields.Dict(keys=fields.String(validate=validate.OneOf(PRODUCT_PARAMETERS)), values=fields.Raw())

    @validates_schema
    def _cbam_parameters(self, data: dict, **kwargs: Any) -> None:
        problems = parameter_problems(data.get("cbam_parameters", {}))
        if problems:
            raise ValidationError(problems, "cbam_parameters")


class CompanySchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    ids = fields.List(fields.String(validate=_URN), required=True, validate=validate.Length(min=1))


class PeriodSchema(_Strict):
    start = fields.Date(required=True)
    end = fields.Date(required=True)

    @validates_schema
    def _ordered(self, data: dict, **kwargs: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError(_("end must be after start"), "end")


class GeographySchema(_Strict):
    country = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error=N_("ISO 3166-1 alpha-2, e.g. CN")))
    subdivision = fields.String(
        validate=validate.Regexp(r"^[A-Z]{2}-[A-Z0-9]{1,3}$", error=N_("ISO 3166-2, e.g. CN-HE"))
    )


class OffsetSchema(_Strict):
    scheme = fields.String(required=True)
    serial_range = fields.String(required=True)
    vintage = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    tonnes = fields.Decimal(required=True, validate=_POSITIVE)
    retired_on = fields.Date(required=True)


class BoundarySchema(_Strict):
    energy_upstream = fields.Boolean(load_default=True)


class ExclusionSchema(_Strict):
    """A declared cut-off (PACT exemptedEmissionsPercent and exemptedEmissionsDescription)."""

    what = fields.String(required=True, validate=validate.Length(min=1))
    why = fields.String(required=True, validate=validate.Length(min=1))
    share = fields.Decimal(required=True, validate=validate.Range(min=0, max=100, error=N_("a share of the PCF in %, 0 to 100")))
    products = fields.List(fields.String(), load_default=list)


class CbamInstallationSchema(_Strict):
    """The installation's identity in the CBAM communication template (A_InstData section 2), docs/model-format.md."""

    name = fields.String(validate=validate.Length(min=1))  # English name; default: the company's name
    local_name = fields.String()
    street = fields.String()
    economic_activity = fields.String()
    post_code = fields.String()
    po_box = fields.String()
    city = fields.String()
    unlocode = fields.String(validate=validate.Regexp(r"^[A-Z]{2} ?[A-Z2-9]{3}$",
                                                      error="UN/LOCODE: country code and 3 letters, e.g. 'CN HAY'"))
    latitude = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False)  # main emission source
    longitude = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)
    representative = fields.String()  # name of the authorised representative
    email = fields.Email()
    telephone = fields.String()


class ModelSchema(_Strict):
    company = fields.Nested(CompanySchema, required=True)
    reference_period = fields.Nested(PeriodSchema, required=True)
    geography = fields.Nested(GeographySchema, load_default=dict)
    gwp = fields.String(load_default="AR6", validate=validate.OneOf(GWP_SETS + tuple(s.lower() for s in GWP_SETS)))
    cross_sectoral_standards = fields.List(fields.String(), validate=validate.Length(min=1))
    boundary_description = fields.String()
    comment = fields.String()
    products = fields.List(fields.Nested(ProductSchema), required=True, validate=validate.Length(min=1))
    processes = fields.List(fields.Nested(ProcessSchema), required=True, validate=validate.Length(min=1))
    offsets = fields.List(fields.Nested(OffsetSchema), load_default=list)
    boundary = fields.Nested(BoundarySchema, load_default=dict)
    exclusions = fields.List(fields.Nested(ExclusionSchema), load_default=list)
    factor_libraries = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    cbam_installation = fields.Nested(CbamInstallationSchema, load_default=dict)


def _read_document(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(_("cannot read file: {reason}").format(reason=exc.strerror or exc), file=str(path)) from None
    except UnicodeDecodeError:
        raise ModelError(_("not a UTF-8 text file"), file=str(path)) from None
    try:
        document = strict_loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: JSON syntax, duplicate keys, NaN
        raise ModelError(_("not valid {format}: {reason}").format(
            format="JSON" if path.suffix.lower() == ".json" else "YAML", reason=exc), file=str(path)) from None
    if not isinstance(document, dict):
        raise ModelError(_("the model must be a mapping (company, reference_period, products, processes)"), file=str(path))
    return document


def _digest(document: dict, supplier_files: list[Path]) -> str:
    h = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode("utf-8"))
    for supplier in sorted(supplier_files):
        if supplier.is_file():
            h.update(supplier.read_bytes())
    return h.hexdigest()


def load_model(path: str | Path) -> ProductModel:
    """Read, validate and resolve a product model file; `ModelErrors` lists every problem found."""
    path = Path(path)
    document = _read_document(path)
    try:
        data = ModelSchema().load(document)
    except ValidationError as exc:
        errors = validation_errors(exc.messages, str(path), ModelSchema).errors
        checkable = _checkable_part(document, exc.messages)
        if checkable is not None:
            resolver = _Resolver(checkable, path, document)
            resolver.resolve()
            errors += resolver.errors
        raise ModelErrors(errors) from None
    return _Resolver(data, path, document).build()


_REQUIRED_SECTIONS = ("company", "reference_period", "products", "processes")
_NON_EMPTY = ("products", "processes", "outputs", "ids")  # lists the schema requires at least one item in


def _error_paths(messages: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(messages, dict):
        found = []
        for key, value in messages.items():
            found += _error_paths(value, prefix if key == "_schema" else (*prefix, key))
        return found
    return [prefix]


def _node(document: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(document, dict):
            document = document.get(key)
        elif isinstance(document, list) and isinstance(key, int) and key < len(document):
            document = document[key]
        else:
            return None
    return document


def _checkable_part(document: dict, messages: dict) -> dict | None:
    """The model without the items that have a schema problem, loaded, with None where each item was (so paths
    keep their indices): the reference checks then run on everything that did parse. An item is the innermost list
    element holding a problem (an input, a process, a product); a problem outside any list drops its top-level
    section. None when even that does not load."""
    removed: dict[tuple, set[int]] = {}
    dropped: set[str] = set()
    for path in _error_paths(messages):
        indices = [n for n, key in enumerate(path) if isinstance(key, int)]
        if indices:
            removed.setdefault(path[:indices[-1]], set()).add(path[indices[-1]])
        elif path:
            dropped.add(str(path[0]))

    def inside_removed(list_path: tuple) -> bool:
        return list_path[0] in dropped or any(
            isinstance(key, int) and key in removed.get(list_path[:n], ()) for n, key in enumerate(list_path))

    for list_path in sorted(removed, key=len, reverse=True):  # a list that must not be empty, emptied: its item goes
        items = _node(document, list_path)
        if list_path[-1] in _NON_EMPTY and isinstance(items, list) and len(removed[list_path]) >= len(items):
            del removed[list_path]
            outer = [n for n, key in enumerate(list_path) if isinstance(key, int)]
            if outer:
                removed.setdefault(list_path[:outer[-1]], set()).add(list_path[outer[-1]])
            else:
                dropped.add(str(list_path[0]))
    removed = {list_path: found for list_path, found in removed.items() if not inside_removed(list_path)}
    pruned = copy.deepcopy(document)
    for section in dropped:
        pruned.pop(section, None)
    for list_path in sorted(removed, key=len, reverse=True):  # inner lists first: outer indices still hold
        items = _node(pruned, list_path)
        if isinstance(items, list):
            items[:] = [item for n, item in enumerate(items) if n not in removed[list_path]]
    try:
        data = ModelSchema().load(pruned, partial=tuple(s for s in _REQUIRED_SECTIONS if s in dropped))
    except ValidationError:
        return None
    for list_path in sorted(removed, key=len):  # outer lists first: inner paths then use the file's indices
        items = _node(data, list_path)
        if isinstance(items, list):
            for n in sorted(removed[list_path]):
                items.insert(n, None)
    return data


def _present(items: list | None) -> list[tuple[int, Any]]:
    """(index, item) of a list, skipping the items left out for a schema problem (None)."""
    return [(n, item) for n, item in enumerate(items or []) if item is not None]


def _at(utc_date: date) -> datetime:
    return datetime(utc_date.year, utc_date.month, utc_date.day, tzinfo=timezone.utc)


class _Resolver:
    """Whole-model checks and conversion of validated dicts into the frozen model types."""

    def __init__(self, data: dict, path: Path, document: dict) -> None:
        self.data, self.path, self.document = data, path, document
        self.errors: list[ModelError] = []
        self.datasets = background.catalogue()
        self.fuels = background.fuel_properties()
        self.flows = elementary_flows()
        self.supplier_files: list[Path] = []
        self.output_units: dict[str, str] = {}
        self.meters: dict[str, str] = {}  # meter id -> where it is first used
        self.factors: dict[str, UserFactor] = {}  # user factors of the model's factor_libraries, by id
        # flows and products named in the file, parsed or not: a reference to an item left out for a schema
        # problem is not reported as missing as well
        raw_processes = document.get("processes") if isinstance(document.get("processes"), list) else []
        self.known_flows = {o.get("flow") for p in raw_processes if isinstance(p, dict)
                            for o in (p.get("outputs") if isinstance(p.get("outputs"), list) else [])
                            if isinstance(o, dict) and isinstance(o.get("flow"), str)}
        raw_products = document.get("products") if isinstance(document.get("products"), list) else []
        self.known_products = {p.get("flow") for p in raw_products if isinstance(p, dict) and isinstance(p.get("flow"), str)}

    def fail(self, where: str, reason: str) -> None:
        self.errors.append(ModelError(reason, where, str(self.path)))

    def meter(self, where: str, item: dict) -> str | None:
        """A meter feeds one activity line: the same id on two lines would count its readings twice."""
        meter_id = item.get("meter")
        if meter_id is not None:
            if meter_id in self.meters:
                self.fail(f"{where}.meter", _("meter {meter!r} already feeds {line}").format(meter=meter_id, line=self.meters[meter_id]))
            self.meters.setdefault(meter_id, where)
        return meter_id

    def quality(self, item: dict, default_source: str, where: str = "") -> Quality:
        source = item.get("source", default_source)
        dqr = item.get("dqr")
        uncertainty = self.uncertainty(f"{where}.uncertainty", item) if "uncertainty" in item else None
        return Quality(source, Dqr(**dqr) if dqr else DEFAULT_DQR[source], dqr is not None, uncertainty)

    def uncertainty(self, where: str, item: dict) -> Uncertainty | None:
        """The line's distribution relative to its amount; sd, min and max are in the line's unit."""
        u, amount = item["uncertainty"], item["amount"]
        distribution = u["distribution"]
        if distribution in ("uniform", "triangular"):
            low, high = u["min"], u["max"]
            if not low <= amount <= high or low == high:
                self.fail(where, _("{distribution}: min ({low}) <= amount ({amount}) <= max ({high}) and min < max").format(
                    distribution=distribution, low=low, amount=amount, high=high))
                return None
            return Uncertainty(distribution, relative_min=low / amount, relative_max=high / amount)
        if distribution == "normal":
            return Uncertainty(distribution, relative_sd=u["sd"] / amount)
        return Uncertainty(distribution, gsd=u["gsd"])

    def dataset(self, where: str, dataset_id: str) -> bool:
        if dataset_id in self.datasets:
            return True
        self.fail(where, _("unknown dataset {dataset!r}").format(dataset=dataset_id) + did_you_mean(dataset_id, self.datasets))
        return False

    def convert(self, where: str, amount: Decimal, unit: str, target: str) -> Decimal:
        try:
            return units.convert(amount, unit, target)
        except UnitError as exc:
            self.fail(where, str(exc))
            return amount

    def resolve(self) -> tuple[tuple[Process, ...], tuple[Product, ...], tuple[Exclusion, ...]]:
        """The whole-model checks over every item present (problems collected in `errors`), and the resolved
        processes, products and exclusions."""
        d = self.data
        self._index_outputs()
        self._load_factor_libraries(d["factor_libraries"])
        processes = tuple(self._process(i, p) for i, p in _present(d.get("processes")))
        products = tuple(self._product(i, p) for i, p in _present(d.get("products")))
        self._check_offsets(d["offsets"])
        exclusions = self._exclusions(d["exclusions"], products)
        return processes, products, exclusions

    def build(self) -> ProductModel:
        d = self.data
        processes, products, exclusions = self.resolve()
        if self.errors:
            raise ModelErrors(self.errors)
        geography = d["geography"]
        return ProductModel(
            source_path=self.path.resolve(),
            digest=_digest(self.document, self.supplier_files),
            company_name=d["company"]["name"],
            company_ids=tuple(d["company"]["ids"]),
            reference_period_start=_at(d["reference_period"]["start"]),
            reference_period_end=_at(d["reference_period"]["end"]),
            geography_country=geography.get("country"),
            geography_subdivision=geography.get("subdivision"),
            products=products,
            processes=processes,
            offsets=tuple(
                Offset(o["scheme"], o["serial_range"], o["vintage"], o["tonnes"], o["retired_on"].isoformat())
                for o in d["offsets"]
            ),
            gwp=d["gwp"].upper(),
            cross_sectoral_standards=tuple(d.get("cross_sectoral_standards") or ("ISO14067", "GHGP-Product", "PACT-3.0")),
            boundary_description=d.get("boundary_description"),
            comment=d.get("comment"),
            boundary=Boundary(**d["boundary"]),
            exclusions=exclusions,
            cbam_installation=dict(d["cbam_installation"]),
        )

    def _index_outputs(self) -> None:
        seen_ids: set[str] = set()
        for i, process in _present(self.data.get("processes")):
            if process["id"] in seen_ids:
                self.fail(f"processes[{i}].id", _("duplicate process id {id!r}").format(id=process["id"]))
            seen_ids.add(process["id"])
            for j, output in _present(process["outputs"]):
                if output["flow"] in self.output_units:
                    self.fail(f"processes[{i}].outputs[{j}].flow",
                              _("flow {flow!r} is produced by two processes").format(flow=output["flow"]))
                self.output_units[output["flow"]] = output["unit"]

    def _process(self, i: int, p: dict) -> Process:
        where = f"processes[{i}]"
        outputs = tuple(self._outputs(where, p))
        inputs = [self._input(f"{where}.inputs[{j}]", item) for j, item in _present(p["inputs"])]
        for j, item in _present(p["transport"]):
            dataset_id = f"transport:{item['mode']}"
            self.dataset(f"{where}.transport[{j}].mode", dataset_id)
            inputs.append(self._dataset_input(f"{where}.transport[{j}]", dataset_id, item, "secondary"))
        for j, item in _present(p["waste"]):
            self.dataset(f"{where}.waste[{j}].dataset", item["dataset"])
            inputs.append(self._dataset_input(f"{where}.waste[{j}]", item["dataset"], item, "secondary"))
        return Process(
            id=p["id"],
            name=p.get("name", p["id"]),
            outputs=outputs,
            allocation=p["allocation"]["method"] if p.get("allocation") else None,
            inputs=tuple(inputs),
            electricity=tuple(self._electricity(f"{where}.electricity[{j}]", e) for j, e in _present(p["electricity"])),
            fuels=tuple(self._fuel(f"{where}.fuels[{j}]", f) for j, f in _present(p["fuels"])),
            emissions=tuple(self._emission(f"{where}.emissions[{j}]", e) for j, e in _present(p["emissions"])),
            cbam=self._cbam(f"{where}.cbam", p["cbam"], outputs) if "cbam" in p else None,
        )

    def _cbam(self, where: str, marker: dict, outputs: tuple[Output, ...]) -> CbamMarker | None:
        """The CBAM marker of a process: a known goods category and route, and an output measurable in tonnes."""
        category = marker["goods_category"]
        if category not in GOODS_CATEGORIES:
            self.fail(f"{where}.goods_category", _("unknown CBAM goods category {category!r}").format(category=category)
                      + did_you_mean(category, GOODS_CATEGORIES))
            return None
        routes = PRODUCTION_ROUTES[category]
        route = marker.get("route", routes[0] if len(routes) == 1 else None)
        if route is None:
            self.fail(f"{where}.route", _("{category} has several production routes: give one of {routes}").format(
                category=category, routes=", ".join(routes)))
            return None
        if route not in routes:
            self.fail(f"{where}.route", _("unknown production route {route!r} for {category}").format(route=route, category=category)
                      + did_you_mean(route, routes) + _(" (routes: {routes})").format(routes=", ".join(routes)))
            return None
        if not outputs:  # all left out for schema problems, reported already
            return None
        flow = marker.get("output", outputs[0].flow)
        good = next((o for o in outputs if o.flow == flow), None)
        if good is None:
            self.fail(f"{where}.output", _("{flow!r} is not an output of this process").format(flow=flow)
                      + did_you_mean(flow, [o.flow for o in outputs]))
            return None
        functional = "energy" if category == "Electricity (export to EU)" else "mass"
        if units.dimension(good.unit) != functional and not (functional == "mass" and good.mass_kg_per_unit):
            message = (_("the activity level of {category} is counted in MWh: {flow!r} is produced in {unit}")
                       if functional == "energy" else
                       _("the activity level of {category} is counted in tonnes: {flow!r} is produced in {unit} "
                         "(give its mass_kg)"))
            self.fail(f"{where}.output", message.format(category=category, flow=flow, unit=good.unit))
            return None
        return CbamMarker(category, route, flow)

    def _outputs(self, where: str, p: dict) -> list[Output]:
        method = p["allocation"]["method"] if p.get("allocation") else None
        present = _present(p["outputs"])
        if len(p["outputs"]) > 1 and method is None:
            self.fail(f"{where}.allocation", _("a process with several outputs needs an allocation method ({methods})")
                      .format(methods=", ".join(ALLOCATION_METHODS)))
        outputs = []
        for j, o in present:
            at = f"{where}.outputs[{j}]"
            mass = o.get("mass_kg")
            if mass is None and units.dimension(o["unit"]) == "mass":
                mass = units.convert(Decimal(1), o["unit"], "kg")
            if len(p["outputs"]) > 1:
                if method == "mass" and mass is None:
                    self.fail(f"{at}.mass_kg", _("mass allocation needs the mass of one {unit} of {flow!r}").format(
                        unit=o["unit"], flow=o["flow"]))
                if method == "economic" and o.get("price") is None:
                    self.fail(f"{at}.price", _("economic allocation needs a price per unit of each output"))
                if method == "physical" and o.get("physical") is None:
                    self.fail(f"{at}.physical", _("physical allocation needs the property's value per unit of each output"))
                if method == "system_expansion" and j > 0 and o.get("substitutes") is None:
                    self.fail(f"{at}.substitutes", _("system expansion needs the dataset each co-product displaces"))
            substitutes = o.get("substitutes")
            if substitutes:
                self.dataset(f"{at}.substitutes.dataset", substitutes["dataset"])
            outputs.append(
                Output(
                    flow=o["flow"],
                    amount=o["amount"],
                    unit=units.unit(o["unit"]).symbol,
                    mass_kg_per_unit=mass,
                    price_per_unit=o.get("price"),
                    physical_per_unit=o.get("physical"),
                    substitutes_dataset=substitutes["dataset"] if substitutes else None,
                    substitution_ratio=substitutes["ratio"] if substitutes else Decimal(1),
                )
            )
        return outputs

    def _dataset_input(self, where: str, dataset_id: str, item: dict, default_source: str, label: str = "") -> Input:
        dataset = self.datasets.get(dataset_id)
        if dataset is not None and units.dimension(item["unit"]) != units.dimension(dataset.unit):
            self.fail(f"{where}.unit", _("unit mismatch: {unit} given, dataset {dataset!r} is per {per}").format(
                unit=item["unit"], dataset=dataset_id, per=dataset.unit))
        return Input(
            kind="dataset",
            ref=dataset_id,
            amount=item["amount"],
            unit=units.unit(item["unit"]).symbol,
            quality=self.quality(item, default_source, where),
            packaging=item.get("packaging", False) or (dataset is not None and dataset.category == "packaging"),
            label=item.get("label") or label or dataset_id,
            meter=self.meter(where, item),
        )

    def _input(self, where: str, item: dict) -> Input:
        line = self._origin_input(where, item)
        if "cbam_out_of_scope" in item:
            if line.kind == "flow":
                self.fail(f"{where}.cbam_out_of_scope", "cbam_out_of_scope is for purchased inputs (dataset or "
                          "supplier): a flow made in the model is in the installation")
            return replace(line, cbam_out_of_scope=item["cbam_out_of_scope"])
        precursor = item.get("cbam_precursor")
        if precursor is None:
            return line
        if line.kind == "flow":
            self.fail(f"{where}.cbam_precursor", _("cbam_precursor is for purchased inputs (dataset or supplier): a flow "
                                                  "made in the model is a precursor when the process making it has a "
                                                  "cbam marker"))
        elif units.dimension(item["unit"]) != "mass":
            self.fail(f"{where}.unit", _("a CBAM precursor is counted in tonnes: {unit} is not a mass unit").format(
                unit=item["unit"]))
        return replace(line, cbam_precursor=CbamPrecursor(**precursor))

    def _load_factor_libraries(self, paths: list[str | None]) -> None:
        """The model's user factor libraries (relative to the model); their bytes go into the model digest."""
        for i, name in _present(paths):
            path = (self.path.parent / name).resolve()
            if not path.is_file():
                self.fail(f"factor_libraries[{i}]", _("factor library not found: {path}").format(path=path))
                continue
            self.supplier_files.append(path)
            try:
                library = load_library(path)
            except ModelErrors as exc:
                self.errors.extend(exc.errors)
                continue
            except ModelError as exc:
                self.errors.append(exc)
                continue
            for factor_id, factor in library.items():
                if factor_id in self.factors:
                    self.fail(f"factor_libraries[{i}]", _("factor {factor!r} is defined in {first} and again in {path}")
                              .format(factor=factor_id, first=self.factors[factor_id].library, path=path))
                self.factors.setdefault(factor_id, factor)

    def _factor_input(self, where: str, item: dict) -> Input:
        factor = self.factors.get(item["factor"])
        if factor is None:
            known = did_you_mean(item["factor"], self.factors) if self.factors else \
                _(" (the model names no factor_libraries)")
            self.fail(f"{where}.factor", _("unknown factor {factor!r}").format(factor=item["factor"]) + known)
        elif units.dimension(item["unit"]) != units.dimension(factor.unit):
            self.fail(f"{where}.unit", _("unit mismatch: {unit} given, factor {factor!r} is per {per}").format(
                unit=item["unit"], factor=factor.id, per=factor.unit))
        source = item.get("source", "secondary")
        quality = Quality(source, Dqr(**item["dqr"]) if item.get("dqr") else
                          (factor.dqr if factor is not None else DEFAULT_DQR[source]))
        return Input("factor", item["factor"], item["amount"], units.unit(item["unit"]).symbol, quality,
                     item.get("packaging", False), item.get("label") or f"factor {item['factor']}",
                     self.meter(where, item), factor=factor)

    def _activity_input(self, where: str, item: dict) -> Input:
        ref = item["activity"]
        activity = ActivityRef(ref["database"], ref["name"], ref.get("reference_product"), ref.get("location"),
                               ref.get("unit"), f"{where}.activity")
        label = item.get("label") or f"{ref['database']}: {ref['name']}" + (
            f" ({ref['location']})" if ref.get("location") else "")
        return Input("activity", f"{ref['database']}/{ref['name']}", item["amount"], units.unit(item["unit"]).symbol,
                     self.quality(item, "secondary"), item.get("packaging", False), label, self.meter(where, item),
                     activity=activity)

    def _origin_input(self, where: str, item: dict) -> Input:
        if "factor" in item:
            return self._factor_input(where, item)
        if "activity" in item:
            return self._activity_input(where, item)
        if "dataset" in item:
            self.dataset(f"{where}.dataset", item["dataset"])
            return self._dataset_input(where, item["dataset"], item, "secondary")
        if "flow" in item:
            flow = item["flow"]
            if flow not in self.known_flows:
                self.fail(f"{where}.flow", _("no process of the model produces {flow!r}").format(flow=flow)
                          + did_you_mean(flow, self.known_flows))
            elif flow in self.output_units and units.dimension(item["unit"]) != units.dimension(self.output_units[flow]):
                self.fail(f"{where}.unit", _("unit mismatch: {unit} given, {flow!r} is produced in {produced}").format(
                    unit=item["unit"], flow=flow, produced=self.output_units[flow]))
            return Input("flow", flow, item["amount"], units.unit(item["unit"]).symbol,
                         self.quality(item, "primary", where), item.get("packaging", False), item.get("label") or flow,
                         self.meter(where, item))
        if item["supplier"].startswith(("https://", "http://")):  # a footprint on a supplier's PACT node
            return Input("supplier", item["supplier"], item["amount"], units.unit(item["unit"]).symbol,
                         self.quality(item, "supplier", where), item.get("packaging", False),
                         item.get("label") or f"supplier {item['supplier'].rstrip('/').rsplit('/', 1)[-1]}",
                         self.meter(where, item))
        supplier = (self.path.parent / item["supplier"]).resolve()
        if not supplier.is_file():
            self.fail(f"{where}.supplier", _("supplier footprint file not found: {path}").format(path=supplier))
        self.supplier_files.append(supplier)
        return Input("supplier", str(supplier), item["amount"], units.unit(item["unit"]).symbol,
                     self.quality(item, "supplier", where), item.get("packaging", False),
                     item.get("label") or f"supplier {Path(item['supplier']).stem}", self.meter(where, item))

    def _electricity(self, where: str, e: dict) -> Electricity:
        grid_id = f"grid:{e['grid']}"
        self.dataset(f"{where}.grid", grid_id)
        kwh = self.convert(f"{where}.unit", e["amount"], e["unit"], "kWh")
        instruments = tuple(
            Instrument(ins["type"], units.convert(ins["amount"], ins["unit"], "kWh"), ins.get("scheme"))
            for _, ins in _present(e["instruments"])
        )
        covered = sum((ins.amount_kwh for ins in instruments), Decimal(0))
        if covered > kwh:
            self.fail(f"{where}.instruments", _("instruments cover {covered} kWh, more than the {kwh} kWh consumed").format(
                covered=covered, kwh=kwh))
        return Electricity(e["grid"], kwh, instruments, self.quality(e, "primary", where), self.meter(where, e))

    def _fuel(self, where: str, f: dict) -> Fuel:
        fuel_id = f["fuel"]
        if not self.dataset(f"{where}.fuel", f"fuel:{fuel_id}"):
            return self._fuel_line(where, f, fuel_id, f["amount"])
        props = self.fuels[fuel_id]
        measured = f.get("properties", {})
        if f["category"] == "mobile" and not props.mobile:
            self.fail(f"{where}.category", _("no road-transport CH4/N2O factors for {fuel!r} in the bundled data (IPCC 2006 "
                                             "Table 3.2.2 covers diesel, gasoline, lpg and natural_gas): declare it "
                                             "stationary").format(fuel=fuel_id))
        dim = units.dimension(f["unit"])
        amount = f["amount"]
        ncv = measured.get("ncv_gj_per_t", props.ncv_gj_per_t)
        if "ncv_gj_per_t" in measured and dim not in ("mass", "volume", "gas volume"):
            self.fail(f"{where}.properties.ncv_gj_per_t", _("the amount is already energy ({unit}): an NCV converts "
                                                            "tonnes or volumes only").format(unit=f["unit"]))
        if dim in ("volume", "gas volume"):
            if props.density_kg_per_m3 is None:
                self.fail(f"{where}.unit", _("no density for {fuel!r}: give the amount in GJ or tonnes").format(fuel=fuel_id))
                return self._fuel_line(where, f, fuel_id, amount)
            amount = units.convert(amount, f["unit"], "m3" if dim == "volume" else "Nm3") * props.density_kg_per_m3
            dim, unit = "mass", "kg"
        else:
            unit = f["unit"]
        if dim == "mass":
            if ncv is None:
                self.fail(f"{where}.unit", _("no net calorific value for {fuel!r}: give the amount in GJ or its measured "
                                             "properties.ncv_gj_per_t").format(fuel=fuel_id))
                return self._fuel_line(where, f, fuel_id, amount)
            gj = units.convert(amount, unit, "t") * ncv
        else:
            gj = self.convert(f"{where}.unit", amount, unit, "GJ")
        return self._fuel_line(where, f, fuel_id, gj)

    def _fuel_line(self, where: str, f: dict, fuel_id: str, gj: Decimal) -> Fuel:
        """With measured carbon content or oxidation, CO2 per GJ = C x oxidation x 44/12 (IPCC 2006 Vol. 2
        Ch. 1, with an oxidation factor); what is not measured keeps its default (the carbon the default CO2
        factor implies, full oxidation)."""
        measured = f.get("properties", {})
        co2 = None
        props = self.fuels.get(fuel_id)
        if props is not None and ("carbon_kg_per_gj" in measured or "oxidation" in measured):
            carbon = measured.get("carbon_kg_per_gj", props.carbon_kg_per_gj)
            co2 = carbon * measured.get("oxidation", Decimal(1)) * 44 / 12
        return Fuel(fuel_id, gj, self.quality(f, "primary", where), f["category"], self.meter(where, f), co2)

    def _emission(self, where: str, e: dict) -> Emission:
        substance = e["substance"]
        if substance not in self.flows:
            self.fail(f"{where}.substance", _("unknown substance {substance!r}").format(substance=substance)
                      + did_you_mean(substance, self.flows))
        return Emission(substance, units.convert(e["amount"], e["unit"], "kg"), self.quality(e, "primary", where),
                        e["category"], self.meter(where, e))

    def _product(self, i: int, p: dict) -> Product:
        where = f"products[{i}]"
        flow = p["flow"]
        declared = units.PACT_DECLARED_UNITS[p["declared_unit"]]
        if flow not in self.known_flows:
            self.fail(f"{where}.flow", _("no process of the model produces {flow!r}").format(flow=flow)
                      + did_you_mean(flow, self.known_flows))
        elif flow in self.output_units and units.dimension(self.output_units[flow]) != units.dimension(declared):
            self.fail(f"{where}.declared_unit", _("unit mismatch: declared unit {declared!r} but {flow!r} is produced in "
                                                  "{produced}").format(declared=p["declared_unit"], flow=flow,
                                                                       produced=self.output_units[flow]))
        classifications = list(p["classifications"])
        if p.get("cn_code"):
            classifications.append(f"urn:pact:productclassification:cn:{p['cn_code']}")
        return Product(
            flow=flow,
            name=p["name"],
            description=p["description"] or p["name"],
            product_ids=tuple(p["ids"]),
            declared_unit=p["declared_unit"],
            declared_unit_amount=p["declared_unit_amount"],
            mass_per_declared_unit_kg=p["mass_per_declared_unit"],
            cn_code=p.get("cn_code"),
            classifications=tuple(dict.fromkeys(classifications)),
            fossil_carbon_content_kg=p["fossil_carbon_content"],
            biogenic_carbon_content_kg=p.get("biogenic_carbon_content"),
            cbam_parameters=dict(p.get("cbam_parameters", {})),
        )

    def _exclusions(self, items: list[dict], products: tuple[Product, ...]) -> tuple[Exclusion, ...]:
        """Declared cut-offs; what each product leaves out cannot add up to more than its whole PCF."""
        flows = [p.flow for p in products]
        exclusions = []
        for i, item in _present(items):
            for j, flow in _present(item["products"]):
                if flow not in self.known_products:
                    self.fail(f"exclusions[{i}].products[{j}]", _("{flow!r} is no product of the model").format(flow=flow)
                              + did_you_mean(flow, self.known_products))
            exclusions.append(Exclusion(item["what"], item["why"], item["share"],
                                        tuple(flow for _, flow in _present(item["products"]))))
        for flow in flows:
            total = sum((e.share_percent for e in exclusions if e.applies_to(flow)), Decimal(0))
            if total > 100:
                self.fail("exclusions", _("the cut-offs of {flow!r} add up to {total} %, more than its whole PCF")
                          .format(flow=flow, total=total))
        return tuple(exclusions)

    def _check_offsets(self, offsets: list[dict]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, o in _present(offsets):
            key = (o["scheme"], o["serial_range"])
            if key in seen:
                self.fail(f"offsets[{i}].serial_range", _("serial range already used in offsets[{index}]").format(index=seen[key]))
            seen[key] = i

