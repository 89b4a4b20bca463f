"""marshmallow fields for PACT's primitive types: decimals in strings, UTC date-times, URNs, UUIDs.

PACT v3 (and v2's pcf figures) carry decimals as JSON strings (`Decimal`, `PositiveOrZeroDecimal`, ... in
the OpenAPI `components.schemas`): they load into `decimal.Decimal` and dump back with the same digits, so no
float ever rounds them. A number where a decimal string is due is an error, not silently accepted.
Date-times must be RFC 3339 in UTC; the text a peer sent is remembered so a document dumps back as it came.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields

# OpenAPI v3.0.3 components.schemas.Decimal
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
# RFC 3339 date-time (Sec. 5.6): full-date "T" full-time with a mandatory offset
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# RFC 8141: "urn:" NID ":" NSS; OpenAPI components.schemas.Urn only asks for the "urn:" prefix
_URN = re.compile(r"^[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")

SIGNS = {
    None: (lambda d: True, ""),
    "positive": (lambda d: d > 0, "must be > 0"),
    "non_negative": (lambda d: d >= 0, "must be >= 0"),
    "non_positive": (lambda d: d <= 0, "must be <= 0"),
    "negative": (lambda d: d < 0, "must be < 0"),
}


def decimal_text(value: Decimal) -> str:
    """A Decimal as PACT writes it: plain digits, no exponent, no negative zero."""
    if value == 0:
        value = abs(value)
    return format(value, "f")


class DecimalString(fields.Field):
    """PACT `Decimal` (and its signed variants): a JSON string of digits, a `Decimal` inside."""

    def __init__(self, sign: str | None = None, low: Decimal | None = None, high: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.sign_message = SIGNS[sign]
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            kind = "a number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
            raise ValidationError(f'must be a decimal in a JSON string (e.g. "1.5"), not {kind}')
        if not _DECIMAL.match(value):
            raise ValidationError(f"{value[:40]!r} is not a decimal (digits, optional sign and fraction)")
        number = Decimal(value)
        if not self.check(number):
            raise ValidationError(self.sign_message)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise ValidationError(f"must be between {self.low} and {self.high}")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else decimal_text(value)


class NumberDecimal(fields.Field):
    """PACT v2's JSON numbers (`primaryDataShare`, DQRs, ...): a `Decimal` inside, digits kept."""

    def __init__(self, low: Decimal | None = None, high: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise ValidationError(f"must be a JSON number, not {type(value).__name__}")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise ValidationError("must be a finite number") from None
        if not number.is_finite():
            raise ValidationError("must be a finite number")
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise ValidationError(f"must be between {self.low} and {self.high}")
        return number

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> int | float | None:
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)


class PactDateTime(datetime):
    """A UTC datetime that remembers the RFC 3339 text it was read from, to write it back unchanged."""

    text: str

    @classmethod
    def parse(cls, text: str) -> "PactDateTime":
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        value = cls(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second,
                    parsed.microsecond, tzinfo=timezone.utc)
        value.text = text
        return value


def datetime_text(value: datetime) -> str:
    """RFC 3339 UTC text: the original for a parsed value, else `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`."""
    text = getattr(value, "text", None)
    if text is not None:
        return text
    if value.tzinfo is None or value.utcoffset() != timezone.utc.utcoffset(None):
        raise ValueError(f"date-time {value!r} is not in UTC")
    return value.replace(tzinfo=None).isoformat() + "Z"


class UtcDateTime(fields.Field):
    """RFC 3339 date-time with an offset, which must be UTC (`Z` or `+00:00`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValidationError("must be an RFC 3339 date-time with offset, e.g. 2025-01-31T00:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"not a valid date-time: {exc}") from None
        if parsed.utcoffset() != timezone.utc.utcoffset(None):
            raise ValidationError("must be in UTC (offset Z or +00:00)")
        return PactDateTime.parse(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else datetime_text(value)


class Text(fields.String):
    """A JSON string; `non_empty` for PACT's `NonEmptyString`."""

    def __init__(self, non_empty: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.non_empty = non_empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"must be a string, not {type(value).__name__}")
        if self.non_empty and not value:
            raise ValidationError("must not be empty")
        return value


class Patterned(Text):
    """A string matching a pattern, with a message that says what was expected."""

    def __init__(self, pattern: re.Pattern, expected: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern, self.expected = pattern, expected

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.pattern.match(text):
            raise ValidationError(f"{text[:60]!r} is not {self.expected}")
        return text


def Urn(**kwargs: Any) -> Patterned:  # noqa: N802 - reads like the OpenAPI type it implements
    return Patterned(_URN, "a URN (urn:<namespace>:<id>)", **kwargs)


def Uuid(**kwargs: Any) -> Patterned:  # noqa: N802
    return Patterned(_UUID, "a UUID", **kwargs)


def Uri(**kwargs: Any) -> Patterned:  # noqa: N802
    return Patterned(_URI, "a URI", **kwargs)


class UniqueList(fields.List):
    """A JSON array with `minItems` and `uniqueItems` as the OpenAPI states them."""

    def __init__(self, inner: fields.Field, min_items: int = 0, unique: bool = True, **kwargs: Any) -> None:
        super().__init__(inner, **kwargs)
        self.min_items, self.unique = min_items, unique

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise ValidationError(f"must be an array, not {type(value).__name__}")
        if len(value) < self.min_items:
            raise ValidationError(f"must have at least {self.min_items} item(s)")
        items = super()._deserialize(value, attr, data, **kwargs)
        if self.unique:
            seen = [repr(item) for item in value]
            if len(set(seen)) != len(seen):
                raise ValidationError("items must be unique")
        return items


class StrictBoolean(fields.Boolean):
    """A JSON `true` or `false`: no "yes", 1 or "true" in a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"must be true or false, not {type(value).__name__}")
        return value
