"""What a supplier sends through the portal, checked field by field, made into PACT v3 documents.

    result = read_form(form, invite, now)       # the short form: one block of fields per product asked for
    result = read_upload(data, invite)           # a PACT file (v3 or v2): one footprint, a list, or {"data": [...]}

Both return a `Submission`: the documents (with their PACT version) when everything holds, else `errors` keyed by
the form field they belong to, so the page shows each one next to its field and keeps what was typed. Nothing is
guessed: a number with a comma (decimal or thousands?) is refused, a reference period must have ended, and the
mass per declared unit is asked where PACT requires it (piece, liter, cubic meter, square meter).

The form asks what a supplier knows (the product, its declared unit, kgCO2e per declared unit, the reference
period, DQR, primary data share, a note); PACT v3 requires a few more fields. The document says, in its `comment`,
that it was declared through this portal, what the supplier stated, and which required fields the portal filled
(fossil share, carbon content, exemptions): a reader never mistakes them for the supplier's statements.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from exchange.pact import (
    PactMappingError,
    PactValidationError,
    footprints_in,
    load_footprint,
    parse_json,
    to_v3,
)
from exchange.pact.v3_schema import DECLARED_UNITS
from lca_models.footprint import DataQualityIndicators, Footprint
from lca_models.i18n import gettext as _

from .invites import Invite

MASS_NOT_RELEVANT = ("kilowatt hour", "megajoule", "ton kilometer", "hour", "megabit second")  # PACT: mass 0
STANDARDS = (  # PACT v3.0.3 crossSectoralStandards values a supplier is likely to have followed
    ("ISO14067", "ISO 14067"), ("GHGP-Product", "GHG Protocol Product Standard"), ("ISO14040-44", "ISO 14040/14044"),
    ("PEF", "EU Product Environmental Footprint"), ("PACT-3.0", "PACT Methodology 3.0"),
    ("PACT-2.0", "PACT Methodology 2.0"))
GWP_SETS = ("AR6", "AR5")  # IPCC assessment report of the GWP100 values used
MAX_NAME, MAX_NOTE = 200, 2000  # characters
MAX_FOOTPRINTS = 100  # per uploaded file
MAX_ERRORS_SHOWN = 20


@dataclass
class Submission:
    """Checked documents ((document, "v3"|"v2") pairs), or the problems found, by form field ("" for the whole)."""

    documents: list[tuple[dict, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


_NUMBER = re.compile(r"-?(?:[0-9]{1,15}(?:\.[0-9]{1,12})?|\.[0-9]{1,12})")  # ASCII digits; no exponent, no separators


def _number(text: str) -> Decimal | None:
    """A plain decimal as people type it; None for anything else (exponents, separators, NaN, other scripts' digits),
    so no value can be a million digits long once written out."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class _Fields:
    """The values of one product block, read with their checks; problems go to the submission under field names."""

    def __init__(self, form: Mapping[str, str], index: int, submission: Submission) -> None:
        self.form, self.index, self.submission = form, index, submission

    def name(self, base: str) -> str:
        return f"{base}-{self.index}"

    def text(self, base: str, limit: int, required: bool = False) -> str:
        value = (self.form.get(self.name(base)) or "").strip()
        if required and not value:
            self.submission.add(self.name(base), _("required"))
        elif any(ord(character) < 32 and character not in "\n\r\t" for character in value):
            self.submission.add(self.name(base), _("contains control characters"))
        elif len(value) > limit:
            self.submission.add(self.name(base), _("at most {limit} characters").format(limit=limit))
        return value

    def decimal(self, base: str, low: Decimal | None = None, high: Decimal | None = None, positive: bool = False,
                required: bool = True) -> Decimal | None:
        text = (self.form.get(self.name(base)) or "").strip()
        if not text:
            if required:
                self.submission.add(self.name(base), _("required"))
            return None
        value = _number(text)
        if value is None:
            self.submission.add(self.name(base), _("a number like 12.5 (a point for decimals, no thousands separators)"))
            return None
        if positive and value <= 0:
            self.submission.add(self.name(base), _("must be greater than 0"))
        elif low is not None and high is not None and not low <= value <= high:
            self.submission.add(self.name(base), _("must be between {low} and {high}").format(low=low, high=high))
        elif low is not None and value < low:
            self.submission.add(self.name(base), _("must be {low} or more").format(low=low))
        return value

    def day(self, base: str) -> date | None:
        text = (self.form.get(self.name(base)) or "").strip()
        if not text:
            self.submission.add(self.name(base), _("required"))
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.submission.add(self.name(base), _("a date like 2025-12-31"))
            return None

    def choice(self, base: str, allowed: tuple[str, ...]) -> str | None:
        value = (self.form.get(self.name(base)) or "").strip()
        if value not in allowed:
            self.submission.add(self.name(base), _("choose one of the listed values") if value else _("required"))
            return None
        return value


def _company_ids(invite: Invite) -> tuple[str, ...]:
    """The supplier's company URNs from the invitation; without one, a stable URN the portal derives from its name."""
    return invite.company_ids or (f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'carbon-exchange:portal:' + invite.org)}",)


def _statement(invite: Invite, now: datetime, note: str) -> str:
    filled = ["fossilGhgEmissions and pcfIncludingBiogenicUptake = pcfExcludingBiogenicUptake (no split or "
              "biogenic uptake was asked)", "fossilCarbonContent = 0", "exemptedEmissionsPercent = 0"]
    if not invite.company_ids:
        filled.append("companyIds (derived from the organisation name)")
    statement = (f"Supplier-declared, unsigned: typed by {invite.org} into the supplier portal of "
                 f"{invite.requester or 'its customer'} (carbon-exchange) on {now:%Y-%m-%d}. The supplier stated the "
                 "product, declared unit, pcfExcludingBiogenicUptake, reference period, standard, GWP set"
                 " and, where given, DQR and primary data share. Set by the portal to complete PACT's required "
                 f"fields, not stated by the supplier: {'; '.join(filled)}.")
    return f"{note}\n\n{statement}" if note else statement


def _block(form: Mapping[str, str], index: int, product: str, invite: Invite, now: datetime,
           submission: Submission) -> Footprint | None:
    fields = _Fields(form, index, submission)
    before = sum(len(v) for v in submission.errors.values())
    name = fields.text("name", MAX_NAME, required=True)
    unit = fields.choice("unit", DECLARED_UNITS)
    amount = fields.decimal("amount", positive=True)
    pcf = fields.decimal("pcf", low=Decimal(0))
    start, end = fields.day("start"), fields.day("end")
    if start and end:
        if end < start:
            submission.add(fields.name("end"), _("the last day comes before the first day"))
        elif end >= now.date():
            submission.add(fields.name("end"), _("the reference period must have ended (last day before today)"))
    mass = fields.decimal("mass", positive=True, required=False)
    if unit and unit not in MASS_NOT_RELEVANT and unit != "kilogram" and mass is None:
        if fields.name("mass") not in submission.errors:
            submission.add(fields.name("mass"), _("required for a declared unit in {unit}: the mass of the declared "
                                                  "unit in kg").format(unit=unit))
    standard = fields.choice("standard", tuple(code for code, _label in STANDARDS))
    gwp = fields.choice("gwp", GWP_SETS)
    dqr = [fields.decimal(base, low=Decimal(1), high=Decimal(5), required=False)
           for base in ("dqr-technological", "dqr-geographical", "dqr-temporal")]
    given = [value for value in dqr if value is not None]
    if given and len(given) != 3:
        for base, value in zip(("dqr-technological", "dqr-geographical", "dqr-temporal"), dqr):
            if value is None and fields.name(base) not in submission.errors:
                submission.add(fields.name(base), _("give all three DQR or none"))
    share = fields.decimal("share", low=Decimal(0), high=Decimal(100), required=False)
    note = fields.text("note", MAX_NOTE)
    if sum(len(v) for v in submission.errors.values()) > before:
        return None
    if unit == "kilogram":
        mass = amount  # PACT: the mass of the declared unit, which is itself a mass
    elif unit in MASS_NOT_RELEVANT:
        mass = Decimal(0)  # PACT: 0 where the product mass is not relevant (energy, transport, services)
    return Footprint(
        id=str(uuid.uuid4()), spec_version="3.0.3", created=now, status="Active", company_name=invite.org,
        company_ids=_company_ids(invite), product_description=name, product_ids=(product,),
        product_name_company=name, declared_unit_of_measurement=unit, declared_unit_amount=amount,
        product_mass_per_declared_unit=mass,
        reference_period_start=datetime.combine(start, time(), timezone.utc),
        # PACT's referencePeriodEnd is exclusive: the day after the last day the supplier typed
        reference_period_end=datetime.combine(end + timedelta(days=1), time(), timezone.utc),
        pcf_excluding_biogenic_uptake=pcf, pcf_including_biogenic_uptake=pcf, fossil_ghg_emissions=pcf,
        fossil_carbon_content=Decimal(0), ipcc_characterization_factors=(gwp,), cross_sectoral_standards=(standard,),
        exempted_emissions_percent=Decimal(0), primary_data_share=share,
        dqi=DataQualityIndicators(*given) if len(given) == 3 else None,
        comment=_statement(invite, now, note))


def read_form(form: Mapping[str, str], invite: Invite, now: datetime) -> Submission:
    """The short form: one block of fields per product asked for, each field checked, into PACT v3 documents."""
    submission = Submission()
    footprints = [_block(form, index, product, invite, now, submission) for index, product in enumerate(invite.products)]
    if submission.errors:
        return submission
    for index, footprint in enumerate(footprints):
        try:
            submission.documents.append((to_v3(footprint), "v3"))
        except (PactValidationError, PactMappingError) as error:  # the checks above should make this unreachable
            for issue in getattr(error, "issues", [error])[:MAX_ERRORS_SHOWN]:
                submission.add(f"block-{index}", str(issue))
    return submission


def _footprint_items(document: Any) -> list[tuple[str, Any]]:
    if isinstance(document, list):
        return [(f"/{index}", item) for index, item in enumerate(document)]
    return footprints_in(document)


def read_upload(data: bytes, invite: Invite) -> Submission:
    """A PACT file: valid v3 or v2 footprints, Active, for the products asked for, each product covered once at
    least. Every problem goes to the upload field as `pointer: message`."""
    submission = Submission()

    def problem(message: str) -> None:
        if len(submission.errors.get("file", [])) < MAX_ERRORS_SHOWN:
            submission.add("file", message)

    if not data.strip():
        problem(_("choose a PACT file (JSON) to upload"))
        return submission
    try:
        document = parse_json(data)
    except PactValidationError as error:
        for issue in error.issues:
            problem(str(issue).lstrip(": "))
        return submission
    items = _footprint_items(document)
    if len(items) > MAX_FOOTPRINTS:
        problem(_("{count} footprints in one file; at most {limit}").format(count=len(items), limit=MAX_FOOTPRINTS))
        return submission
    asked = {product.lower(): product for product in invite.products}
    covered, ids = set(), []
    for prefix, item in items:
        try:
            loaded = load_footprint(item)
        except (PactValidationError, PactMappingError) as error:
            for issue in getattr(error, "issues", None) or [error]:
                problem(f"{prefix}{issue}" if prefix else str(issue))
            continue
        footprint = loaded.footprint
        products = {p.lower() for p in footprint.product_ids}
        if not products & asked.keys():
            problem(_("{pointer}: product {products} was not asked for in this invitation (asked: {asked})").format(
                pointer=prefix or "/", products=", ".join(footprint.product_ids), asked=", ".join(invite.products)))
            continue
        if footprint.status != "Active":
            problem(_("{pointer}: status {status}: submit the footprint in use (Active)").format(
                pointer=prefix or "/", status=footprint.status))
            continue
        if footprint.id.lower() in ids:
            problem(_("{pointer}: footprint id {id} appears twice").format(pointer=prefix or "/", id=footprint.id))
            continue
        ids.append(footprint.id.lower())
        covered |= products & asked.keys()
        submission.documents.append((item, loaded.version))
    for missing in [asked[p] for p in asked if p not in covered]:
        problem(_("no footprint for {product}, which this invitation asks for").format(product=missing))
    if submission.errors:
        submission.documents.clear()
    return submission
