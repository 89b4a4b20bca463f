"""Request bodies the node refuses: read and dropped, so the client gets the answer instead of a reset connection."""

from __future__ import annotations

from flask import Request


def drain(request: Request, cap: int = 16 * 1024 * 1024) -> None:
    """Read (and drop) an over-long body, up to `cap` bytes, before answering 413."""
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, cap)
    try:
        while remaining > 0 and stream is not None:
            chunk = stream.read(min(65536, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except OSError:
        pass
