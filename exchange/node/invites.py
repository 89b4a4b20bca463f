"""Invitations to the supplier portal: for suppliers who will never run a node.

    invite, token = create_invite(store, org, products, expires, now)   # the link carries `token`; only its hash is kept
    invite = invite_by_token(store, token)                               # None for a token nobody was given
    ids = record_submission(store, invite, documents, how, now)          # single use: InviteUsed the second time

An invitation is a request like the ones `pcf request` sends to a supplier's node, through another channel: creating
one records it among the sent requests (`pcf node requests --sent`, the dashboard), and the accepted submission
closes that request (fulfilled, channel portal) in the same transaction that stores the footprints and uses the link
up. The footprints are kept in `received_footprints` as the supplier gave them, `channel` portal: supplier-declared,
never signed by this node (a signature says who computed a footprint, and this node did not).

The token is 256 random bits (`secrets.token_urlsafe(32)`), so a plain SHA-256 of it is enough for the stored hash:
there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange.pact.fields import Urn

from .storage import (
    FULFILLED,
    PORTAL,
    SENT,
    SUBMITTED,
    NodeStore,
    StoreError,
    events,
    micros,
    portal_invites,
    received_footprints,
    sent_requests,
)

TOKEN_BYTES = 32  # 256 bits: unguessable, so the link alone is the supplier's credential
PORTAL_SUBMISSION = "carbon-exchange.portal.submission"  # events.type of a submission (the inbox shows it)
PORTAL_TARGET = "portal: "  # sent_requests.target prefix of a request made through an invitation


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class InviteUsed(StoreError):
    """The invitation was used (or expired) before this submission could use it."""


@dataclass(frozen=True)
class Invite:
    """One invitation as kept (never its token)."""

    id: str
    org: str
    products: tuple[str, ...]
    company_ids: tuple[str, ...]
    created: datetime
    expires: datetime
    requester: str | None = None
    email: str | None = None
    message: str | None = None
    used: datetime | None = None

    def state(self, now: datetime) -> str:
        """"used", "expired" or "open"."""
        if self.used is not None:
            return "used"
        return "expired" if now >= self.expires else "open"


def token_hash(token: str) -> str:
    """What is stored of a link's token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _moment(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _invite(row) -> Invite:
    return Invite(row.id, row.org, tuple(json.loads(row.products)), tuple(json.loads(row.company_ids)),
                  _moment(row.created_us), _moment(row.expires_us), row.requester, row.email, row.message,
                  _moment(row.used_us))


def create_invite(store: NodeStore, org: str, products: list[str], expires: timedelta, now: datetime,
                  company_ids: tuple[str, ...] = (), requester: str | None = None, email: str | None = None,
                  message: str | None = None) -> tuple[Invite, str]:
    """A new invitation and the token its link carries (shown once: only its hash is kept), recorded as a sent
    request in the same transaction. ValueError for an empty organisation, no product, an id that is no URN (PACT
    productIds and companyIds are URNs), or a lifetime <= 0."""
    products = list(dict.fromkeys(p.strip() for p in products if p.strip()))
    if not org.strip():
        raise ValueError("the supplier organisation (--org) is empty")
    if not products:
        raise ValueError("name at least one product (--product URN)")
    for value in (*products, *company_ids):
        try:
            Urn().deserialize(value)
        except ValidationError as error:
            raise ValueError(f"{error.messages[0]}: PACT product and company ids are URNs") from None
    if expires <= timedelta(0):
        raise ValueError("the link must expire in the future")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invite = Invite(str(uuid.uuid4()), org.strip(), tuple(products), tuple(company_ids), now, now + expires,
                    requester, email, message)
    with store.transaction() as connection:
        connection.execute(insert(portal_invites).values(
            id=invite.id, token_hash=token_hash(token), org=invite.org, company_ids=json.dumps(list(company_ids)),
            products=json.dumps(products), requester=requester, email=email, message=message,
            created_us=micros(now), expires_us=micros(invite.expires)))
        connection.execute(insert(sent_requests).values(
            event_id=invite.id, target=PORTAL_TARGET + invite.org, criteria=json.dumps({"productId": products}),
            comment=message, created_us=micros(now), status=SENT))
    return invite, token


def invite_by_token(store: NodeStore, token: str) -> Invite | None:
    """The invitation whose link carries `token`, or None."""
    with store.reader.connect() as connection:
        row = connection.execute(select(portal_invites).where(portal_invites.c.token_hash == token_hash(token))).first()
    return _invite(row) if row else None


def list_invites(store: NodeStore) -> list[Invite]:
    """Every invitation, newest first."""
    with store.reader.connect() as connection:
        rows = connection.execute(select(portal_invites).order_by(portal_invites.c.created_us.desc())).all()
    return [_invite(row) for row in rows]


def record_submission(store: NodeStore, invite: Invite, documents: list[tuple[dict, str]], how: str,
                      now: datetime) -> list[str]:
    """Keep the supplier's footprints ((document, "v3"|"v2") pairs, validated by the caller) as supplier-declared,
    use the link up and close its request as fulfilled, all in one transaction; returns the footprint ids.

    InviteUsed when the invitation was used or expired meanwhile (two submits at once: one wins, nothing of the
    other is written); StoreError when a footprint id was submitted through the portal before (ids are immutable).
    """
    ids = [str(document["id"]).lower() for document, _ in documents]
    try:
        with store.transaction() as connection:
            claimed = connection.execute(update(portal_invites).where(
                portal_invites.c.id == invite.id, portal_invites.c.used_us.is_(None),
                portal_invites.c.expires_us > micros(now)).values(used_us=micros(now)))
            if claimed.rowcount != 1:
                raise InviteUsed("this invitation was used or has expired")
            taken = connection.execute(select(received_footprints.c.footprint_id).where(
                received_footprints.c.peer == PORTAL, received_footprints.c.footprint_id.in_(ids))).scalars().all()
            if taken or len(set(ids)) != len(ids):
                raise StoreError(f"footprint {', '.join(sorted(set(taken)) or ids)} was submitted before: a footprint "
                                 "id is used once (PACT ids are immutable); give a changed footprint a new id")
            body = json.dumps({"inviteId": invite.id, "how": how, "pfIds": ids})
            event_pk = connection.execute(insert(events).values(
                event_id=str(uuid.uuid4()), source=PORTAL, type=PORTAL_SUBMISSION, org=invite.org,
                received_us=micros(now), body=body, status="received")).inserted_primary_key[0]
            for (document, version), footprint_id in zip(documents, ids):
                connection.execute(insert(received_footprints).values(
                    peer=PORTAL, footprint_id=footprint_id, org=invite.org, event_pk=event_pk, version=version,
                    status=SUBMITTED, document=json.dumps(document, ensure_ascii=False), received_us=micros(now),
                    channel=PORTAL, invite_id=invite.id))
            store.mark_request_answered(invite.id, FULFILLED, {"pfIds": ids, "channel": PORTAL}, now, connection)
    except IntegrityError:  # a concurrent submission stored the same footprint id first
        raise StoreError("another submission stored the same footprint a moment ago; nothing of this one was "
                         "kept") from None
    return ids

