"""A small server-rendered web UI for the node's operator: footprints, requests in and out, verification.

Who may look: only the node's admin. Everything shown here (every footprint, whoever it is shared with, every
request and who sent it) is commercially sensitive, and PACT clients are other companies, so a client credential
does not open the dashboard; a password set with `pcf node admin-password` does (stored as a scrypt hash in the
node database, checked in constant time). Without that password the dashboard stays closed. The UI only reads:
answering requests stays with the `pcf fulfil` / `pcf reject` commands.

The session is server-side (`sessions.py`): Flask's signed cookie (keyed with a per-node secret kept in the database,
Secure + HttpOnly + SameSite=Strict) holds an opaque id checked against the `dashboard_sessions` table on every page,
so logging out or changing the password ends it at once, in every worker; 8 hours. The login and logout forms carry
a CSRF token. Failed logins count per user and per address (`request_limit.py`): past either limit the login answers
429 with Retry-After before the password is hashed. Templates are
Jinja (autoescaped), charts are the same inline SVG as the HTML report: no build step, no script, no CDN.
Pages are in English or Simplified Chinese: the `pcf_lang` cookie set by the switch links, else the browser's
`Accept-Language` (`exchange/node/language.py`, `lca_models/i18n.py`).
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache, wraps
from typing import Any, Callable

from flask import Blueprint, Response, abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import desc, select
from werkzeug.security import check_password_hash, generate_password_hash

from exchange.charts import contribution_svg
from exchange.pact import PactMappingError, PactValidationError, load_footprint
from exchange.pact.disclosure import FULL
from exchange.pact.signing import verify
from lca_models import i18n
from lca_models.i18n import N_
from lca_models.i18n import gettext as _
from webhooks.outbox import Outbox

from .events import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, kind_of
from .keys import node_jwks
from .language import choose_language, language_response
from .received_views import add_received_views
from .request_limit import RateLimited, RequestLimiter, address_key
from .sessions import SESSION_LIFETIME, end_all_sessions, end_session, open_session, session_valid
from .storage import NodeStore, footprints, shares

ADMIN_HASH_SETTING = "dashboard-admin-password"
SESSION_KEY_NAME = "dashboard-session-key"
MIN_PASSWORD_LENGTH = 12
LIST_LIMIT = 200  # rows per table: the dashboard is an overview, the API and CLI hold the rest
ADMIN_USER = "login-user:admin"  # the rate-limit key of the dashboard's one user
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# the states and kinds the pages show, marked for the catalogue and shown in the page's language (`_(r.status)`)
SHOWN_STATES = (N_("received"), N_("fulfilled"), N_("rejected"), N_("waiting-for-credentials"), N_("sent"),
                N_("failed-to-send"), N_("pending"), N_("delivered"), N_("dead"), N_("fetched"), N_("failed"),
                N_("invalid"), N_("public"), N_("nobody"))


def set_admin_password(store: NodeStore, password: str) -> None:
    """Set (or replace) the dashboard password, logging every session out in the same transaction; ValueError when
    shorter than MIN_PASSWORD_LENGTH."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(_("the admin password must have at least {count} characters").format(count=MIN_PASSWORD_LENGTH))
    with store.transaction() as connection:
        store.set_setting(ADMIN_HASH_SETTING, generate_password_hash(password, method="scrypt"), connection)
        end_all_sessions(connection)


def _when(micros: int | None) -> str:
    return "" if micros is None else i18n.format_moment(_EPOCH + timedelta(microseconds=micros))


def _stamp(moment: datetime | None) -> str:
    return i18n.format_moment(moment)


def _event_kind(event_type: str) -> str:
    return {REQUEST_CREATED: N_("request"), REQUEST_FULFILLED: N_("answer: fulfilled"),
            REQUEST_REJECTED: N_("answer: rejected"), PUBLISHED: N_("published")}.get(kind_of(event_type) or "", event_type)


def _signature_summary(document: Any, trusted: dict) -> tuple[bool | None, str]:
    """(ok, detail) of the signature check against this node's own key; None when unsigned."""
    checks = {check.name: check for check in verify(document, trusted)}
    signature = checks["signature"]
    if signature.detail == "no signature extension":
        return None, "unsigned"
    return signature.ok, signature.detail


def _footprint_row(document_text: str, public: bool, orgs: list[str], trusted: dict) -> dict:
    document = json.loads(document_text)
    pcf = document.get("pcf", {})
    ok, detail = _signature_summary(document, trusted)
    return {"id": document.get("id"), "name": document.get("productNameCompany"),
            "product_ids": document.get("productIds", []), "status": document.get("status"),
            "pcf": pcf.get("pcfExcludingBiogenicUptake"),
            "unit": f"{pcf.get('declaredUnitAmount')} {pcf.get('declaredUnitOfMeasurement')}",
            "visible_to": "public" if public else (", ".join(sorted(orgs)) or "nobody"),
            "signature_ok": ok, "signature": detail, "created": document.get("created")}


def make_dashboard_blueprint(store: NodeStore, limiter: RequestLimiter, clock: Callable[[], datetime]) -> Blueprint:
    """The dashboard under /dashboard; registering it sets the app's session key and cookie policy. `limiter` counts
    failed logins ("login-user", "login-address")."""
    blueprint = Blueprint("dashboard", __name__, template_folder="templates")

    @blueprint.record_once
    def configure(state) -> None:
        app = state.app
        app.secret_key = store.secret(SESSION_KEY_NAME, lambda: secrets.token_urlsafe(48))
        app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                          SESSION_COOKIE_PATH="/dashboard", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)
        i18n.install_jinja(app.jinja_env)

    @blueprint.before_request
    def page_language() -> None:
        g.restore_language = i18n.activate(choose_language(request))

    @blueprint.teardown_request
    def previous_language(error: BaseException | None) -> None:
        g.pop("restore_language", lambda: None)()

    @blueprint.get("/language/<tag>")
    def language(tag: str):
        """The switch links: remember the choice in a cookie and go back to the page."""
        return language_response(tag, request.args.get("next", ""), url_for("dashboard.index"))

    def trusted() -> dict:
        return node_jwks(store)

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    def check_csrf() -> None:
        sent = request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            abort(Response(_("the form expired: reload the page and try again"), status=400,
                           mimetype="text/plain; charset=utf-8"))

    def logged_in() -> bool:
        """Is the cookie's session one the table still holds (once per request)?"""
        if "dashboard_admin" not in g:
            g.dashboard_admin = session_valid(store, session.get("sid"), clock())
        return g.dashboard_admin

    def admin_only(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not logged_in():
                return redirect(url_for("dashboard.login", next=request.path))
            return view(*args, **kwargs)
        return guarded

    add_received_views(blueprint, store, admin_only, trusted)

    @blueprint.context_processor
    def common() -> dict:
        return {"csrf_token": csrf_token, "logged_in": logged_in(), "current_language": i18n.current()}

    @blueprint.route("/login", methods=["GET", "POST"])
    def login():
        configured = store.setting(ADMIN_HASH_SETTING)
        error, status = None, 200
        if request.method == "POST":
            check_csrf()
            keys = (ADMIN_USER, address_key(request.remote_addr, "login-address"))
            try:
                limiter.check(*keys)
            except RateLimited as limited:
                page = render_template("dashboard/login.html", configured=bool(configured),
                                       error=N_("too many failed logins: try again later"))
                return Response(page, status=429, headers={"Retry-After": str(limited.retry_after)})
            password = request.form.get("password", "")
            # the dummy hash keeps a closed dashboard's answer as slow as a wrong password's
            if check_password_hash(configured or _dummy_hash(), password) and configured:
                session.clear()
                session.permanent = True
                session["sid"] = open_session(store, clock())
                target = request.args.get("next", "")
                return redirect(target if target.startswith("/dashboard/") else url_for("dashboard.index"))
            limiter.count(*keys)
            error, status = N_("wrong password"), 401
        return render_template("dashboard/login.html", configured=bool(configured), error=error), status

    @blueprint.post("/logout")
    def logout():
        check_csrf()
        if session.get("sid"):
            end_session(store, session["sid"])
        session.clear()
        return redirect(url_for("dashboard.login"))

    @blueprint.get("/")
    @admin_only
    def index():
        key = trusted()
        with store.reader.connect() as connection:
            rows = connection.execute(select(footprints.c.seq, footprints.c.v3_json, footprints.c.public)
                                      .order_by(desc(footprints.c.seq)).limit(LIST_LIMIT)).all()
            orgs: dict[int, list[str]] = {}
            if rows:
                for seq, org in connection.execute(select(shares.c.seq, shares.c.org)
                                                   .where(shares.c.seq.in_([r.seq for r in rows]))):
                    orgs.setdefault(seq, []).append(org)
        listed = [_footprint_row(r.v3_json, r.public, orgs.get(r.seq, []), key) for r in rows]
        before = request.args.get("events_before", "")
        page = store.recent_events(LIST_LIMIT + 1, int(before) if before.isdigit() and len(before) < 19 else None)
        older = page[LIST_LIMIT - 1]["pk"] if len(page) > LIST_LIMIT else None
        received = []
        for event in page[:LIST_LIMIT]:
            body = json.loads(event["body"])
            data = body.get("data", {}) if isinstance(body.get("data"), dict) else {}
            received.append({"pk": event["pk"], "kind": _event_kind(event["type"]), "status": event["status"],
                             "org": event["org"], "source": event["source"], "received": _when(event["received_us"]),
                             "criteria": {k: v for k, v in data.items() if k not in ("comment", "pfs", "pf")},
                             "comment": data.get("comment"),
                             "footprints": [pf.get("id") for pf in data.get("pfs", []) if isinstance(pf, dict)]})
        outgoing = []
        for item in reversed(Outbox(store.engine).items()[-LIST_LIMIT:]):
            try:
                body = json.loads(item["body"])
            except ValueError:
                body = {}
            outgoing.append({"pk": item["pk"], "kind": _event_kind(str(body.get("type", item["kind"]))),
                             "target": item["target"], "status": item["status"], "attempts": item["attempts"],
                             "created": _when(item["created_us"]), "delivered": _when(item["delivered_us"]),
                             "error": item["last_error"]})
        sent = [{"event_id": r.event_id, "status": r.status, "target": r.target, "criteria": r.criteria,
                 "comment": r.comment, "created": _stamp(r.created),
                 "answered": _stamp(r.answered), "answer": r.answer or {}}
                for r in store.list_sent_requests(LIST_LIMIT)]
        fetched = [{"id": r.footprint_id, "status": r.status, "org": r.org, "peer": r.peer, "version": r.version,
                    "received": _stamp(r.received), "error": r.error, "pk": r.pk, "channel": r.channel}
                   for r in store.list_received(LIST_LIMIT)]
        return render_template("dashboard/index.html", footprints=listed, total=store.count(), sent=sent,
                               requests=[e for e in received if e["kind"] == "request"],
                               answers=[e for e in received if e["kind"] != "request"], outgoing=outgoing,
                               fetched=fetched, limit=LIST_LIMIT, older_events=older)

    @blueprint.get("/footprints/<footprint_id>")
    @admin_only
    def footprint(footprint_id: str):
        stored = store.get(footprint_id, level=FULL)  # the operator sees every detail; buyers see their level
        if stored is None:
            return render_template("dashboard/missing.html", footprint_id=footprint_id), 404
        document = json.loads(stored.v3_json)
        checks = verify(document, trusted())
        try:
            loaded = load_footprint(document).footprint
        except (PactValidationError, PactMappingError):
            loaded = None
        chart = None
        if loaded is not None and loaded.computed and loaded.computed.contributions:
            unit = f"kgCO2e per {loaded.declared_unit_amount.normalize():f} {loaded.declared_unit_of_measurement}"
            chart = contribution_svg([(c.label, c.kgco2e) for c in loaded.computed.contributions], unit)
        return render_template("dashboard/footprint.html", document=document, footprint=loaded, checks=checks,
                               chart=chart, stored=stored, pretty=json.dumps(document, indent=2, ensure_ascii=False))

    return blueprint


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("carbon-exchange dashboard: no password set", method="scrypt")
