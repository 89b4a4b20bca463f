"""SIGKILL during publish, outbox delivery and database writes, 20 rounds, on SQLite and PostgreSQL.

Each round starts a real node (`pcf serve`: the Hypercorn server + the outbox delivery process, in its own
process group) and a writer process that publishes batches of footprints (one transaction each, with the
webhook notice in the outbox) and posts events to the node. Once the delivery process is sending this round's notices, at a random moment, both are SIGKILLed, the node's
whole group at once (so the delivery process dies mid-delivery too). Then the database must open, every
acknowledged publish and event must be there, every batch must be all-or-nothing, and each publish must have
exactly one outbox notice. After the last round a node runs until the outbox is drained: the webhook receiver
must have got every notice (duplicates on the wire are allowed: delivery is at-least-once and receivers
deduplicate by webhook-id), so no event is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore, events, footprint_keys, footprints, shares
from pcf.tiers.local_nodes import free_port
from tests.support.hardening import database_url, footprint_copy, seeded_store
from tests.support.hardening_workers import published_event
from webhooks.outbox import outbox

ROUNDS = 20
BATCH = 5
pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float = 60.0, what: str = "a condition") -> None:
    """Poll every 20 ms (the rounds are short: pcf.local_nodes.wait_for's 0.3 s would dominate them)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class WebhookReceiver:
    """Records the webhook-id of every notice it is sent."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.ids[self.headers["webhook-id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_node_group(data_dir: Path, db_url: str) -> tuple[subprocess.Popen, str, str]:
    """`pcf serve` in a new session (process group): master, worker and delivery process die together."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pcf.cli", "serve", "--db", db_url, "--port", str(port), "--self-signed",
         "--deliver-every", "0.05"], env={**os.environ, "PCF_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base, ca = f"https://127.0.0.1:{port}", str(data_dir / "tls" / "cert.pem")

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError("node exited at start")
        try:
            return Path(ca).exists() and requests.get(f"{base}/health", verify=ca, timeout=1).ok
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, what="the node to start")
    return process, base, ca


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def writer_loop(db_url: str, base: str, ca: str, token: str, journal: str) -> None:
    """Publish batches and post events forever; journal each intent and acknowledgement (one line each)."""
    store = NodeStore(db_url)
    session = requests.Session()
    log = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    while True:
        batch = [footprint_copy(random.getrandbits(120), product_ids=("urn:pact:product:crash",)) for _ in range(BATCH)]
        ids = [f.id for f in batch]
        os.write(log, (json.dumps({"intent": ids}) + "\n").encode())
        publish_footprints(store, batch, share_with=("OrgA",))
        os.write(log, (json.dumps({"published": ids}) + "\n").encode())
        event_id = str(uuid.uuid4())
        response = session.post(f"{base}/3/events", json=published_event(event_id, ids[0]), verify=ca,
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code == 200:
            os.write(log, (json.dumps({"event": event_id}) + "\n").encode())


def read_journal(path: Path) -> list[dict]:
    """Complete lines only: the writer may die in the middle of one."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().split("\n")[:-1] if line]


def check_database(store: NodeStore, journal: list[dict], db_kind: str) -> int:
    """Everything acknowledged is there, batches are whole, one outbox notice per publish; returns publishes."""
    store.check_schema()
    with store.engine.connect() as connection:
        if db_kind == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        stored = {row.id: row for row in connection.execute(select(footprints))}
        keyed = set(connection.execute(select(footprint_keys.c.seq).where(footprint_keys.c.kind == "product")).scalars())
        shared = set(connection.execute(select(shares.c.seq)).scalars())
        event_ids = Counter(connection.execute(select(events.c.event_id)).scalars())
        notices = [json.loads(body)["data"]["pfIds"] for body in connection.execute(select(outbox.c.body)).scalars()]
    batches = [entry["intent"] for entry in journal if "intent" in entry]
    published = [entry["published"] for entry in journal if "published" in entry]
    for ids in published:
        assert all(i in stored for i in ids), "an acknowledged publish is missing"
    present = 0
    for ids in batches:
        here = [i in stored for i in ids]
        assert all(here) or not any(here), f"half-written batch: {here}"
        present += all(here)
    for row in stored.values():
        assert json.loads(row.v3_json)["id"] == row.id and row.seq in keyed, "half a record"
        assert row.public or row.seq in shared, "a private footprint without its shares"
    assert sorted(map(sorted, notices)) == sorted(sorted(ids) for ids in batches if ids[0] in stored)
    acknowledged = [entry["event"] for entry in journal if "event" in entry]
    assert all(event_ids[e] == 1 for e in acknowledged) and max(event_ids.values(), default=1) == 1
    return present


def undelivered(store: NodeStore) -> int:
    with store.engine.connect() as connection:
        return len(connection.execute(select(outbox.c.pk).where(outbox.c.status != "delivered")).all())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_sigkill_in_a_loop_loses_and_half_writes_nothing(kind, tmp_path):
    db_url, cleanup = database_url(kind, tmp_path)
    store, _ = seeded_store(db_url)
    receiver = WebhookReceiver()
    store.add_subscription(receiver.url, "whsec_" + "A" * 32)
    journal_path = tmp_path / "journal.ndjson"
    rng = random.Random(20261125)
    try:
        for _ in range(ROUNDS):
            node, base, ca = start_node_group(tmp_path, db_url)
            token = requests.post(f"{base}/auth/token", data={"grant_type": "client_credentials"},
                                  auth=("a", "a-secret"), verify=ca, timeout=10).json()["access_token"]
            pid = os.fork()
            if pid == 0:  # the writer: a forked child, killed below, never returns
                try:
                    writer_loop(db_url, base, ca, token, str(journal_path))
                finally:
                    os._exit(1)
            # kill while all three are busy: the writer publishing, the node recording events, and the delivery
            # process (which needs a moment to start) sending this round's notices
            delivered_before = sum(receiver.ids.values())
            wait_for(lambda: sum(receiver.ids.values()) > delivered_before, timeout=60, what="delivery to run")
            time.sleep(rng.uniform(0.0, 0.5))
            os.kill(pid, signal.SIGKILL)
            kill_group(node)
            os.waitpid(pid, 0)
            after = NodeStore(db_url)  # a fresh open, as a restarted node would
            try:
                check_database(after, read_journal(journal_path), kind)
            finally:
                after.dispose()

        node, base, ca = start_node_group(tmp_path, db_url)  # a last, undisturbed run drains the outbox
        try:
            wait_for(lambda: not undelivered(store), timeout=60, what="the outbox to drain")
        finally:
            kill_group(node)
        journal = read_journal(journal_path)
        publishes = check_database(store, journal, kind)
        with store.engine.connect() as connection:
            message_ids = set(connection.execute(select(outbox.c.message_id)).scalars())
        assert set(receiver.ids) == message_ids and len(message_ids) == publishes  # none lost, none extra
        assert publishes >= ROUNDS and sum(1 for e in journal if "event" in e) >= ROUNDS // 2  # real work was cut
        wire_repeats = sum(receiver.ids.values()) - len(receiver.ids)
        print(f"{kind}: {ROUNDS} rounds, {publishes} batches stored, {len(message_ids)} notices delivered "
              f"({wire_repeats} re-sent after a kill, deduplicated by webhook-id)")
    finally:
        receiver.close()
        store.dispose()
        cleanup()
