"""The response headers every answer of the node carries, in one place: the app, the portal and the server's own
refusals (server.py) all take them from here.

The node is TLS-only, so HSTS always holds; nothing it serves is meant to be framed, sniffed, or to pass its URL
on (the portal's links carry their token in the path). The CSP is the strictest that the dashboard and portal
pages render under: no script anywhere, inline styles and same-origin or data: images, forms posting to the node
itself; for JSON it simply forbids everything.
"""

from __future__ import annotations

from werkzeug.datastructures import Headers

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")

SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
}


def add_security_headers(headers: Headers) -> None:
    """Set each security header a handler has not set itself (a page may carry a stricter or looser one)."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
