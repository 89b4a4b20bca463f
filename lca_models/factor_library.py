"""A user's own emission factors: a CSV or YAML library of datasets a product model references (`factor:`).

For factors the bundled data does not carry (cathode material, a supplier's published figure, a national
database) without faking a supplier PACT file. Each row is one dataset per `unit`: either `kgco2e` (already
CO2e under the source's GWP set, booked as the aggregated fossil flow `co2e_fossil`), or kg of each gas in
columns named by the flow ids of `data/gwp100.csv` (`co2_fossil`, `ch4_fossil`, `n2o`, `co2e_luc`, ...), so
the model's GWP set applies. `source` and `year` are required: a number without its origin is not data.
Every problem of every row is reported at once, as `FILE: row N: column: reason` (CSV rows counted as a
spreadsheet shows them, the header being row 1; YAML rows from 1 in the order of `factors:`).
Format and examples: docs/model-format.md "User factor libraries".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from . import units
from .errors import ModelError, ModelErrors, UnitError, did_you_mean, flatten_messages
from .gwp import elementary_flows
from .i18n import gettext as _
from .model import DEFAULT_DQR, Dqr

TOTAL_COLUMN = "kgco2e"
TOTAL_FLOW = "co2e_fossil"  # aggregated CO2e, GWP 1 in every set: the source's own GWP set stays
DQR_COLUMNS = ("dqr_technological", "dqr_geographical", "dqr_temporal")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class UserFactor:
    """One dataset of a user library: elementary flows (kg, or kgCO2e for co2e_*) per one `unit`."""

    id: str
    name: str
    unit: str  # a unit symbol of lca_models.units
    flows: tuple[tuple[str, Decimal], ...]
    source: str
    year: int
    geography: str | None
    dqr: Dqr  # the row's, or the default for secondary data
    library: Path
    row: int

    def kgco2e(self, gwp: str) -> Decimal:
        """kgCO2e per unit under GWP set `gwp`, of the flows that count in a PCF (exact, from the row)."""
        table = elementary_flows()
        return sum((amount * table[flow].gwp[gwp] for flow, amount in self.flows if table[flow].counts_in_pcf),
                   Decimal(0))


def _known_unit(value: str) -> None:
    try:
        units.unit(value)
    except UnitError as exc:
        raise ValidationError(str(exc)) from None


_AMOUNT = {"validate": validate.Range(min=0, error="must be >= 0"), "allow_nan": False}
_DQR = validate.Range(min=1, max=5, error="must be between 1 and 5")


def _row_schema() -> type[Schema]:
    """The row schema: fixed columns plus one optional column per elementary flow of gwp100.csv."""

    class FactorRowSchema(Schema):
        class Meta:
            unknown = RAISE

        id = fields.String(required=True, validate=validate.Regexp(
            r"^[A-Za-z0-9_.:\-]+$", error="use letters, digits, '_', '-', '.' or ':' only"))
        name = fields.String(required=True, validate=validate.Length(min=1))
        unit = fields.String(required=True, validate=_known_unit)
        kgco2e = fields.Decimal(**_AMOUNT)
        source = fields.String(required=True, validate=validate.Length(min=1, error="cite where the value comes from"))
        year = fields.Integer(required=True, validate=validate.Range(min=1900, max=2100))
        geography = fields.String()
        dqr_technological = fields.Decimal(validate=_DQR)
        dqr_geographical = fields.Decimal(validate=_DQR)
        dqr_temporal = fields.Decimal(validate=_DQR)

        @validates_schema
        def _one_kind_of_value(self, data: dict, **kwargs) -> None:
            gases = [flow for flow in elementary_flows() if flow in data]
            if TOTAL_COLUMN in data and gases:
                raise ValidationError(f"give either kgco2e or per-gas columns, not both ({', '.join(gases)})", TOTAL_COLUMN)
            if TOTAL_COLUMN not in data and not gases:
                raise ValidationError("give kgco2e or the kg of at least one gas (a column named by a gwp100.csv flow)",
                                      TOTAL_COLUMN)
            given = [c for c in DQR_COLUMNS if c in data]
            if given and len(given) != len(DQR_COLUMNS):
                missing = ", ".join(c for c in DQR_COLUMNS if c not in data)
                raise ValidationError(f"give all three DQR columns or none (missing {missing})", given[0])

    flow_fields = {flow: fields.Decimal(**_AMOUNT) for flow in elementary_flows()}
    return type("FactorRowSchema", (FactorRowSchema,), flow_fields)


def load_library(path: Path | str) -> dict[str, UserFactor]:
    """Every factor of a CSV or YAML library by id; ModelErrors lists every problem of every row at once."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ModelError(f"cannot read factor library: {exc.strerror or exc}", file=where) from None
    except UnicodeDecodeError:
        raise ModelError("factor library is not a UTF-8 text file", file=where) from None
    rows = _yaml_rows(text, where) if path.suffix.lower() in (".yaml", ".yml") else _csv_rows(text, where)
    if len(rows) > MAX_ROWS:
        raise ModelError(f"more than {MAX_ROWS} factors in one library", file=where)
    schema = _row_schema()()
    errors: list[ModelError] = []
    factors: dict[str, UserFactor] = {}
    for number, row in rows:
        if isinstance(row, str):
            errors.append(ModelError(row, f"row {number}", where))
            continue
        try:
            data = schema.load(row)
        except ValidationError as exc:
            errors += [ModelError(reason, f"row {number}: {column or 'row'}", where)
                       for column, reason in flatten_messages(exc.messages, schema)]
            continue
        if data["id"] in factors:
            errors.append(ModelError(f"factor id {data['id']!r} already defined in row {factors[data['id']].row}",
                                     f"row {number}: id", where))
            continue
        factors[data["id"]] = _factor(data, path, number)
    if errors:
        raise ModelErrors(errors)
    return factors


def _factor(data: dict, path: Path, row: int) -> UserFactor:
    if TOTAL_COLUMN in data:
        flows = ((TOTAL_FLOW, data[TOTAL_COLUMN]),)
    else:
        flows = tuple((flow, data[flow]) for flow in elementary_flows() if flow in data)
    dqr = Dqr(*(data[c] for c in DQR_COLUMNS)) if DQR_COLUMNS[0] in data else DEFAULT_DQR["secondary"]
    return UserFactor(data["id"], data["name"], units.unit(data["unit"]).symbol, flows, data["source"], data["year"],
                      data.get("geography"), dqr, path.resolve(), row)


def _csv_rows(text: str, where: str) -> list[tuple[int, dict | str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ModelError("empty factor library: the first row names the columns (id, name, unit, kgco2e, source, year, ...)",
                         file=where)
    allowed = {*_row_schema()().fields}
    unknown = [ModelError(_("unknown column") + did_you_mean(h, sorted(allowed), cutoff=0.6), f"row 1: {h}", where)
               for h in header if h not in allowed]
    if unknown:
        raise ModelErrors(unknown)
    rows = []
    for number, raw in enumerate(reader, start=2):
        cells = {key.strip(): (value or "").strip() for key, value in raw.items() if key is not None}
        if raw.get(None):
            rows.append((number, f"{len(header) + len(raw[None])} cells but {len(header)} columns"))
            continue
        if any(cells.values()):
            rows.append((number, {k: v for k, v in cells.items() if v != ""}))
    return rows


def _yaml_rows(text: str, where: str) -> list[tuple[int, dict | str]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelError(f"not valid YAML: {exc}", file=where) from None
    rows = document.get("factors") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise ModelError("a YAML factor library is a mapping with a list under `factors:`", file=where)
    result = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            result.append((number, "a factor is a mapping of column names to values"))
            continue
        row = dict(row)
        dqr = row.pop("dqr", None)
        if isinstance(dqr, dict):
            row.update({f"dqr_{key}": value for key, value in dqr.items()})
        elif dqr is not None:
            row["dqr"] = dqr
        result.append((number, {key: value for key, value in row.items() if value is not None}))
    return result


