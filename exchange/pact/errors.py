"""Errors of PACT marshalling: a list of problems, each at a JSON Pointer into the document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def pointer(*parts: Any) -> str:
    """RFC 6901 JSON Pointer from path parts: ("pcf", "dqi", "temporalDQR") -> "/pcf/dqi/temporalDQR"."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True)
class PactIssue:
    """One problem (or, with severity "warning", one doubt) at a place in a PACT document."""

    pointer: str
    message: str
    severity: str = "error"

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class PactValidationError(ValueError):
    """A document that is not valid PACT: `issues` lists every problem found, with its pointer."""

    def __init__(self, issues: list[PactIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class PactMappingError(ValueError):
    """A footprint that the target PACT version cannot express (e.g. v2 needs a CPC code)."""
