"""The supplier portal: a web page where a supplier without a node answers a footprint request.

    GET  /portal/<token>    the invitation: the products asked for, an upload field and a short form
    POST /portal/<token>    an upload (a PACT file) or the form; errors come back next to their fields, what was
                            typed kept; accepted, the footprints are stored and the link is used up

The link is the supplier's only credential (no account): `pcf node invite` makes it, single use, expiring; the token
is 256 random bits and only its hash is stored (`invites.py`). Every request counts against the caller's address and
the token (429 past the limits, before anything else is done: `request_limit.py`). The forms carry a CSRF token
bound to a cookie (double submit, the field being an HMAC of the cookie and the invitation under a node secret).
Uploads are limited in size (413). Pages are server-rendered Jinja, autoescaped, with no script and nothing fetched
from elsewhere, served with headers that forbid framing, sniffing, caching and referrers (the token is in the URL).
Unknown, used and expired links, a stale form and a flood all answer a page that says what happened, never a 500.

What a supplier submits is supplier-declared: kept as sent (an upload) or as the PACT v3 document the form makes
(`portal_form.py`), flagged in the store, never signed by this node. Template strings are marked for translation
(Jinja's i18n extension; null translations until the catalogues of issue 20 part B are wired in).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Callable

from flask import Blueprint, Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from exchange.pact.v3_schema import DECLARED_UNITS
from lca_models import i18n

from .bodies import drain
from .invites import Invite, InviteUsed, invite_by_token, record_submission, token_hash
from .language import choose_language
from .portal_form import GWP_SETS, STANDARDS, Submission, read_form, read_upload
from .request_limit import RateLimited, RequestLimiter, address_key
from .security_headers import add_security_headers
from .storage import NodeStore, StoreError

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
CSRF_COOKIE = "portal_csrf"
CSRF_KEY_NAME = "portal-csrf-key"


def make_portal_blueprint(store: NodeStore, limiter: RequestLimiter, max_upload_bytes: int,
                          clock: Callable[[], datetime]) -> Blueprint:
    """The portal under /portal: `limiter` counts requests by "address" and by "invite" (its kinds' limits)."""
    blueprint = Blueprint("portal", __name__, template_folder="templates")

    @blueprint.record_once
    def configure(state) -> None:
        i18n.install_jinja(state.app.jinja_env)

    @blueprint.before_request
    def page_language() -> None:
        """The supplier's language: the node's switch cookie, then the browser's Accept-Language (docs/i18n.md)."""
        g.restore_language = i18n.activate(choose_language(request))

    @blueprint.teardown_request
    def previous_language(error: BaseException | None) -> None:
        g.pop("restore_language", lambda: None)()

    def csrf_field(cookie: str, invite: Invite) -> str:
        key = store.secret(CSRF_KEY_NAME, lambda: secrets.token_urlsafe(32)).encode()
        return hmac.new(key, f"{cookie}|{invite.id}".encode(), hashlib.sha256).hexdigest()

    def page(template: str, status: int, cookie: str | None = None, **context) -> Response:
        response = Response(render_template(template, **context), status=status, mimetype="text/html")
        if cookie:
            response.set_cookie(CSRF_COOKIE, cookie, path="/portal/", secure=True, httponly=True, samesite="Strict")
        return response

    def message(kind: str, status: int, **context) -> Response:
        return page("portal/message.html", status, kind=kind, **context)

    def invitation_page(invite: Invite, status: int, submission: Submission | None = None, values: dict | None = None,
                        how: str = "") -> Response:
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        return page("portal/invitation.html", status, cookie=cookie, invite=invite, csrf=csrf_field(cookie, invite),
                    errors=submission.errors if submission else {}, values=values or {}, how=how,
                    units=[(unit, unit) for unit in DECLARED_UNITS], standards=STANDARDS,
                    gwp_sets=[(gwp, f"IPCC {gwp}") for gwp in GWP_SETS])

    @blueprint.after_request
    def headers(response: Response) -> Response:
        """The node's security headers (security_headers.py; no-referrer: the token is in the URL), and no index."""
        add_security_headers(response.headers)
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            drain(request)
            return message("too-large", 413, limit=max_upload_bytes)
        return message("bad-request", error.code or 400)

    @blueprint.route("/", defaults={"token": ""}, methods=["GET", "POST"])
    @blueprint.route("/<path:token>", methods=["GET", "POST"])  # a mangled link still gets the portal's page
    def invitation(token: str) -> Response:
        now = clock()
        try:
            limiter.hit(address_key(request.remote_addr), f"invite:{token_hash(token)}")
        except RateLimited as limited:
            response = message("busy", 429, retry=limited.retry_after)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        invite = invite_by_token(store, token) if TOKEN_PATTERN.fullmatch(token) else None
        if invite is None:
            return message("unknown", 404)
        if invite.state(now) != "open":
            return message(invite.state(now), 410, invite=invite)
        if request.method == "GET":
            return invitation_page(invite, 200)
        if (request.content_length or 0) > max_upload_bytes:
            drain(request)
            return message("too-large", 413, limit=max_upload_bytes)
        request.max_content_length = max_upload_bytes  # a chunked body without a length stops here too
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(request.form.get("csrf", ""), csrf_field(cookie, invite)):
            return message("stale-form", 400, token=token)
        how = request.form.get("how", "")
        if how == "upload":
            upload = request.files.get("file")
            submission = read_upload(upload.read() if upload else b"", invite)
        elif how == "form":
            submission = read_form(request.form, invite, now)
        else:
            return message("bad-request", 400)
        values = request.form.to_dict() if how == "form" else {}
        if submission.errors:
            return invitation_page(invite, 422, submission, values, how)
        try:
            ids = record_submission(store, invite, submission.documents, how, now)
        except InviteUsed:  # used or expired since this request looked
            fresh = invite_by_token(store, token) or invite
            return message("expired" if fresh.used is None else "used", 410, invite=fresh)
        except StoreError as error:
            submission.add("file" if how == "upload" else "", str(error))
            return invitation_page(invite, 422, submission, values, how)
        return page("portal/received.html", 200, invite=invite, ids=ids,
                    documents=[document for document, _version in submission.documents])

    return blueprint
