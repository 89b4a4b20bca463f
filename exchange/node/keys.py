"""The node's signing keys and the organisation they speak for.

A signature from this node means "our organisation computed this footprint", so the node knows whose it is
(`pcf node init --org NAME --company-id URN`: settings `org-name`, `org-company-ids`) and its JWKS says so for every
key (`exchange.pact.signing.bound_jwk`): organisation, company ids, the host serving it, when the key was made and,
once revoked, from when it no longer counts. Keys live in the node database (`signing_keys`): one active key signs,
`rotate_key` replaces it, and every old public key stays in the JWKS so what it signed still verifies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from exchange.pact.signing import SigningKey, bound_jwk

from .storage import NodeStore

ORG_NAME, ORG_COMPANY_IDS = "org-name", "org-company-ids"  # settings
NODE_URL = "node-url"  # the setting `pcf serve` keeps its public URL in


@dataclass(frozen=True)
class NodeIdentity:
    """Whose node this is: what its keys are bound to and which footprints it may sign."""

    name: str | None
    company_ids: tuple[str, ...]
    host: str | None

    def owns(self, company_ids: tuple[str, ...] | list[str]) -> bool:
        """Does a footprint with these companyIds belong to this organisation (any id in common, any case)?"""
        ours = {c.lower() for c in self.company_ids}
        return bool(ours & {c.lower() for c in company_ids})


def node_identity(store: NodeStore) -> NodeIdentity:
    ids = store.setting(ORG_COMPANY_IDS)
    return NodeIdentity(store.setting(ORG_NAME), tuple(json.loads(ids)) if ids else (), store.setting(NODE_URL))


def set_identity(store: NodeStore, name: str | None, company_ids: tuple[str, ...]) -> NodeIdentity:
    """Record the organisation's name and/or company ids (what is not given stays as it was)."""
    if name:
        store.set_setting(ORG_NAME, name)
    if company_ids:
        store.set_setting(ORG_COMPANY_IDS, json.dumps(list(dict.fromkeys(company_ids))))
    return node_identity(store)


def _new_key() -> tuple[str, str]:
    key = SigningKey.generate()
    return key.kid, key.to_pem()


def node_signing_key(store: NodeStore) -> SigningKey:
    """The key that signs now (made on first use, and after the active key was revoked)."""
    _, pem = store.active_signing_key(_new_key, datetime.now(timezone.utc))
    return SigningKey.from_pem(pem)


def rotate_key(store: NodeStore, now: datetime) -> SigningKey:
    """A new active key; the old ones stay in the JWKS for what they signed."""
    key = SigningKey.generate()
    store.rotate_signing_key(key.kid, key.to_pem(), now)
    return key


def node_jwks(store: NodeStore) -> dict:
    """The public JWKS: every key this node made (revoked ones with their revocation time), each bound to the
    organisation. The active key is made first if there is none, so a verifier always finds the current one."""
    node_signing_key(store)
    identity = node_identity(store)
    keys = []
    for stored in store.signing_keys():
        public = SigningKey.from_pem(stored.private_pem).public_jwk()
        keys.append(bound_jwk(public, identity.name, identity.company_ids, identity.host, stored.created,
                              stored.revoked))
    return {"keys": keys}
