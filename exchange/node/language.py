"""Which language a web page is in: the reader's choice (a cookie set by the switch links), else the browser's
`Accept-Language`, else English. Shared by every server-rendered page of the node (the dashboard, and any page
added beside it), so a reader chooses once for all of them.
"""

from __future__ import annotations

from flask import Request, Response, redirect

from lca_models import i18n

COOKIE = "pcf_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def choose_language(request: Request) -> str:
    """The page's language (an `i18n.LANGUAGES` name): the cookie, then `Accept-Language`, then English."""
    return (i18n.normalise(request.cookies.get(COOKIE)) or i18n.best_match(request.headers.get("Accept-Language"))
            or i18n.DEFAULT)


def language_response(tag: str, back_to: str, fallback: str) -> Response:
    """Remember `tag` (zh-CN, en) in the cookie and redirect to `back_to`, a path of this site only (never an
    absolute URL: no open redirect); an unknown tag changes nothing."""
    target = back_to if back_to.startswith("/") and not back_to.startswith("//") else fallback
    response = redirect(target)
    language = i18n.normalise(tag)
    if language:
        response.set_cookie(COOKIE, i18n.tag(language), max_age=COOKIE_MAX_AGE, path="/", secure=True, httponly=True,
                            samesite="Lax")
    return response
