"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256), via the
`standardwebhooks` reference library: the sender's `sign_headers` and the receiver's `verify_webhook`."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "new_secret", "sign_headers", "verify_webhook"]


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format (`whsec_` + base64 of 32 random bytes)."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three headers a subscriber needs to authenticate `body`."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())), "webhook-signature": signature}


def verify_webhook(secret: str, headers: dict[str, str], body: bytes | str) -> Any:
    """The parsed JSON body if the signature is valid and fresh (5 min tolerance); WebhookVerificationError otherwise."""
    return Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
