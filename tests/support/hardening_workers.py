"""Worker processes of the concurrency and crash tests: writers publish footprints (straight into the database,
as `pcf node publish` does) and post events to the node; readers page through the node's listing.

Each worker reports through a multiprocessing queue: what was acknowledged, and every error a client saw.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

import requests
import urllib3

from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from tests.support.hardening import footprint_copy


@dataclass
class Report:
    worker: str
    published: list[str] = field(default_factory=list)  # footprint ids whose publish returned
    events: list[str] = field(default_factory=list)  # event ids the node answered 200 to
    listings: list[int] = field(default_factory=list)  # footprints seen by each complete listing
    errors: list[str] = field(default_factory=list)


def published_event(event_id: str, footprint_id: str) -> dict:
    return {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0", "id": event_id,
            "source": "//writer.example", "time": "2026-01-01T00:00:00Z", "data": {"pfIds": [footprint_id]}}


def writer(name: str, db_url: str, base: str, ca: str | bool, token: str, seconds: float, queue) -> None:
    """Publish a footprint, post an event about it, repeat until `seconds` are up."""
    urllib3.disable_warnings()
    report = Report(name)
    store = NodeStore(db_url)
    session = requests.Session()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        footprint = footprint_copy(random.getrandbits(120), product_ids=(f"urn:pact:product:{name}",))
        try:
            publish_footprints(store, [footprint], share_with=("OrgA",))
            report.published.append(footprint.id)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported to the test
            report.errors.append(f"publish: {type(exc).__name__}: {exc}")
        event_id = str(uuid.uuid4())
        try:
            response = session.post(f"{base}/3/events", json=published_event(event_id, footprint.id), verify=ca,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if response.status_code == 200:
                report.events.append(event_id)
            else:
                report.errors.append(f"event: HTTP {response.status_code}: {response.text[:300]}")
        except requests.RequestException as exc:
            report.errors.append(f"event: {type(exc).__name__}: {exc}")
    store.dispose()
    queue.put(report)


def reader(name: str, base: str, ca: str | bool, token: str, seconds: float, queue) -> None:
    """List every footprint visible to OrgA, page by page (limit 50), until `seconds` are up."""
    urllib3.disable_warnings()
    report = Report(name)
    session = requests.Session()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        url, seen = f"{base}/3/footprints?limit=50", 0
        try:
            while url:
                response = session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=30)
                if response.status_code != 200:
                    report.errors.append(f"list: HTTP {response.status_code}: {response.text[:300]}")
                    break
                seen += len(response.json()["data"])
                url = response.links.get("next", {}).get("url")
            else:
                report.listings.append(seen)
        except requests.RequestException as exc:
            report.errors.append(f"list: {type(exc).__name__}: {exc}")
    queue.put(report)
