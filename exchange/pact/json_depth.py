"""How deeply a JSON text nests, measured before it is parsed.

A body nested hundreds of levels deep costs the parser and every recursive walk after it (validation, NUL checks,
serialisation) a Python frame per level, and past the interpreter's recursion limit a RecursionError. Measuring on
the text first lets a reader refuse it cheaply: strings are cut out with one regular expression (brackets inside
them do not nest), and the depth is the running sum of the brackets left, computed in C by `itertools.accumulate`.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 64  # PACT documents nest about 6 levels; a CloudEvent with footprints inside about 9
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar); for malformed text an estimate the
    parser will reject anyway."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
