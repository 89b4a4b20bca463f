"""Deliver outbox messages over HTTP: PACT events with an injected bearer token, or Standard Webhooks.

The transport for each `kind` is a function the application injects (it knows how to authenticate to a
target; this package does not). A 2xx is success; 4xx other than 408/429 is permanent (the receiver refuses
this message: retrying cannot help); anything else (connection errors, timeouts, 5xx, 408, 429) is retried
with backoff by the outbox.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import requests

from .outbound import OutboundRefused, guarded_session
from .outbox import Outbox, OutboxItem
from .signing import sign_headers

RETRYABLE_4XX = (408, 429)


class DeliveryError(Exception):
    """A failed send; `permanent` when retrying cannot succeed."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def post_json(url: str, body: str, headers: dict[str, str], verify: bool | str = True, timeout: float = 15.0) -> None:
    """POST a JSON body; DeliveryError unless the receiver answers 2xx. A target (or redirect) the outbound
    policy refuses is retried like an unreachable one: the operator may allow it, and nothing is lost meanwhile."""
    try:
        with guarded_session() as session:
            response = session.post(url, data=body.encode("utf-8"), headers=headers, verify=verify, timeout=timeout)
    except OutboundRefused as exc:
        raise DeliveryError(f"refused by the outbound policy: {exc}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    if 200 <= response.status_code < 300:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX
    raise DeliveryError(f"{url}: HTTP {response.status_code}: {response.text[:300]}", permanent=permanent)


def standard_webhook_transport(secret_for: Callable[[str], str], verify: bool | str = True) -> Callable[[OutboxItem], None]:
    """Deliver as a Standard Webhooks POST (webhook-id, webhook-timestamp, webhook-signature)."""

    def send(item: OutboxItem) -> None:
        headers = {"Content-Type": "application/json",
                   **sign_headers(secret_for(item.target), item.message_id, datetime.now(timezone.utc), item.body)}
        post_json(item.target, item.body, headers, verify=verify)

    return send


@dataclass
class Deliverer:
    """Sends what is due, records the outcome; `run_once` for `pcf node deliver`, `run` for a server's worker."""

    outbox: Outbox
    transports: dict[str, Callable[[OutboxItem], None]]
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    jitter: Callable[[], float] = random.random

    def run_once(self) -> dict[str, int]:
        """Deliver every due message once; counts of delivered, retrying and dead."""
        counts = {"delivered": 0, "retrying": 0, "dead": 0}
        for item in self.outbox.claim_due(self.clock()):
            transport = self.transports.get(item.kind)
            try:
                if transport is None:
                    raise DeliveryError(f"no transport for messages of kind {item.kind!r}", permanent=True)
                transport(item)
            except DeliveryError as error:
                status = self.outbox.failed(item, str(error), self.clock(), self.jitter(), error.permanent)
                counts["dead" if status == "dead" else "retrying"] += 1
            except Exception as error:  # noqa: BLE001 - a transport bug must not stop the other deliveries
                status = self.outbox.failed(item, f"{error.__class__.__name__}: {error}", self.clock(), self.jitter())
                counts["dead" if status == "dead" else "retrying"] += 1
            else:
                self.outbox.delivered(item, self.clock())
                counts["delivered"] += 1
        return counts

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Deliver until `stop` is set, polling every `interval` seconds."""
        while not stop.is_set():
            self.run_once()
            stop.wait(interval)
