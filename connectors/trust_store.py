"""The CA certificates an outbound HTTPS call trusts: the system's and certifi's, plus the bundles a user names.

Why one combined bundle: `requests` takes one `verify=` path, and a buyer checking a chain meets several
suppliers' nodes, some with a private CA (a two-tier chain is two files). Concatenating PEM bundles is what
OpenSSL itself reads as one trust store; the system CAs stay trusted so public nodes keep working.
"""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
from pathlib import Path

import certifi

__all__ = ["combined_ca_bundle"]


def _system_bundles() -> list[Path]:
    paths = ssl.get_default_verify_paths()
    found = [Path(p) for p in (paths.cafile, paths.openssl_cafile, certifi.where()) if p]
    return [p for p in dict.fromkeys(found) if p.is_file()]


def combined_ca_bundle(bundles: tuple[str, ...] | list[str]) -> str | bool:
    """A PEM file with the system CAs, certifi's and every file in `bundles` (removed at exit); True (the default
    trust) when no bundle is given. OSError when a named bundle cannot be read."""
    if not bundles:
        return True
    parts = [path.read_text(encoding="ascii", errors="replace") for path in _system_bundles()]
    parts += [Path(bundle).read_text(encoding="ascii") for bundle in bundles]
    handle, name = tempfile.mkstemp(prefix="pcf-trust-", suffix=".pem")
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write("\n".join(part.strip() + "\n" for part in parts))
    atexit.register(lambda: Path(name).unlink(missing_ok=True))
    return name
