"""PACT v2.3 `$filter` on `/2/footprints`: the OData subset the spec allows, evaluated on each v2 footprint.

v2.3.3 Sec. 8.6.3 (request parameter Filter) allows only: the comparison operators `eq`, `lt`, `le`, `gt`, `ge` on
`created`, `updated`, `productCategoryCpc`, `geographyCountry`, `referencePeriodStart`, `referencePeriodEnd` (the
spec's examples write the last three under `pcf/`), the logical operator `and`, and the lambda operator `any` on
`productIds` and `companyIds` with only `eq` inside, e.g.
`(pcf/referencePeriodStart ge '2023-01-01T00:00:00.000Z') and productIds/any(productId:(productId eq 'urn:...'))`.
Sec. 8.6.1: a host that implements Filtering and does not support a statement MUST answer `NotImplemented`; so
anything beyond the subset (`or`, `not`, functions, other properties) is `NotImplemented`, and text that is not a
filter at all is `BadRequest`.

Times compare as instants (RFC 3339), other values as strings (OData `eq` is case-sensitive), except ids, which
compare case-insensitively as everywhere else in the node. A footprint without the property does not match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

_TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<colon>:)|(?P<text>'(?:[^']|'')*')|(?P<word>[A-Za-z_][\w/.]*)"
                    r"|(?P<other>\S))")
_OPERATORS = {"eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
              "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}
# filter property -> (path in the v2 footprint, is a time)
_PROPERTIES = {
    "created": (("created",), True),
    "updated": (("updated",), True),
    "productcategorycpc": (("productCategoryCpc",), False),
    "geographycountry": (("pcf", "geographyCountry"), False),
    "pcf/geographycountry": (("pcf", "geographyCountry"), False),
    "referenceperiodstart": (("pcf", "referencePeriodStart"), True),
    "pcf/referenceperiodstart": (("pcf", "referencePeriodStart"), True),
    "referenceperiodend": (("pcf", "referencePeriodEnd"), True),
    "pcf/referenceperiodend": (("pcf", "referencePeriodEnd"), True),
}
_COLLECTIONS = {"productids/any": "productIds", "companyids/any": "companyIds"}

Predicate = Callable[[dict], bool]


class FilterError(ValueError):
    """A `$filter` that cannot be served; `code` is the PACT error code (`BadRequest` or `NotImplemented`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    at: int = 0
    keys: dict[str, str] = field(default_factory=dict)  # key-table kind -> a value every match must have

    def peek(self) -> tuple[str, str]:
        return self.items[self.at] if self.at < len(self.items) else ("end", "")

    def take(self, kind: str, what: str) -> str:
        found, value = self.peek()
        if found != kind:
            raise FilterError("BadRequest", f"$filter: expected {what}, found {value or 'the end'!r}")
        self.at += 1
        return value


def _tokens(text: str) -> _Tokens:
    items, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing blanks are left
            break
        position = match.end()
        kind = match.lastgroup
        items.append((kind, match.group(kind)))
    return _Tokens(items)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _literal(tokens: _Tokens) -> str:
    return tokens.take("text", "a quoted value ('...')")[1:-1].replace("''", "'")


def _comparison(name: str, tokens: _Tokens) -> Predicate:
    key = name.lower()
    if key not in _PROPERTIES:
        raise FilterError("NotImplemented", f"$filter on {name!r} is not supported (v2.3: created, updated, "
                                            "productCategoryCpc, geographyCountry, referencePeriodStart/End, "
                                            "productIds/any, companyIds/any)")
    path, is_time = _PROPERTIES[key]
    operator = tokens.take("word", "a comparison operator (eq, lt, le, gt, ge)")
    if operator.lower() not in _OPERATORS:
        raise FilterError("NotImplemented", f"$filter operator {operator!r} is not supported (eq, lt, le, gt, ge)")
    compare = _OPERATORS[operator.lower()]
    literal = _literal(tokens)
    if path == ("pcf", "geographyCountry") and operator.lower() == "eq":
        tokens.keys.setdefault("geography", literal)
    wanted = _instant(literal) if is_time else literal
    if wanted is None:
        raise FilterError("BadRequest", f"$filter: {literal!r} is not a date-time (RFC 3339)")

    def holds(footprint: dict) -> bool:
        value: Any = footprint
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        value = _instant(value) if is_time else value
        return isinstance(value, type(wanted)) and compare(value, wanted)

    return holds


def _any(collection: str, tokens: _Tokens) -> Predicate:
    tokens.take("open", "'(' after any")
    variable = tokens.take("word", "a lambda variable")
    tokens.take("colon", "':' after the lambda variable")
    depth = 0
    while tokens.peek()[0] == "open":
        tokens.take("open", "'('")
        depth += 1
    if tokens.take("word", f"{variable}") != variable:
        raise FilterError("NotImplemented", "$filter: inside any(...) only `variable eq '...'` is supported")
    if tokens.take("word", "eq").lower() != "eq":
        raise FilterError("NotImplemented", "$filter: inside any(...) only the eq operator is supported")
    wanted = _literal(tokens).lower()
    tokens.keys.setdefault("product" if collection == "productIds" else "company", wanted)
    for _ in range(depth + 1):
        tokens.take("close", "')'")
    return lambda footprint: any(isinstance(v, str) and v.lower() == wanted for v in footprint.get(collection) or ())


def _clause(tokens: _Tokens) -> Predicate:
    kind, value = tokens.peek()
    if kind == "open":
        tokens.take("open", "'('")
        inner = _conjunction(tokens)
        tokens.take("close", "')'")
        return inner
    name = tokens.take("word", "a property")
    if name.lower() in _COLLECTIONS:
        return _any(_COLLECTIONS[name.lower()], tokens)
    if name.lower() in ("not", "contains", "startswith", "endswith") or tokens.peek()[0] == "open":
        raise FilterError("NotImplemented", f"$filter: {name!r} is not supported (v2.3 allows comparisons, and, any)")
    return _comparison(name, tokens)


def _conjunction(tokens: _Tokens) -> Predicate:
    clauses = [_clause(tokens)]
    while True:
        kind, value = tokens.peek()
        if kind != "word" or value.lower() not in ("and", "or"):
            break
        if value.lower() == "or":
            raise FilterError("NotImplemented", "$filter: `or` is not supported (v2.3 allows `and` only)")
        tokens.take("word", "and")
        clauses.append(_clause(tokens))
    return lambda footprint: all(clause(footprint) for clause in clauses)


def _parsed(text: str) -> tuple[Predicate, _Tokens]:
    tokens = _tokens(text)
    if not tokens.items:
        raise FilterError("BadRequest", "$filter is empty")
    predicate = _conjunction(tokens)
    if tokens.peek()[0] != "end":
        raise FilterError("BadRequest", f"$filter: unexpected {tokens.peek()[1]!r}")
    return predicate, tokens


def parse_filter(text: str) -> Predicate:
    """A predicate over v2 footprint documents; FilterError (BadRequest or NotImplemented) for what it cannot do."""
    return _parsed(text)[0]


def index_criteria(text: str) -> dict[str, str]:
    """Key-table criteria (kind -> value, as the node's key table holds them) that every footprint `text` accepts
    must meet: the value of a `productIds/any(... eq ...)`, `companyIds/any(...)` or `geographyCountry eq` clause.
    With `and` the only connective, each clause is required, so listing only footprints with these keys (an index
    range) and then applying the predicate finds the same footprints as reading every visible one."""
    return _parsed(text)[1].keys
