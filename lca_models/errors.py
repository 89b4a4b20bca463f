"""Typed errors of the data model: each names where the problem is and what to do about it."""

from __future__ import annotations

from typing import Any


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


def validation_errors(messages: Any, file: str | None = None) -> ModelErrors:
    """marshmallow's nested error messages -> one ModelError per problem, each with its path
    ("processes[2].inputs[0].amount") and the file: every schema in the project reports the same way."""
    return ModelErrors([ModelError(str(reason), where, file) for where, reason in _flatten(messages)])


def _flatten(messages: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, list):
        return [(path, str(m)) for m in messages]
    found = []
    for key, value in messages.items():
        if key == "_schema":
            child = path
        elif isinstance(key, int):
            child = f"{path}[{key}]"
        else:
            child = f"{path}.{key}" if path else str(key)
        found.extend(_flatten(value, child))
    return found
