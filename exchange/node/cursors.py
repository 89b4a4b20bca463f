"""Opaque pagination cursors: sealed with the node's key, bound to the caller's organisation and listing.

A cursor holds one number, the publication sequence of the last footprint the page showed (a footprint the caller
may see), sealed with AES-SIV (RFC 5297, `cryptography`) under a key kept in the node database, so every worker
process opens every other's cursors. The caller's organisation, the API version and the listing's filter are the
associated data: a cursor replayed by another organisation, on another filter, or altered by one bit does not open,
and is refused exactly as a malformed one. AES-SIV is deterministic on purpose: the same position of the same
listing for the same caller seals to the same bytes, so a next link is a function of what the caller can see and
nothing else (another organisation's private publication does not change it; tests/node/test_cursors.py).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

KEY_NAME = "pagination-cursor-key"  # NodeStore.secret name: 64 random bytes (AES-256-SIV), base64
_UNBOUND = ("cursor", "limit")  # query parameters that are not part of what the listing is
CACHE_SIZE = 10_000  # cursors sealed or opened by this process, remembered (cleared when full)


class CursorError(Exception):
    """A cursor that is malformed, altered, or not this caller's for this listing (all alike)."""


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def listing_of(version: str, parameters: Iterable[tuple[str, str]]) -> str:
    """What a cursor is bound to besides the caller: the API version and its filter, as canonical text (parameter
    names lower-cased, pairs sorted; `limit`, `cursor` and ignored `x-` parameters left out)."""
    pairs = sorted((name.lower(), value) for name, value in parameters
                   if name.lower() not in _UNBOUND and not name.lower().startswith("x-"))
    return version + "\x00" + "\x00".join(f"{name}\x01{value}" for name, value in pairs)


class CursorSeal:
    """Seals and opens cursors with one node key. Sealing is deterministic, so what was sealed or opened once is
    remembered (an AES-SIV operation costs about as much as the rest of a list request's own work)."""

    def __init__(self, key: str) -> None:
        self._aead = AESSIV(base64.b64decode(key))
        self._known: dict[tuple[str, str, str | int], str | int] = {}

    def _remember(self, key: tuple, value: str | int) -> None:
        if len(self._known) >= CACHE_SIZE:
            self._known.clear()
        self._known[key] = value

    def seal(self, org: str, listing: str, after: int) -> str:
        cursor = self._known.get((org, listing, after))
        if cursor is None:
            sealed = self._aead.encrypt(after.to_bytes(8, "big"), [org.encode(), listing.encode()])
            cursor = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
            self._remember((org, listing, after), cursor)
        return cursor

    def open(self, org: str, listing: str, cursor: str) -> int:
        """The position sealed in `cursor`; CursorError for anything that is not a cursor this caller was given
        for this listing."""
        after = self._known.get((org, listing, cursor))
        if after is not None:
            return after
        try:
            if len(cursor) > 64:
                raise ValueError
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = self._aead.decrypt(sealed, [org.encode(), listing.encode()])
        except (ValueError, binascii.Error, InvalidTag, UnicodeEncodeError):
            raise CursorError("malformed pagination cursor") from None
        after = int.from_bytes(plain, "big")
        self._remember((org, listing, cursor), after)
        return after
