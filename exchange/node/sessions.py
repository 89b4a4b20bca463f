"""Server-side dashboard sessions: the signed cookie carries an opaque id, the `dashboard_sessions` table says
whether it still opens the dashboard.

A session ends when its row goes: logging out deletes it, changing the admin password deletes every row (in the
transaction that stores the new hash), and a row past its expiry no longer counts. Only a SHA-256 of the id is kept,
so reading the database does not give a usable cookie (the id is 256 random bits: nothing to brute-force). The check
is one primary-key lookup per dashboard request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from .storage import NodeStore, dashboard_sessions, micros

SESSION_LIFETIME = timedelta(hours=8)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(store: NodeStore, now: datetime) -> str:
    """A new session's id (for the signed cookie); expired sessions are deleted on the way."""
    session_id = secrets.token_urlsafe(32)
    with store.transaction() as connection:
        connection.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_us <= micros(now)))
        connection.execute(insert(dashboard_sessions).values(id_hash=_hash(session_id), created_us=micros(now),
                                                             expires_us=micros(now + SESSION_LIFETIME)))
    return session_id


def session_valid(store: NodeStore, session_id: str | None, now: datetime) -> bool:
    """Does this id belong to a session that was neither ended nor expired?"""
    if not session_id:
        return False
    with store.reader.connect() as connection:
        expires = connection.execute(select(dashboard_sessions.c.expires_us)
                                     .where(dashboard_sessions.c.id_hash == _hash(session_id))).scalar()
    return expires is not None and expires > micros(now)


def end_session(store: NodeStore, session_id: str) -> None:
    with store.transaction() as connection:
        connection.execute(delete(dashboard_sessions).where(dashboard_sessions.c.id_hash == _hash(session_id)))


def end_all_sessions(connection: Connection) -> None:
    """Log every dashboard session out, in the caller's transaction (a password change)."""
    connection.execute(delete(dashboard_sessions))
