"""Meter readings (CSV time series) into the model's activity data for the reference period.

Every problem is reported, none is repaired: gaps longer than the meter's interval (also at the period's
edges), duplicate timestamps, counter resets (a cumulative register going down), unknown units or units of
the wrong dimension, readings outside the period, unreadable rows. A meter with any such problem gets no
total (gaps alone can be accepted with `allow_gaps`: the total is then what was measured, and says so).

Conventions: an interval reading is the quantity of the interval that *ends* at its timestamp; a
cumulative reading is the register at its timestamp, and the period's quantity is the sum of increases
between consecutive readings. The period runs from `reference_period.start` 00:00 to the day after
`reference_period.end` 00:00 at the meters file's `period_utc_offset` (the plant's local time).
Timestamps are ISO 8601 with a UTC offset; a timestamp without one is refused rather than assumed.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, fields, validate

from lca_models import units
from lca_models.errors import ModelError, ModelErrors, UnitError
from lca_models.model import ProductModel
from lca_models.model_schema import load_model
from lca_models.i18n import N_
from lca_models.yaml_files import load_yaml_file

from ..report.progress import SILENT, Steps

COLUMNS = ("meter_id", "timestamp", "value", "unit")
KINDS = ("cumulative", "interval")
LINE_SECTIONS = ("inputs", "transport", "waste", "electricity", "fuels", "emissions")
BLOCKING = ("bad row", "unit", "duplicate", "reset", "no readings", "unknown meter", "unmapped")  # not "gap"


class _MeterSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    unit = fields.String(required=True)
    interval_minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class _MetersFileSchema(Schema):
    class Meta:
        unknown = RAISE

    period_utc_offset = fields.String(load_default="+00:00", validate=validate.Regexp(r"^[+-]\d{2}:\d{2}$"))
    meters = fields.List(fields.Nested(_MeterSchema), required=True, validate=validate.Length(min=1))


@dataclass(frozen=True)
class Meter:
    id: str
    kind: str  # cumulative | interval
    unit: str
    interval: timedelta


@dataclass(frozen=True)
class MeterSetup:
    utc_offset: timezone
    meters: dict[str, Meter]


def load_meters(path: Path) -> MeterSetup:
    """The meters file: each meter's kind, unit and reading interval; ModelErrors per problem."""
    data = load_yaml_file(path, _MetersFileSchema(), N_("meters file"))
    errors, meters = [], {}
    for i, m in enumerate(data["meters"]):
        try:
            symbol = units.unit(m["unit"]).symbol
        except UnitError as exc:
            errors.append(ModelError(str(exc), f"meters[{i}].unit", str(path)))
            continue
        if m["id"] in meters:
            errors.append(ModelError(f"meter {m['id']!r} declared twice", f"meters[{i}].id", str(path)))
        meters[m["id"]] = Meter(m["id"], m["kind"], symbol, timedelta(minutes=m["interval_minutes"]))
    if errors:
        raise ModelErrors(errors)
    sign = -1 if data["period_utc_offset"].startswith("-") else 1
    hours, minutes = data["period_utc_offset"][1:].split(":")
    return MeterSetup(timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))), meters)


@dataclass(frozen=True)
class Issue:
    meter: str
    line: int | None  # CSV line number (header is line 1), None for a meter-level problem
    kind: str  # bad row | unit | duplicate | reset | gap | outside period | no readings | unknown meter | unmapped
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.meter}: {self.kind}: {self.message}"


@dataclass
class MeterTotal:
    meter: Meter
    readings: int = 0
    total: Decimal | None = None  # in meter.unit; None when a problem prevents it
    complete: bool = False  # no gaps
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class _Reading:
    line: int
    at: datetime
    value: Decimal  # in the meter's unit


@dataclass(frozen=True)
class MeterReport:
    source: str
    period: tuple[datetime, datetime]
    totals: dict[str, MeterTotal]
    issues: tuple[Issue, ...]  # all of them, also those of meters not declared

    @property
    def blocking(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.kind in BLOCKING)


def _period(model: ProductModel, offset: timezone) -> tuple[datetime, datetime]:
    start, end = model.reference_period_start, model.reference_period_end
    return (datetime(start.year, start.month, start.day, tzinfo=offset),
            datetime(end.year, end.month, end.day, tzinfo=offset) + timedelta(days=1))


def read_meters(csv_path: Path, setup: MeterSetup, model: ProductModel, allow_gaps: bool = False,
                steps: Steps = SILENT) -> MeterReport:
    """Totals per meter for the model's period, and every problem found in the readings (`steps`: rows read)."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read meter readings: {getattr(exc, 'strerror', None) or exc}", file=str(csv_path)) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ModelError(f"missing column(s) {', '.join(missing)}: the header must be {','.join(COLUMNS)}", file=str(csv_path))
    period = _period(model, setup.utc_offset)
    totals = {meter_id: MeterTotal(meter) for meter_id, meter in setup.meters.items()}
    readings: dict[str, list[_Reading]] = defaultdict(list)
    stray: list[Issue] = []
    steps.phase(f"rows read from {csv_path.name}")
    for line, row in enumerate(reader, start=2):
        steps.advance()
        meter_id = (row.get("meter_id") or "").strip()
        if meter_id not in totals:
            stray.append(Issue(meter_id or "?", line, "unknown meter", "not declared in the meters file"))
            continue
        reading = _parse(line, row, totals[meter_id], period)
        if reading is not None:
            readings[meter_id].append(reading)
    steps.phase("checking each meter's series", total=len(totals))
    for meter_id, result in totals.items():
        _summarise(result, sorted(readings[meter_id], key=lambda r: (r.at, r.line)), period, allow_gaps)
        steps.advance()
    stray += _check_model_meters(model, setup)
    issues = tuple(stray) + tuple(i for r in totals.values() for i in r.issues)
    return MeterReport(str(csv_path), period, totals, tuple(sorted(issues, key=lambda i: (i.line or 0, i.meter))))


def _parse(line: int, row: dict, result: MeterTotal, period: tuple[datetime, datetime]) -> _Reading | None:
    meter = result.meter

    def fail(kind: str, message: str) -> None:
        result.issues.append(Issue(meter.id, line, kind, message))

    try:
        at = datetime.fromisoformat((row.get("timestamp") or "").strip())
    except ValueError:
        fail("bad row", f"timestamp {row.get('timestamp')!r} is not ISO 8601")
        return None
    if at.tzinfo is None:
        fail("bad row", f"timestamp {row['timestamp']!r} has no UTC offset (e.g. +08:00); refusing to assume one")
        return None
    try:
        value = Decimal((row.get("value") or "").strip())
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        fail("bad row", f"value {row.get('value')!r} is not a number")
        return None
    try:
        value = units.convert(value, (row.get("unit") or "").strip(), meter.unit)
    except UnitError as exc:
        fail("unit", f"{exc} (meter {meter.id} is in {meter.unit})")
        return None
    if not period[0] <= at <= period[1]:
        fail("outside period", f"{at.isoformat()} is outside {period[0].isoformat()} .. {period[1].isoformat()}; not counted")
        return None
    if meter.kind == "interval" and at == period[0]:
        fail("outside period", f"an interval ending at {at.isoformat()} lies before the period; not counted")
        return None
    return _Reading(line, at, value)


def _summarise(result: MeterTotal, readings: list[_Reading], period: tuple[datetime, datetime], allow_gaps: bool) -> None:
    meter = result.meter
    result.readings = len(readings)
    if not readings:
        result.issues.append(Issue(meter.id, None, "no readings", "no reading inside the period"))
        return
    for earlier, later in zip(readings, readings[1:]):
        if later.at == earlier.at:
            result.issues.append(Issue(meter.id, later.line, "duplicate",
                                       f"timestamp {later.at.isoformat()} already read on line {earlier.line}"))
        elif later.at - earlier.at > meter.interval:
            result.issues.append(Issue(meter.id, later.line, "gap", f"{later.at - earlier.at} since the reading on "
                                       f"line {earlier.line} (expected every {meter.interval})"))
        if meter.kind == "cumulative" and later.value < earlier.value:
            result.issues.append(Issue(meter.id, later.line, "reset", f"register went down from {earlier.value} to "
                                       f"{later.value} {meter.unit} (reset or replacement?): no total computed"))
    first_covered = readings[0].at - (meter.interval if meter.kind == "interval" else timedelta(0))
    if first_covered > period[0]:
        result.issues.append(Issue(meter.id, readings[0].line, "gap", f"nothing measured from {period[0].isoformat()} "
                                   f"to {first_covered.isoformat()}"))
    if readings[-1].at < period[1]:
        result.issues.append(Issue(meter.id, readings[-1].line, "gap", f"nothing measured from "
                                   f"{readings[-1].at.isoformat()} to {period[1].isoformat()}"))
    if any(i.kind in BLOCKING for i in result.issues):
        return
    result.complete = not any(i.kind == "gap" for i in result.issues)
    if not result.complete and not allow_gaps:
        return
    if meter.kind == "interval":
        result.total = sum((r.value for r in readings), Decimal(0))
    else:
        result.total = readings[-1].value - readings[0].value


def _metered_lines(document: dict) -> list[tuple[str, dict]]:
    """(path, line) of every activity line in a raw model document that names a meter."""
    found = []
    for i, process in enumerate(document.get("processes") or []):
        for section in LINE_SECTIONS:
            for j, line in enumerate(process.get(section) or []):
                if isinstance(line, dict) and line.get("meter"):
                    found.append((f"processes[{i}].{section}[{j}]", line))
    return found


def _check_model_meters(model: ProductModel, setup: MeterSetup) -> list[Issue]:
    used = {line.meter for p in model.processes for group in (p.inputs, p.electricity, p.fuels, p.emissions)
            for line in group if line.meter}
    return [Issue(meter_id, None, "unmapped", "named in the model but not declared in the meters file")
            for meter_id in sorted(used - set(setup.meters))]


def apply_to_model(model_path: Path, report: MeterReport, output: Path) -> list[str]:
    """Write a copy of the model with each metered line's amount from its meter; validated before it lands.

    Refused (nothing written) when any problem blocks a meter the model uses. Returns the paths changed.
    """
    if report.blocking:
        raise ModelError(f"{len(report.blocking)} problem(s) in the meter data; nothing written", file=str(output))
    try:
        document = yaml.safe_load(model_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"cannot read model: {exc}", file=str(model_path)) from None
    changed, errors = [], []
    for where, line in _metered_lines(document):
        result = report.totals[line["meter"]]
        if result.total is None:
            errors.append(ModelError(f"meter {line['meter']!r} has no total for the period (see its problems)", where))
            continue
        try:
            same = units.dimension(str(line.get("unit"))) == units.dimension(result.meter.unit)
        except UnitError:
            same = False
        if not same:
            errors.append(ModelError(f"meter {line['meter']!r} measures {result.meter.unit}, the line is in "
                                     f"{line.get('unit')}", where, str(model_path)))
            continue
        line["amount"], line["unit"] = str(result.total), result.meter.unit
        changed.append(where)
    if errors:
        raise ModelErrors(errors)
    _write_validated(document, output)
    return changed


def _write_validated(document: dict, output: Path) -> None:
    """Write next to `output`, validate it as a model, then move it into place: never a half-written model."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.stem}.", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump(document, stream, sort_keys=False, allow_unicode=True)
        try:
            load_model(Path(temporary))
        except ModelError as error:  # name the file the user asked for, not the temporary one
            problems = error.errors if isinstance(error, ModelErrors) else [error]
            raise ModelErrors([ModelError(e.reason, e.path, str(output)) for e in problems]) from None
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def to_json(report: MeterReport) -> dict:
    """Totals per meter (decimal strings, None when blocked) and every problem, for a file or an API."""
    return {
        "readings": report.source,
        "period": {"start": report.period[0].isoformat(), "end": report.period[1].isoformat()},
        "meters": {meter_id: {"kind": t.meter.kind, "unit": t.meter.unit, "readings": t.readings,
                              "total": None if t.total is None else str(t.total), "complete": t.complete}
                   for meter_id, t in report.totals.items()},
        "problems": [{"meter": i.meter, "line": i.line, "kind": i.kind, "message": i.message} for i in report.issues],
        "blocking": len(report.blocking),
    }
