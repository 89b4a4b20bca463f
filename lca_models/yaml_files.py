"""Small YAML files read through a marshmallow schema (criteria, scenarios, meters): one way to say what is wrong,
an unknown field with the closest known names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

from .errors import ModelError, validation_errors
from .i18n import gettext as _


def load_yaml_file(path: Path | str, schema: Schema, what: str, text: str | None = None) -> Any:
    """`schema.load` of the YAML at `path` (or of `text`, naming it `path`); ModelError with the file when it
    cannot be read or parsed, ModelErrors with file and path for every schema problem at once."""
    where = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(_("cannot read the {what}: {reason}").format(what=_(what), reason=getattr(exc, "strerror", None)
                                                                            or exc), file=where) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelError(_("not valid YAML: {reason}").format(reason=exc), file=where) from None
    try:
        return schema.load(document if isinstance(document, dict) else {})
    except ValidationError as exc:
        raise validation_errors(exc.messages, where, schema) from None
