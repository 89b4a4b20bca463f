"""The node's Ed25519 signing key: made once, kept in the node database, published as a JWKS."""

from __future__ import annotations

from exchange.pact.signing import SigningKey

from .storage import NodeStore

KEY_NAME = "signing-key-pem"


def node_signing_key(store: NodeStore) -> SigningKey:
    """This node's key (generated on first use; every worker process reads the same one)."""
    return SigningKey.from_pem(store.secret(KEY_NAME, lambda: SigningKey.generate().to_pem()))
