"""The one error type of the CBAM package."""

from __future__ import annotations


class CbamError(ValueError):
    """A CBAM input, lookup or report problem; the message says what and where (row, column, element)."""
