"""The dashboard's pages of received footprints: what peers sent and what suppliers declared through the portal.

    /dashboard/received/        every received footprint: product, PCF, who sent it, how, and its verification
    /dashboard/received/<pk>    one of them: the checks, who signed it (or that nobody did), and the document

A footprint fetched from a peer is checked with `exchange.pact.signing.verify` against the keys the operator trusts
(`pcf node trust --url PEER --jwks FILE`, kept per peer) and this node's own: a valid signature names its key and the
peer that key is trusted for. A footprint submitted through the portal is supplier-declared and unsigned: the page
says so instead of reporting a failed signature, as it says when a signature's key is not trusted (yet). A schema
failure or a signature that does not verify is a failure. The pages only read, like the rest of the dashboard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, render_template

from exchange.pact import PactMappingError, PactValidationError, load_footprint
from exchange.pact.signing import FAILED, SIGNATURE_SCHEMA, Check, verify

from .storage import PORTAL, NodeStore, ReceivedFootprint

LIST_LIMIT = 200


@dataclass(frozen=True)
class Finding:
    """A check as the page shows it: "ok", "warning" (not done, or the spec allows it) or "failed"."""

    name: str
    state: str
    detail: str


def _document(item: ReceivedFootprint) -> Any:
    try:
        return json.loads(item.document) if item.document else None
    except ValueError:
        return None


def _signer(kid: str, trusted: dict[str, dict], own_kids: set[str]) -> str:
    if kid in own_kids:
        return "this node's own key"
    origins = sorted(origin for origin, jwks in trusted.items()
                     if any(isinstance(k, dict) and k.get("kid") == kid for k in jwks.get("keys", [])))
    return f"a key you trust for {', '.join(origins)}" if origins else "a trusted key"


def findings(item: ReceivedFootprint, trusted: dict[str, dict], own: dict) -> list[Finding]:
    """The verification of a received footprint, each check with its state and a sentence a buyer can act on."""
    document = _document(item)
    if document is None:
        return [Finding("document", "failed", item.error or "nothing was received (yet)")]
    own_kids = {k.get("kid") for k in own.get("keys", []) if isinstance(k, dict)}
    shown = []
    for check in verify(document, [own, *trusted.values()]):
        shown.append(_finding(check, item, document, trusted, own_kids))
    return shown


def _finding(check: Check, item: ReceivedFootprint, document: dict, trusted: dict[str, dict],
             own_kids: set[str]) -> Finding:
    if check.name == "signature":
        if check.ok:
            kid = next(e["data"]["kid"] for e in document["extensions"]  # verified: exactly one, well formed
                       if isinstance(e, dict) and e.get("dataSchema") == SIGNATURE_SCHEMA)
            return Finding("signature", "ok", f"{check.detail}: {_signer(kid, trusted, own_kids)}")
        if check.detail == "no signature extension":
            if item.channel == PORTAL:
                return Finding("signature", "warning", "supplier-declared, unsigned: typed or uploaded by the supplier "
                               "through the portal; nobody but the supplier vouches for these figures")
            return Finding("signature", "warning", "unsigned: nothing shows who computed this footprint")
        if "is not among the trusted keys" in check.detail:
            return Finding("signature", "warning", f"{check.detail}: not checked; trust the sender's keys with "
                           f"`pcf node trust --url {item.peer} --jwks FILE`")
        return Finding("signature", "failed", check.detail)
    if check.name == "consistency" and not check.ok and "not checked" not in check.detail:
        return Finding("consistency", "warning", check.detail)  # the spec's own examples carry such totals
    return Finding(check.name, "ok" if check.ok else "failed" if check.status == FAILED else "warning", check.detail)


def _summary(item: ReceivedFootprint, shown: list[Finding]) -> dict:
    document = _document(item)
    pcf = document.get("pcf", {}) if isinstance(document, dict) else {}
    try:
        loaded = load_footprint(document).footprint if isinstance(document, dict) else None
    except (PactValidationError, PactMappingError):
        loaded = None
    worst = "failed" if any(f.state == "failed" for f in shown) else (
        "warning" if any(f.state == "warning" for f in shown) else "ok")
    signature = next((f for f in shown if f.name == "signature"), shown[0])
    return {"pk": item.pk, "id": item.footprint_id, "status": item.status, "org": item.org, "peer": item.peer,
            "channel": item.channel, "version": item.version, "invite": item.invite_id,
            "received": "" if item.received is None else item.received.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "name": (loaded.product_name_company if loaded else
                     (document.get("productNameCompany") if isinstance(document, dict) else None)),
            "products": list(loaded.product_ids) if loaded else [],
            "pcf": loaded.pcf_excluding_biogenic_uptake if loaded else pcf.get("pcfExcludingBiogenicUptake"),
            "unit": (f"{loaded.declared_unit_amount.normalize():f} {loaded.declared_unit_of_measurement}"
                     if loaded else ""),
            # PACT's referencePeriodEnd is exclusive: people read the last day the period covers
            "period": (f"{loaded.reference_period_start:%Y-%m-%d} – {loaded.reference_period_last_day:%Y-%m-%d}"
                       if loaded else ""),
            "worst": worst, "signature": signature, "error": item.error}


def add_received_views(blueprint: Blueprint, store: NodeStore, admin_only: Callable, own_jwks: Callable[[], dict]) -> None:
    """Register the received-footprint pages on the dashboard blueprint, behind its admin check."""

    @blueprint.get("/received/")
    @admin_only
    def received_list():
        trusted, own = store.trusted(), own_jwks()
        items = [_summary(item, findings(item, trusted, own)) for item in store.list_received(LIST_LIMIT)]
        return render_template("dashboard/received.html", items=items, limit=LIST_LIMIT, peers=sorted(trusted))

    @blueprint.get("/received/<int:pk>")
    @admin_only
    def received_footprint(pk: int):
        item = store.get_received(pk)
        if item is None:
            return render_template("dashboard/missing.html", footprint_id=f"received #{pk}"), 404
        checks = findings(item, store.trusted(), own_jwks())
        document = _document(item)
        return render_template("dashboard/received_footprint.html", item=_summary(item, checks), checks=checks,
                               document=document if isinstance(document, dict) else {},
                               pretty=json.dumps(document, indent=2, ensure_ascii=False) if document is not None else "")
