"""Typed errors of the data model: each names where the problem is and what to do about it.

Every schema-validated file of the toolkit (product model, installation, criteria, scenarios, meters, factor
library, ...) reports through `validation_errors`: one `ModelError` per problem with its path, in the user's
language, an unknown field with the closest field names the schema knows at that place (`did_you_mean`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from .i18n import N_, gettext

_ = gettext


class ModelError(ValueError):
    """A product model that cannot be used: `path` is where in the file, `reason` what is wrong."""

    def __init__(self, reason: str, path: str = "", file: str | None = None) -> None:
        self.reason = reason
        self.path = path
        self.file = file
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.reason}" if where else self.reason


class ModelErrors(ModelError):
    """Several problems found in one pass, so the user can fix them all at once."""

    def __init__(self, errors: list[ModelError]) -> None:
        self.errors = errors
        ValueError.__init__(self, "\n".join(str(e) for e in errors))
        self.reason, self.path, self.file = errors[0].reason, errors[0].path, errors[0].file

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class UnitError(ValueError):
    """A unit that is unknown, or that cannot be converted into the one required (kg vs kWh)."""


class DataError(ValueError):
    """A bundled data file that is malformed: a bug in the package, reported with file and row."""


def close_matches(word: str, candidates: Iterable[str], cutoff: float = 0.5) -> list[str]:
    """Up to three candidates close to `word`: those containing it, then difflib's closest; namespaced ids
    (`material:steel_bf_bof`) are also compared by the part after the prefix, so `steel_bf_bfo` finds them."""
    candidates = list(dict.fromkeys(str(c) for c in candidates))
    within = [c for c in candidates if len(word) >= 3 and word.lower() in c.lower()]  # `cost` -> `abatement_cost_per_t`
    close = list(dict.fromkeys(within + _closest(word, candidates, cutoff)))[:3]
    if not close:
        tails = {c.split(":", 1)[-1]: c for c in candidates}
        close = [tails[t] for t in difflib.get_close_matches(word.split(":", 1)[-1], list(tails), n=3, cutoff=cutoff)]
    return close


def _closest(word: str, candidates: list[str], cutoff: float) -> list[str]:
    """difflib's closest, keeping only those nearly as close as the best (`declared_unt` -> `declared_unit`, not
    also `declared_unit_amount`)."""
    scored = [(difflib.SequenceMatcher(None, word, c).ratio(), c) for c in difflib.get_close_matches(word, candidates,
                                                                                                    n=3, cutoff=cutoff)]
    return [c for ratio, c in scored if ratio >= scored[0][0] - 0.1] if scored else []


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.5) -> str:
    """` (did you mean 'x'?)` to append to a message, in the user's language; empty when nothing is close."""
    close = close_matches(word, candidates, cutoff)
    return _(" (did you mean {names}?)").format(names=", ".join(repr(c) for c in close)) if close else ""


def unknown_field(name: str, known: Iterable[str]) -> str:
    """The reason for a field the schema does not define: the closest known ones, else the list of them all."""
    known = sorted(str(k) for k in known)
    close = close_matches(name, known)
    if close:
        return _("unknown field; did you mean {names}?").format(names=", ".join(repr(c) for c in close))
    return _("unknown field; the fields here are {names}").format(names=", ".join(known) or "-")


def validation_errors(messages: Any, file: str | None = None, schema: Any = None) -> ModelErrors:
    """marshmallow's nested error messages -> one ModelError per problem, each with its path
    ("processes[2].inputs[0].amount") and the file: every schema in the project reports the same way. With the
    `schema` that produced them, an unknown field names the closest fields declared at that place."""
    return ModelErrors([ModelError(reason, where, file) for where, reason in flatten_messages(messages, schema)])


def flatten_messages(messages: Any, schema: Any = None, path: str = "") -> list[tuple[str, str]]:
    """(path, translated reason) for every message of marshmallow's nested error dict."""
    if isinstance(messages, str):
        return [(path, translate_reason(messages))]
    if isinstance(messages, list):
        found: list[tuple[str, str]] = []
        for message in messages:
            found.extend(flatten_messages(message, schema, path))
        return found
    found = []
    for key, value in messages.items():
        if key == "_schema":
            found.extend(flatten_messages(value, schema, path))
            continue
        if isinstance(key, int):
            found.extend(flatten_messages(value, schema, f"{path}[{key}]"))
            continue
        child = f"{path}.{key}" if path else str(key)
        fields = _loadable_fields(schema)
        if fields is not None and key not in fields and _is_unknown(value):
            found.append((child, unknown_field(str(key), fields)))
            continue
        found.extend(flatten_messages(value, _inner_schema(fields.get(key)) if fields else None, child))
    return found


# marshmallow's own messages, marked here so that they are in the catalogue and shown in the user's language
_MARSHMALLOW = (N_("Missing data for required field."), N_("Field may not be null."), N_("Invalid value."),
                N_("Not a valid string."), N_("Not a valid number."), N_("Number too large."),
                N_("Not a valid integer."), N_("Not a valid boolean."), N_("Not a valid date."),
                N_("Not a valid datetime."), N_("Not a valid list."), N_("Invalid type."), N_("Invalid input type."),
                N_("Not a valid mapping type."), N_("Unknown field."),
                N_("Special numeric values (nan or infinity) are not permitted."))
_PATTERNS = (
    (re.compile(r"^Must be one of: (?P<choices>.*)\.$", re.S), N_("Must be one of: {choices}.")),
    (re.compile(r"^Shorter than minimum length (?P<min>\d+)\.$"), N_("Shorter than minimum length {min}.")),
    (re.compile(r"^Longer than maximum length (?P<max>\d+)\.$"), N_("Longer than maximum length {max}.")),
    (re.compile(r"^Length must be between (?P<min>\d+) and (?P<max>\d+)\.$"),
     N_("Length must be between {min} and {max}.")),
    (re.compile(r'^"(?P<input>.*)" cannot be formatted as a date\.$', re.S), N_('"{input}" cannot be formatted as a date.')),
)


def translate_reason(message: str) -> str:
    """A validation message in the user's language: marshmallow's and our validators' fixed messages are looked up
    in the catalogue, marshmallow's formatted ones by their pattern; anything else is already translated."""
    message = str(message)
    for pattern, template in _PATTERNS:
        match = pattern.match(message)
        if match:
            return gettext(template).format(**match.groupdict())
    return gettext(message)


def _is_unknown(value: Any) -> bool:
    return isinstance(value, list) and "Unknown field." in value


def _loadable_fields(schema: Any) -> dict[str, Any] | None:
    """{name as written in the file: field} of a marshmallow schema (class or instance); None without one."""
    if schema is None:
        return None
    instance = schema() if isinstance(schema, type) else schema
    return {field.data_key or name: field for name, field in instance.fields.items() if not field.dump_only}


def _inner_schema(field: Any) -> Any:
    """The schema a nested field (or a list of nested) loads its items with; None for plain fields."""
    while field is not None and hasattr(field, "inner"):  # List(Nested(...))
        field = field.inner
    return getattr(field, "schema", None) if field is not None and hasattr(field, "nested") else None
