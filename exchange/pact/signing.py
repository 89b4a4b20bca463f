"""Signatures and provenance for PACT ProductFootprints, carried as PACT `DataModelExtension`s.

Why: a footprint passed down a supply chain is only worth what its origin is worth. A signature lets a buyer
check that the document is the one its supplier published, unchanged, whoever relayed it; provenance lets the
buyer walk from a footprint to the supplier footprints it was computed from and check each is the very
document used.

    key = SigningKey.generate()                   # Ed25519; kid = RFC 7638 thumbprint
    signed = sign(document, key, signed_at)       # a new document with a signature extension
    verify(signed, jwks([key]))                   # -> [Check(schema), Check(consistency), Check(signature), Check(provenance)]
    verify_chain(signed, trusted, fetch)          # verify, then each declared upstream, recursively

Format (see schemas/*.json and docs/pact-mapping.md):
- Signature: extension `urn:carbon-exchange:extension:signature:1.0.0` whose `data` is
  {alg: "EdDSA", kid, canonicalization: "RFC8785", signedAt, jws}. `jws` is a compact JWS with a detached,
  unencoded payload (RFC 7797, `b64: false`, so PyJWT adds `crit: ["b64"]`): the payload is the RFC 8785
  canonical JSON of the document without its signature extension. Canonical JSON makes the signature survive
  any re-serialisation (key order, whitespace, number spelling) while every value, every other extension
  included, is covered. The protected header is {alg, kid, typ: "pact+jcs", signedAt}: `signedAt` sits in the
  header as well because the extension's `data` is outside the payload, and only the header makes it
  tamper-evident.
- Provenance: extension `urn:carbon-exchange:extension:provenance:1.0.0` whose `data` is
  {upstream: [{id, digest, url?}]}, the digest being `canonical_digest` of the upstream document. The digest
  ignores the upstream's signature so that re-signing (key rotation) does not break the chains built on it, and its
  status and disclosure extensions, so that deprecation and the level a reader was given do not either.
Both extensions are ordinary PACT extensions: the lenient loader keeps them verbatim, so a signed document
survives `to_v3(from_v3(signed).footprint)` and still verifies.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from typing import Any, Callable

import jwt
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jsonschema import Draft202012Validator, FormatChecker

from . import load_footprint
from .errors import PactIssue, PactMappingError, PactValidationError
from .own_extensions import BREAKDOWN, COMPUTED, EXTENSION_SPEC_VERSION

__all__ = [
    "FAILED", "OK", "PROVENANCE_SCHEMA", "SIGNATURE_SCHEMA", "UNCHECKED", "WARNING", "Check", "SigningKey",
    "bound_jwk", "canonical_digest", "jwks", "provenance_extension", "sign", "signature_of", "signer_of", "verify",
    "verify_chain",
]

SIGNATURE_SCHEMA = "urn:carbon-exchange:extension:signature:1.0.0"
PROVENANCE_SCHEMA = "urn:carbon-exchange:extension:provenance:1.0.0"
DISCLOSURE_SCHEMAS = (COMPUTED, BREAKDOWN)  # present or not depending on the disclosure level: outside the digest

ALGORITHM = "EdDSA"
CANONICALIZATION = "RFC8785"
JWS_TYPE = "pact+jcs"
# Warnings of the loader that say the pcf totals do not add up (v3 names, and v2's including figure).
_TOTAL_POINTERS = ("/pcf/pcfExcludingBiogenicUptake", "/pcf/pcfIncludingBiogenicUptake", "/pcf/pCfIncludingBiogenic")
_MAX_CHAIN_DEPTH = 64  # a fetch callback serving ever new documents must not exhaust the stack
# Members a node adds to each JWK of its JWKS (RFC 7517 Sec. 4 allows members beyond the registered ones): whose
# key it is (the organisation's name and PACT company ids, the node serving it), when it was made (`iat`, a JWT
# NumericDate) and, once revoked, from when its signatures no longer count (`revokedAt`, NumericDate).
JWK_ORGANISATION, JWK_COMPANY_IDS, JWK_HOST = "companyName", "companyIds", "host"
JWK_CREATED, JWK_REVOKED = "iat", "revokedAt"


# --- keys


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: the required members of an OKP key, lexicographic order, no whitespace."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _b64url(hashlib.sha256(canonical).digest())


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with its key id.

    Ed25519 because its signatures are small, deterministic and have no parameters to get wrong; the kid is
    the RFC 7638 thumbprint so that it is derived from the key itself and anyone can recompute it.
    """

    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key; its kid is its thumbprint."""
        private_key = Ed25519PrivateKey.generate()
        return cls(private_key, _thumbprint(private_key.public_key()))

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        """Load an unencrypted PKCS#8 PEM Ed25519 private key (what `to_pem` writes); ValueError otherwise."""
        private_key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"not an Ed25519 private key: {type(private_key).__name__}")
        return cls(private_key, _thumbprint(private_key.public_key()))

    def to_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM, to be stored with restrictive file permissions."""
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode("ascii")

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 8037 OKP), ready to publish in a JWKS for verifiers."""
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_public(self.private_key.public_key())),
                "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set of the keys' public halves: what a signer publishes and a verifier trusts."""
    return {"keys": [key.public_jwk() for key in keys]}


def bound_jwk(public_jwk: dict[str, Any], organisation: str | None, company_ids: tuple[str, ...], host: str | None,
              created: datetime | None, revoked: datetime | None) -> dict[str, Any]:
    """A public JWK with the members binding it to its organisation (see JWK_ORGANISATION ...), absent ones left out.

    Why in the JWK: a verifier that trusts a node's JWKS then learns from the very key that checked a signature
    who signed (and `verify` fails a signature whose footprint names other company ids, or made after revocation).
    """
    jwk = dict(public_jwk)
    if organisation:
        jwk[JWK_ORGANISATION] = organisation
    if company_ids:
        jwk[JWK_COMPANY_IDS] = list(company_ids)
    if host:
        jwk[JWK_HOST] = host
    if created is not None:
        jwk[JWK_CREATED] = int(created.timestamp())
    if revoked is not None:
        jwk[JWK_REVOKED] = revoked.timestamp()  # NumericDate may be non-integer (RFC 7519 Sec. 2): a signature made
        # earlier in the same second as the revocation still stands
    return jwk


# --- canonical form and digest


def _is_extension(item: Any, schema: str) -> bool:
    return isinstance(item, dict) and item.get("dataSchema") == schema


def _without_signature(document: dict[str, Any]) -> dict[str, Any]:
    """The document as signed: every signature extension removed, and `extensions` dropped when it empties.

    Dropping the emptied list makes an unsigned document and its signed copy canonicalise to the same bytes.
    """
    stripped = dict(document)
    extensions = document.get("extensions")
    if isinstance(extensions, list):
        kept = [item for item in extensions if not _is_extension(item, SIGNATURE_SCHEMA)]
        if kept:
            stripped["extensions"] = kept
        else:
            del stripped["extensions"]
    return stripped


def _canonical_payload(document: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of the document without signature: independent of key order and spelling of JSON."""
    return rfc8785.dumps(_without_signature(document))


def _digest_view(document: dict[str, Any]) -> dict[str, Any]:
    """The document as its digest sees it: without `status` and without the disclosure extensions (computed details,
    breakdown), so every disclosure level of a footprint, and the footprint once Deprecated, have one digest."""
    view = {name: value for name, value in document.items() if name != "status"}
    extensions = document.get("extensions")
    if isinstance(extensions, list):
        kept = [item for item in extensions if not any(_is_extension(item, schema) for schema in DISCLOSURE_SCHEMAS)]
        if kept:
            view["extensions"] = kept
        else:
            del view["extensions"]
    return view


def canonical_digest(document: dict[str, Any]) -> str:
    """"sha256:" + hex SHA-256 of the RFC 8785 canonical JSON of the document without any signature extension,
    its `status` and the extensions whose presence depends on the disclosure level (`_digest_view`).

    It names a footprint's content: the same for any serialisation of it, unchanged when the document is re-signed,
    so provenance pinned to it outlives key rotation, the same at every disclosure level (a buyer fetching the
    summary checks the document its supplier computed from, whatever level that supplier was given) and unchanged
    when the footprint is Deprecated (the one change PACT allows). The PACT fields and the other extensions
    (provenance included) are covered; the signature of each served document covers everything. Raises
    rfc8785.CanonicalizationError (a ValueError) for what JSON cannot carry exactly (NaN, integers beyond 2**53).
    """
    return "sha256:" + hashlib.sha256(_canonical_payload(_digest_view(document))).hexdigest()


# --- extension data schemas


@cache
def _validator(file_name: str) -> Draft202012Validator:
    text = resources.files("exchange.pact").joinpath("schemas", file_name).read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _schema_errors(data: Any, file_name: str) -> list[str]:
    errors = sorted(_validator(file_name).iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


_SIGNATURE_FILE = "signature-extension-1.0.0.json"
_PROVENANCE_FILE = "provenance-extension-1.0.0.json"


def provenance_extension(upstream: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """A PACT DataModelExtension declaring the supplier footprints this one was computed from.

    Each entry is (footprint id, its `canonical_digest`, URL where it can be fetched or None). The digest pins
    the exact document used, so a buyer can tell a supplier footprint that was later changed from the one the
    figures rest on. ValueError when an entry does not fit the provenance schema: better refused when written
    than found wrong by every buyer.
    """
    entries = []
    for footprint_id, digest, url in upstream:
        entry = {"id": footprint_id, "digest": digest}
        if url is not None:
            entry["url"] = url
        entries.append(entry)
    data = {"upstream": entries}
    errors = _schema_errors(data, _PROVENANCE_FILE)
    if errors:
        raise ValueError("invalid provenance: " + "; ".join(errors))
    return {"specVersion": EXTENSION_SPEC_VERSION, "dataSchema": PROVENANCE_SCHEMA, "data": data}


# --- signing


def _rfc3339_utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signed_at must be timezone-aware: a naive time does not say when the signature was made")
    utc = moment.astimezone(timezone.utc)
    return utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")


def sign(document: dict[str, Any], key: SigningKey, signed_at: datetime) -> dict[str, Any]:
    """A new document: `document` with any previous signature replaced by one made now with `key`.

    The input is not modified (the result is a deep copy). The signature covers the RFC 8785 canonical JSON of
    the document without its signature extension, i.e. every field and every other extension, so any change to
    any value breaks it while re-serialising the JSON does not. One signature per document: re-signing
    replaces, so the signed payload is always well defined.
    """
    signed = copy.deepcopy(_without_signature(document))
    signed_at_text = _rfc3339_utc(signed_at)
    headers = {"kid": key.kid, "typ": JWS_TYPE, "signedAt": signed_at_text}
    token = jwt.api_jws.PyJWS().encode(_canonical_payload(signed), key.private_key, algorithm=ALGORITHM,
                                       headers=headers, is_payload_detached=True)
    extension = {"specVersion": EXTENSION_SPEC_VERSION, "dataSchema": SIGNATURE_SCHEMA,
                 "data": {"alg": ALGORITHM, "kid": key.kid, "canonicalization": CANONICALIZATION,
                          "signedAt": signed_at_text, "jws": token}}
    signed["extensions"] = [*signed.get("extensions", []), extension]
    return signed


def signature_of(document: Any) -> dict[str, Any] | None:
    """The `data` of the document's one signature extension (kid, signedAt, ...), or None when unsigned."""
    extensions = document.get("extensions") if isinstance(document, dict) else None
    found = [item for item in extensions if _is_extension(item, SIGNATURE_SCHEMA)] if isinstance(extensions, list) else []
    data = found[0].get("data") if len(found) == 1 else None
    return data if isinstance(data, dict) else None


# --- verification


OK, WARNING, UNCHECKED, FAILED = "ok", "warning", "unchecked", "failed"
SYMBOLS = {OK: "✓", WARNING: "⚠", UNCHECKED: "⚠", FAILED: "✗"}


@dataclass(frozen=True)
class Check:
    """One verification outcome: a reader sees what was checked, how it came out, and why.

    `status` is OK (checked and it holds), WARNING (checked; a finding the spec allows, e.g. totals that do
    not add up), UNCHECKED (not checked, e.g. an upstream not reachable: nothing was established either way)
    or FAILED (checked and it does not hold). Only OK is `ok`: a verifier never rounds "not checked" up.
    """

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]


def _trusted_keys(trusted: dict | list[dict]) -> list[Any]:
    sets = trusted if isinstance(trusted, list) else [trusted]
    found = []
    for jwk_set in sets:
        keys = jwk_set.get("keys") if isinstance(jwk_set, dict) else None
        if isinstance(keys, list):
            found.extend(keys)
    return found


def _public_key(jwk: Any) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("the trusted key is not an Ed25519 OKP JWK")
    if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
        raise ValueError("the trusted key is not for EdDSA signatures")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError("the trusted key has no x")
    return Ed25519PublicKey.from_public_bytes(_b64url_decode(x))


def _schema_check(document: Any) -> tuple[Check, tuple[PactIssue, ...] | None]:
    try:
        loaded = load_footprint(document)
    except (PactValidationError, PactMappingError, RecursionError) as exc:
        issues = getattr(exc, "issues", None) or [exc]
        first = "; ".join(str(issue) for issue in issues[:3])
        more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
        return Check("schema", FAILED, f"not valid PACT: {first}{more}"), None
    return Check("schema", OK, f"valid PACT {loaded.version}"), loaded.warnings


def _consistency_check(warnings: tuple[PactIssue, ...] | None) -> Check:
    if warnings is None:
        return Check("consistency", UNCHECKED, "not checked: the document is not valid PACT")
    totals = [w for w in warnings if w.pointer in _TOTAL_POINTERS]
    if totals:  # PACT does not require the totals to add up (its own example-2 does not): a warning
        return Check("consistency", WARNING, "; ".join(str(w) for w in totals))
    return Check("consistency", OK, "pcf totals agree with their parts")


def _moment(text: Any) -> datetime | None:
    """An RFC 3339 time (`signedAt`) as an aware datetime, or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _numeric_date(value: Any) -> datetime | None:
    """A JWT NumericDate (seconds since the epoch, RFC 7519) as an aware datetime, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def signer_of(jwk: dict[str, Any]) -> str:
    """Who a trusted key says it belongs to: "Organisation (https://host), key KID", or the kid alone."""
    name, host = jwk.get(JWK_ORGANISATION), jwk.get(JWK_HOST)
    where = f" ({host})" if isinstance(host, str) and host else ""
    if isinstance(name, str) and name:
        return f"{name}{where}, key {jwk.get('kid')}"
    return f"key {jwk.get('kid')}{where} (its JWK names no organisation)"


def _lower_set(values: Any) -> set[str]:
    return {v.lower() for v in values if isinstance(v, str)} if isinstance(values, list) else set()


def _binding_problem(document: dict[str, Any], jwk: dict[str, Any], signed_at: datetime | None) -> str | None:
    """Why a valid signature still does not stand: the key revoked by the time it signed, or a key bound to an
    organisation whose company ids the footprint does not carry (a node signs only its own footprints)."""
    revoked = _numeric_date(jwk.get(JWK_REVOKED))
    if revoked is not None and (signed_at is None or signed_at >= revoked):
        return (f"key {jwk.get('kid')} was revoked at {revoked:%Y-%m-%dT%H:%M:%SZ}; this signature is dated "
                f"{signed_at:%Y-%m-%dT%H:%M:%SZ}" if signed_at else f"key {jwk.get('kid')} is revoked")
    bound = _lower_set(jwk.get(JWK_COMPANY_IDS))
    if bound and not bound & _lower_set(document.get("companyIds")):
        return (f"signed by {signer_of(jwk)}, whose company ids are not the footprint's companyIds: "
                "a node signs only footprints its own organisation computed")
    return None


def _signature_check(document: Any, trusted: dict | list[dict]) -> Check:
    def fail(detail: str) -> Check:
        return Check("signature", FAILED, detail)

    if not isinstance(document, dict):
        return fail("not a JSON object")
    extensions = document.get("extensions")
    found = [item for item in extensions if _is_extension(item, SIGNATURE_SCHEMA)] if isinstance(extensions, list) else []
    if len(found) != 1:
        return fail("no signature extension" if not found else f"{len(found)} signature extensions, one expected")
    data = found[0].get("data")
    errors = _schema_errors(data, _SIGNATURE_FILE)
    if errors:
        return fail("malformed signature extension: " + "; ".join(errors[:3]))
    kid = data["kid"]
    candidates = [jwk for jwk in _trusted_keys(trusted) if isinstance(jwk, dict) and jwk.get("kid") == kid]
    if not candidates:
        return fail(f"unknown signer: key {kid} is not among the trusted keys")
    token = data["jws"]
    try:
        header = jwt.api_jws.PyJWS().get_unverified_header(token)
    except jwt.PyJWTError as exc:
        return fail(f"malformed JWS: {exc}")
    for name, expected in (("alg", ALGORITHM), ("kid", kid), ("typ", JWS_TYPE), ("signedAt", data["signedAt"])):
        if header.get(name) != expected:
            return fail(f"JWS header {name} is {header.get(name)!r}, expected {expected!r}")
    try:
        payload = _canonical_payload(document)
    except (ValueError, TypeError, RecursionError) as exc:
        return fail(f"cannot canonicalise the document: {exc}")
    problems = []
    for jwk in candidates:
        try:
            jwt.api_jws.PyJWS().decode_complete(token, key=_public_key(jwk), algorithms=[ALGORITHM],
                                                detached_payload=payload)
        except (jwt.PyJWTError, ValueError) as exc:
            problems.append(str(exc) or type(exc).__name__)
            continue
        problem = _binding_problem(document, jwk, _moment(header.get("signedAt")))
        if problem:
            return fail(problem)
        return Check("signature", OK, f"signed by {signer_of(jwk)}, at {data['signedAt']}")
    return fail("does not verify: " + "; ".join(problems))


def _provenance(document: Any) -> tuple[Check, list[dict[str, str]]]:
    extensions = document.get("extensions") if isinstance(document, dict) else None
    found = [item for item in extensions if _is_extension(item, PROVENANCE_SCHEMA)] if isinstance(extensions, list) else []
    if not found:
        return Check("provenance", OK, "no upstream footprints declared"), []
    if len(found) > 1:
        return Check("provenance", FAILED, f"{len(found)} provenance extensions, one expected"), []
    errors = _schema_errors(found[0].get("data"), _PROVENANCE_FILE)
    if errors:
        return Check("provenance", FAILED, "malformed provenance extension: " + "; ".join(errors[:3])), []
    upstream = found[0]["data"]["upstream"]
    return Check("provenance", OK, f"{len(upstream)} upstream footprint(s)"), upstream


def verify(document: dict[str, Any], trusted: dict | list[dict]) -> list[Check]:
    """Check a received footprint: [schema, consistency, signature, provenance], never raising for bad input.

    `trusted` is one JWKS or several (e.g. each supplier's). Every check is reported rather than stopping at
    the first failure, so a reader sees everything that is wrong; the document is trustworthy only when none
    failed or went unchecked. "consistency" is separate from "schema" because the spec's own examples carry
    totals that do not add up: a WARNING the receiver should see, not a reason to refuse the document as PACT.
    The signature check names the signer as its trusted JWK describes it, and fails for a key revoked by the
    signature's time or bound to an organisation that is not the footprint's company.
    """
    schema, warnings = _schema_check(document)
    return [schema, _consistency_check(warnings), _signature_check(document, trusted), _provenance(document)[0]]


def verify_chain(document: dict[str, Any], trusted: dict | list[dict],
                 fetch: Callable[[str, str | None], dict | None]) -> list[Check]:
    """`verify(document)`, then each upstream footprint its provenance declares, recursively.

    `fetch(id, url)` returns the upstream document or None when it cannot be had; an unreachable upstream is
    UNCHECKED (a supplier node being down does not make the buyer's document false, but nothing about the
    upstream was established). A fetch raising ValueError means the upstream answered with a document that is
    refused (e.g. duplicate keys): FAILED. A fetched upstream must match the declared id and digest
    ("upstream <id> digest"), then is verified in turn, its checks named "upstream <id>: ...". Each document is
    followed once (by digest), which stops cycles and repeated work on shared suppliers.
    """
    seen: set[str] = set()
    try:
        seen.add(canonical_digest(document))
    except (ValueError, TypeError, RecursionError):
        pass
    return _verify_chain(document, trusted, fetch, seen, 0)


def _verify_chain(document: Any, trusted: dict | list[dict], fetch: Callable[[str, str | None], dict | None],
                  seen: set[str], depth: int) -> list[Check]:
    checks = verify(document, trusted)
    _, upstream = _provenance(document)
    for entry in upstream:
        footprint_id, declared = entry["id"], entry["digest"]
        name = f"upstream {footprint_id}"
        if depth >= _MAX_CHAIN_DEPTH:
            checks.append(Check(name, UNCHECKED, f"provenance deeper than {_MAX_CHAIN_DEPTH} levels: not followed"))
            continue
        try:
            fetched = fetch(footprint_id, entry.get("url"))
        except ValueError as exc:  # an answer, but a document that is refused
            checks.append(Check(f"{name} digest", FAILED, f"the upstream document is refused: {exc}"))
            continue
        except Exception as exc:  # the caller's transport failing is "unreachable", not a verdict on the document
            checks.append(Check(name, UNCHECKED, f"not reachable: not checked ({exc})"))
            continue
        if fetched is None:
            checks.append(Check(name, UNCHECKED, "not reachable: not checked"))
            continue
        if not isinstance(fetched, dict):
            checks.append(Check(f"{name} digest", FAILED, f"fetched {type(fetched).__name__}, not a JSON object"))
            continue
        try:
            actual = canonical_digest(fetched)
        except (ValueError, TypeError, RecursionError) as exc:
            checks.append(Check(f"{name} digest", FAILED, f"cannot canonicalise the fetched document: {exc}"))
            continue
        problems = []
        if fetched.get("id") != footprint_id:
            problems.append(f"fetched document has id {fetched.get('id')!r}")
        if actual != declared:
            problems.append(f"digest {actual} differs from the declared {declared}")
        checks.append(Check(f"{name} digest", FAILED if problems else OK, "; ".join(problems) or f"matches {declared}"))
        if problems:
            continue  # not the document the figures rest on: verifying it would say nothing about them
        if actual in seen:
            checks.append(Check(name, OK, "already verified in this chain"))
            continue
        seen.add(actual)
        for check in _verify_chain(fetched, trusted, fetch, seen, depth + 1):
            checks.append(Check(f"{name}: {check.name}", check.status, check.detail))
    return checks
